"""The transcript of a login test, with credentials redacted where each line is written.

Two layers keep passwords and tokens out of the transcript and the log:

1. Structure: the IMAP ``LOGIN`` and ``AUTHENTICATE`` commands, the SMTP ``AUTH``
   command and every client response inside a SASL exchange are rewritten
   before they are stored. The user name stays visible, because a ticket needs it.
2. Values: every form of a protected secret (the text, its base64 and each SASL
   payload's base64) is replaced by a mask in any line, from either side, in case
   a server echoes it or a command carries it somewhere unexpected.

Each stored line is also logged at DEBUG on the ``toolkit.login.transcript`` logger.
"""

from __future__ import annotations

import base64
import logging
import re

from toolkit.probe.dialogs import decode
from toolkit.probe.results import TranscriptLine
from toolkit.secret import MASK

logger = logging.getLogger(__name__)

# Lines kept per transcript and characters per line, so a hostile server cannot fill memory.
MAX_LINES = 400
MAX_CHARS = 400
# Secrets shorter than this are not searched for in lines, because masking every
# occurrence of a two-letter string would garble the transcript. The structural
# layer still redacts them.
MIN_SCRUB_LENGTH = 4

_IMAP_COMMAND = re.compile(r"(?P<tag>\S+) (?P<command>LOGIN|AUTHENTICATE)\b(?P<rest>.*)\Z", re.I)
_SMTP_AUTH = re.compile(r"AUTH (?P<mechanism>\S+)(?P<initial> \S+)?\s*\Z", re.I)
# Client responses that carry no secret: an empty response, a cancel ("*", RFC 9051
# section 6.2.2 and RFC 4954 section 4) and the OAUTHBEARER error acknowledgement.
_HARMLESS_RESPONSES = {"": "(empty response)", "*": "* (cancel)", "AQ==": "AQ== (0x01)"}


class Transcript:
    """The lines of one login conversation, redacted, bounded and logged as they are written."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._lines: list[TranscriptLine] = []
        self._protected: set[str] = set()
        self._sasl_tag: str | None = None
        self._sasl_smtp = False

    @property
    def lines(self) -> tuple[TranscriptLine, ...]:
        """The redacted lines so far, ``C`` for the client and ``S`` for the server."""
        return tuple(self._lines)

    def protect(self, secret: str | bytes) -> None:
        """Mask every later occurrence of `secret` and of its base64 forms in any line."""
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw) < MIN_SCRUB_LENGTH:
            return
        text = raw.decode("utf-8", errors="replace")
        self._protected.add(text)
        # Quoted-string escaping (RFC 9051 section 4.3) changes '"' and '\' inside LOGIN.
        self._protected.add(text.replace("\\", "\\\\").replace('"', '\\"'))
        # Inside a longer base64 string the secret's encoding depends on its byte offset,
        # so the part that is stable at each of the three offsets is masked too.
        for offset in range(3):
            encoded = base64.b64encode(b"\x00" * offset + raw).decode("ascii")
            start = 4 if offset else 0
            end = len(encoded) - 4 if len(encoded) > 8 else len(encoded)
            middle = encoded[start:end]
            if len(middle) >= MIN_SCRUB_LENGTH:
                self._protected.add(middle)
        self._protected.add(base64.b64encode(raw).decode("ascii"))

    def record(self, direction: str, line: bytes) -> None:
        """Store one line as sent (``C``) or received (``S``), after redaction."""
        text = decode(line)
        shown = self._client_text(text) if direction == "C" else self._server_text(text)
        shown = self._scrub(shown)[:MAX_CHARS]
        if len(self._lines) < MAX_LINES:
            self._lines.append(TranscriptLine(direction, shown))
        logger.debug("%s %s: %s", self.label, direction, shown)

    def note(self, text: str) -> None:
        """Store a line written by the toolkit itself, such as the start of TLS."""
        shown = self._scrub(text)[:MAX_CHARS]
        if len(self._lines) < MAX_LINES:
            self._lines.append(TranscriptLine("*", shown))
        logger.debug("%s *: %s", self.label, shown)

    def _client_text(self, text: str) -> str:
        if self._sasl_tag is not None or self._sasl_smtp:
            return _HARMLESS_RESPONSES.get(text, "[SASL response redacted]")
        smtp = _SMTP_AUTH.match(text)
        if smtp is not None:
            self._sasl_smtp = True
            initial = " [initial response redacted]" if smtp["initial"] else ""
            return f"AUTH {smtp['mechanism'].upper()}{initial}"
        # Checked after SMTP AUTH, whose "AUTH LOGIN" would read as an IMAP tag and command.
        imap = _IMAP_COMMAND.match(text)
        if imap is not None:
            tag, command = imap["tag"], imap["command"].upper()
            if command == "LOGIN":
                return f"{tag} LOGIN {_login_user(imap['rest'])} [password redacted]"
            self._sasl_tag = tag
            words = imap["rest"].split()
            mechanism = words[0].upper() if words else ""
            initial = " [initial response redacted]" if len(words) > 1 else ""
            return f"{tag} AUTHENTICATE {mechanism}{initial}"
        return text

    def _server_text(self, text: str) -> str:
        if self._sasl_tag is not None:
            if text.startswith(self._sasl_tag + " "):
                self._sasl_tag = None
            elif text.startswith("+"):
                return _with_decoded(text, text[1:])
        elif self._sasl_smtp:
            if text.startswith("334"):
                return _with_decoded(text, text[4:])
            if text[3:4] != "-":
                self._sasl_smtp = False
        return text

    def _scrub(self, text: str) -> str:
        # Sorted by length, longest first, so a payload's base64 is masked whole before a part.
        for secret in sorted(self._protected, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def _login_user(rest: str) -> str:
    """Return the first argument of an IMAP LOGIN command as sent, or a placeholder."""
    rest = rest.strip()
    if rest.startswith('"'):
        index = 1
        while index < len(rest):
            if rest[index] == "\\":
                index += 2
                continue
            if rest[index] == '"':
                return rest[: index + 1]
            index += 1
        return "[user]"
    return rest.split(" ", 1)[0] if rest else "[user]"


def _with_decoded(text: str, encoded: str) -> str:
    """Show a server challenge with its decoded text when that is printable."""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:
        return text
    if not decoded or not decoded.isprintable():
        return text
    return f"{text} (decoded: {decoded})"
