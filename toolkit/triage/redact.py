"""A second redaction pass over everything a triage keeps, for the secrets of its entries.

The login transcripts are redacted where each line is written
(`toolkit.login.transcript`), and probes send no credentials. This pass masks
any remaining trace of a password or token in every text a triage stores:
summaries, findings, transcripts and step data. It is written here because the
login transcript's masking works line by line on its own transcript only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from toolkit.findings import Finding
from toolkit.secret import MASK
from toolkit.settings import ServerSettings

# Shorter secrets are not searched for, because masking every occurrence of a very
# short string would garble the report. The same limit applies in login transcripts.
MIN_LENGTH = 4


class Redactor:
    """Masks the passwords and tokens of some entries, raw and in their base64 forms."""

    def __init__(self, servers: Iterable[ServerSettings]) -> None:
        forms: set[str] = set()
        for server in servers:
            for secret in (server.password, server.token):
                if secret:
                    forms |= _forms(secret.reveal(), server.user)
        # Sorted by decreasing length, so a whole payload is masked before a part of it.
        self._forms = sorted(forms, key=len, reverse=True)

    def text(self, value: str) -> str:
        """Return `value` with every form of a secret replaced by the mask."""
        for form in self._forms:
            if form in value:
                value = value.replace(form, MASK)
        return value

    def data(self, value: Any) -> Any:
        """Return a copy of JSON-ready data with every string redacted, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        return value

    def finding(self, finding: Finding) -> Finding:
        """Return the finding with its texts redacted."""
        return replace(
            finding,
            message=self.text(finding.message),
            fix=self.text(finding.fix),
            field=self.text(finding.field),
        )


def _forms(secret: str, user: str) -> set[str]:
    """Return the secret and the encodings of it that a protocol line or log could carry."""
    raw = secret.encode("utf-8")
    if len(raw) < MIN_LENGTH:
        return set()
    forms = {secret, secret.replace("\\", "\\\\").replace('"', '\\"')}
    # Inside a longer base64 string the secret's encoding depends on its byte offset,
    # so the part that is the same at each of the three offsets is masked too.
    for offset in range(3):
        encoded = base64.b64encode(b"\x00" * offset + raw).decode("ascii")
        start = 4 if offset else 0
        end = len(encoded) - 4 if len(encoded) > 8 else len(encoded)
        if end - start >= MIN_LENGTH:
            forms.add(encoded[start:end])
    forms.add(base64.b64encode(raw).decode("ascii"))
    # The SASL payloads that carry it: PLAIN (RFC 4616) and XOAUTH2.
    plain = b"\x00" + user.encode("utf-8") + b"\x00" + raw
    xoauth2 = b"user=" + user.encode("utf-8") + b"\x01auth=Bearer " + raw + b"\x01\x01"
    forms.add(base64.b64encode(plain).decode("ascii"))
    forms.add(base64.b64encode(xoauth2).decode("ascii"))
    return forms
