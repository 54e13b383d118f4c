"""The forms in which a canary secret could leak: raw, base64 at each offset, inside XOAUTH2."""

from __future__ import annotations

import base64
from collections.abc import Iterable


def leaked_forms(secret: str, user: str = "user@example.test") -> list[str]:
    """Return the secret as text and the parts of its encodings that any leak would contain.

    Inside a longer base64 string the encoding of the secret depends on its byte
    offset, so the stable middle of each of the three alignments is included. The
    base64 of the XOAUTH2 and PLAIN strings that carry the secret are included too.
    """
    raw = secret.encode()
    forms = [secret]
    for offset in range(3):
        encoded = base64.b64encode(b"x" * offset + raw).decode()
        forms.append(encoded[4 if offset else 0 : -4])
    xoauth2 = f"user={user}\x01auth=Bearer {secret}\x01\x01".encode()
    forms.append(base64.b64encode(xoauth2).decode())
    forms.append(base64.b64encode(b"\x00" + user.encode() + b"\x00" + raw).decode())
    return [form for form in forms if len(form) >= 8]


def assert_absent(secret: str, texts: Iterable[str], user: str = "user@example.test") -> None:
    """Fail naming the form and the place when any form of `secret` occurs in `texts`."""
    forms = leaked_forms(secret, user)
    for number, text in enumerate(texts):
        for form in forms:
            assert form not in text, f"a form of the secret appears in output number {number}"
