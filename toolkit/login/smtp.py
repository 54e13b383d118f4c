"""The SMTP commands of a login test: AUTH (RFC 4954) and QUIT.

The greeting, EHLO and STARTTLS come from `toolkit.probe.dialogs`. This module
sends credentials, so every line goes through the `Transcript`, which redacts
it before it is stored or logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from toolkit.login import sasl
from toolkit.login.results import AuthReply
from toolkit.login.sasl import Mechanism
from toolkit.login.transcript import Transcript
from toolkit.probe.dialogs import MAX_REPLY_LINES, DialogError, decode
from toolkit.probe.transport import Transport

# RFC 4954 section 4: a server accepts AUTH command lines of up to 12288 octets. A
# longer initial response is sent after the server's first 334 challenge instead.
MAX_AUTH_LINE = 12288


class SmtpLogin:
    """AUTH on an SMTP connection that is past its greeting and EHLO."""

    def __init__(self, transport: Transport, transcript: Transcript, read_timeout: float) -> None:
        self._transport = transport
        self._transcript = transcript
        self._read_timeout = read_timeout

    def authenticate(self, mechanism: Mechanism, responses: Sequence[bytes]) -> AuthReply:
        """Run ``AUTH`` with the client responses in order and return the final reply.

        The first response goes on the command line as the initial response, except
        for LOGIN, which sends the user name and the password after the server's
        two 334 challenges. A 334 challenge after the last response is a token error for
        XOAUTH2 and OAUTHBEARER; its JSON is kept and the exchange is ended as the
        mechanism requires. For other mechanisms it is cancelled with ``*``.
        """
        deadline = time.monotonic() + self._read_timeout
        pending = [sasl.b64(response) for response in responses]
        command = b"AUTH " + mechanism.value.encode("ascii")
        if mechanism is not Mechanism.LOGIN and pending:
            initial = pending[0] or b"="  # RFC 4954 section 4: "=" is an empty initial response
            if len(command) + 1 + len(initial) + 2 <= MAX_AUTH_LINE:
                command += b" " + initial
                pending.pop(0)
        self._send(command, deadline)
        token_error: dict[str, str] = {}
        challenges = 0
        while True:
            code, lines = self._reply(deadline, "authenticate")
            text = reply_text(lines)
            if code != b"334":
                return AuthReply(code.startswith(b"2"), text, code.startswith(b"4"), token_error)
            challenges += 1
            if pending:
                self._send(pending.pop(0), deadline)
            elif mechanism.uses_token and challenges <= sasl.MAX_CHALLENGES:
                challenge = sasl.decode_challenge(decode(lines[-1])[4:])
                token_error = sasl.token_error(challenge or b"") or token_error
                ack = sasl.OAUTHBEARER_ERROR_ACK if mechanism is Mechanism.OAUTHBEARER else b""
                self._send(sasl.b64(ack), deadline)
            else:
                self._send(b"*", deadline)

    def quit(self, deadline: float) -> None:
        """Send QUIT and read the server's reply (221, RFC 5321 section 4.1.1.10)."""
        self._send(b"QUIT", deadline, "quit")
        self._reply(deadline, "quit")

    def _send(self, line: bytes, deadline: float, stage: str = "authenticate") -> None:
        self._transcript.record("C", line)
        self._transport.send(line + b"\r\n", deadline=deadline, stage=stage)

    def _reply(self, deadline: float, stage: str) -> tuple[bytes, list[bytes]]:
        """Read one complete reply, with every line of a multi-line one (RFC 5321 4.2.1)."""
        lines: list[bytes] = []
        for _ in range(MAX_REPLY_LINES):
            line = self._transport.read_line(deadline=deadline, stage=stage)
            self._transcript.record("S", line)
            code = line[:3]
            if not code.isdigit() or (lines and code != lines[0][:3]):
                raise DialogError("the reply is not an SMTP reply", decode(line))
            lines.append(line)
            if line[3:4] != b"-":
                return code, lines
        raise DialogError(f"more than {MAX_REPLY_LINES} lines in one reply")


_ENHANCED_CODE = re.compile(r"\d\.\d{1,3}\.\d{1,3} ")


def reply_text(lines: list[bytes]) -> str:
    """Join a multi-line reply into one sentence, keeping the codes of its first line only.

    Each line of a multi-line reply repeats the reply code, and usually the
    enhanced status code (RFC 5321 section 4.2.1, RFC 3463), which would otherwise
    land in the middle of the quoted text.
    """
    first = decode(lines[0])
    parts = [first]
    for line in lines[1:]:
        text = decode(line)[4:]
        parts.append(_ENHANCED_CODE.sub("", text, count=1) if _ENHANCED_CODE.match(text) else text)
    return " ".join(part.strip() for part in parts if part.strip())
