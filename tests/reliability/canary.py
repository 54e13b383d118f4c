"""Search outputs for canary secrets in every form a leak could take.

A password or token can leak as itself, as base64 (inside a longer base64 string
its encoding depends on its byte offset, so the stable middle of each of the
three alignments is searched), or inside the SASL strings that carry it: XOAUTH2
(``user=U^Aauth=Bearer T^A^A``) and PLAIN (``\\0user\\0password``), both base64.
Reports name the form and the place, never the secret.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# Shorter fragments could match by chance in unrelated base64 such as a certificate.
MIN_FORM_LENGTH = 8


@dataclass(frozen=True)
class Form:
    """One way a secret can appear: a name for reports and the text to search for."""

    name: str
    text: str


def secret_forms(secret: str, user: str) -> list[Form]:
    """Return the searchable forms of `secret` for a login as `user`."""
    raw = secret.encode("utf-8")
    forms = [Form("raw", secret)]
    for offset in range(3):
        encoded = base64.b64encode(b"\x00" * offset + raw).decode("ascii")
        start = 4 if offset else 0
        forms.append(Form(f"base64 at offset {offset}", encoded[start:-4]))
    xoauth2 = f"user={user}\x01auth=Bearer {secret}\x01\x01".encode()
    forms.append(Form("XOAUTH2 string, base64", base64.b64encode(xoauth2).decode("ascii")))
    plain = b"\x00" + user.encode() + b"\x00" + raw
    forms.append(Form("PLAIN response, base64", base64.b64encode(plain).decode("ascii")))
    return [form for form in forms if len(form.text) >= MIN_FORM_LENGTH]


def find_leaks(
    texts: Mapping[str, str] | Sequence[str], secrets: Iterable[str], user: str
) -> list[str]:
    """Return one line per form of a secret found in `texts`, naming the form and the place.

    `texts` maps a place (a file, a stream, a log) to its text; a plain sequence is
    numbered instead. Secrets are numbered, so a report never contains one.
    """
    places = texts if isinstance(texts, Mapping) else {f"text {i}": t for i, t in enumerate(texts)}
    found = []
    for number, secret in enumerate(secrets):
        for form in secret_forms(secret, user):
            for place, text in places.items():
                if form.text in text:
                    found.append(f"secret {number} as {form.name} in {place}")
    return found


def read_tree(folder: Path) -> dict[str, str]:
    """Return every file below `folder` by its relative path, decoded as Latin-1.

    Latin-1 maps every byte to one character, so binary files are searched too.
    """
    return {
        str(path.relative_to(folder)): path.read_bytes().decode("latin-1")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
