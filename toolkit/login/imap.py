"""The IMAP commands of a login test: LOGIN, AUTHENTICATE, EXAMINE and LOGOUT (RFC 9051).

The greeting, CAPABILITY and STARTTLS come from `toolkit.probe.dialogs`. This
module sends credentials, so every line goes through the `Transcript`, which
redacts it before it is stored or logged.
"""

from __future__ import annotations

import time

from toolkit.login import sasl
from toolkit.login.results import AuthReply
from toolkit.login.sasl import Mechanism
from toolkit.login.transcript import Transcript
from toolkit.probe.dialogs import MAX_REPLY_LINES, DialogError, decode
from toolkit.probe.transport import Transport


class ImapLogin:
    """LOGIN or AUTHENTICATE on an IMAP connection that is past its greeting."""

    def __init__(self, transport: Transport, transcript: Transcript, read_timeout: float) -> None:
        self._transport = transport
        self._transcript = transcript
        self._read_timeout = read_timeout
        self._counter = 0

    def login_command(self, user: str, password: str) -> AuthReply:
        """Send ``LOGIN user password`` with quoted strings and return the tagged reply.

        The caller has checked with `sasl.encoding_problem` that both fit a quoted string.
        """
        tag = self._next_tag()
        deadline = self._deadline()
        line = tag + b" LOGIN " + sasl.imap_quoted(user) + b" " + sasl.imap_quoted(password)
        self._send(line, deadline, "authenticate")
        status, text = self._tagged_reply(tag, deadline, "authenticate")
        return _auth_reply(status, text)

    def authenticate(self, mechanism: Mechanism, response: bytes, *, sasl_ir: bool) -> AuthReply:
        """Run ``AUTHENTICATE`` with one client response and return the tagged reply.

        With `sasl_ir` (the server lists SASL-IR, RFC 4959) the response goes on the
        command line; otherwise it is sent after the server's first continuation. A later
        challenge to an OAuth2 mechanism is a token error: its JSON is kept and the
        exchange is ended as the mechanism requires. Any other extra challenge is
        cancelled with ``*``.
        """
        tag = self._next_tag()
        deadline = self._deadline()
        encoded = sasl.b64(response)
        command = tag + b" AUTHENTICATE " + mechanism.value.encode("ascii")
        if sasl_ir:
            # RFC 4959 section 3: "=" stands for an empty initial response.
            self._send(command + b" " + (encoded or b"="), deadline, "authenticate")
        else:
            self._send(command, deadline, "authenticate")
        sent = sasl_ir
        token_error: dict[str, str] = {}
        challenges = 0
        for _ in range(MAX_REPLY_LINES):
            line = self._read(deadline, "authenticate")
            if line.startswith(tag + b" "):
                status, text = _status(line, tag)
                return _auth_reply(status, text, token_error)
            if not line.startswith(b"+"):
                self._check_untagged(line)
                continue
            challenges += 1
            if not sent:
                self._send(encoded, deadline, "authenticate")
                sent = True
            elif mechanism.uses_token and challenges <= sasl.MAX_CHALLENGES:
                challenge = sasl.decode_challenge(decode(line)[1:])
                token_error = sasl.token_error(challenge or b"") or token_error
                self._send(sasl.b64(_error_ack(mechanism)), deadline, "authenticate")
            else:
                self._send(b"*", deadline, "authenticate")
        raise DialogError(f"more than {MAX_REPLY_LINES} lines in reply to AUTHENTICATE")

    def examine_inbox(self) -> AuthReply:
        """Open INBOX read-only with EXAMINE, which changes nothing in the mailbox."""
        tag = self._next_tag()
        deadline = self._deadline()
        self._send(tag + b" EXAMINE INBOX", deadline, "mailbox")
        status, text = self._tagged_reply(tag, deadline, "mailbox")
        return AuthReply(status == "OK", text)

    def logout(self, deadline: float) -> None:
        """Send LOGOUT and read until the tagged reply or the end of the connection."""
        tag = self._next_tag()
        self._send(tag + b" LOGOUT", deadline, "logout")
        for _ in range(MAX_REPLY_LINES):
            line = self._read(deadline, "logout")
            if line.startswith(tag + b" "):
                return

    def _next_tag(self) -> bytes:
        self._counter += 1
        return f"L{self._counter}".encode("ascii")

    def _deadline(self) -> float:
        return time.monotonic() + self._read_timeout

    def _send(self, line: bytes, deadline: float, stage: str) -> None:
        self._transcript.record("C", line)
        self._transport.send(line + b"\r\n", deadline=deadline, stage=stage)

    def _read(self, deadline: float, stage: str) -> bytes:
        line = self._transport.read_line(deadline=deadline, stage=stage)
        self._transcript.record("S", line)
        return line

    def _tagged_reply(self, tag: bytes, deadline: float, stage: str) -> tuple[str, str]:
        for _ in range(MAX_REPLY_LINES):
            line = self._read(deadline, stage)
            if line.startswith(tag + b" "):
                return _status(line, tag)
            if line.startswith(b"+"):
                # A continuation here means the server waits for a literal; cancel.
                self._send(b"*", deadline, stage)
                continue
            self._check_untagged(line)
        raise DialogError(f"more than {MAX_REPLY_LINES} lines in one reply")

    @staticmethod
    def _check_untagged(line: bytes) -> None:
        if line.upper().startswith(b"* BYE"):
            raise DialogError("the server ended the session", decode(line))


def _status(line: bytes, tag: bytes) -> tuple[str, str]:
    """Split a tagged reply into its status (OK, NO, BAD) and the text after the tag."""
    text = decode(line)[len(tag) + 1 :]
    return text.split(" ", 1)[0].upper(), text


def _auth_reply(status: str, text: str, token_error: dict[str, str] | None = None) -> AuthReply:
    # RFC 5530 section 3: [UNAVAILABLE] means a temporary failure of the authentication service.
    temporary = status == "NO" and "[UNAVAILABLE]" in text.upper()
    return AuthReply(status == "OK", text, temporary, dict(token_error or {}))


def _error_ack(mechanism: Mechanism) -> bytes:
    if mechanism is Mechanism.OAUTHBEARER:
        return sasl.OAUTHBEARER_ERROR_ACK
    return sasl.XOAUTH2_ERROR_ACK
