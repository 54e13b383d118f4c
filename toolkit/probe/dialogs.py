"""The few IMAP and SMTP exchanges a probe needs: greeting, capabilities, STARTTLS, goodbye.

These are written here rather than taken from imaplib, smtplib or imapclient
because the probe must see what those clients hide: the raw greeting of a server
that speaks the other protocol, bytes sent after the STARTTLS go-ahead, and a
deadline on every read. No credentials are ever sent from this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from toolkit.probe.transport import Transport

# A server that keeps sending untagged lines or reply continuations is cut off after
# this many lines, so a hostile server cannot keep the probe reading forever.
MAX_REPLY_LINES = 1000
_TAG_CAPABILITY = b"p1"
_TAG_STARTTLS = b"p2"
_TAG_LOGOUT = b"p3"


class DialogError(Exception):
    """The server's reply did not follow the protocol; `server_text` quotes it."""

    def __init__(self, message: str, server_text: str = "") -> None:
        super().__init__(message)
        self.server_text = server_text


class ServerClosing(DialogError):
    """The server announced it is closing the session: IMAP ``* BYE`` or SMTP 421.

    RFC 9051 section 7.1.5 allows BYE at any time, and RFC 5321 section 3.8 allows
    421 in reply to any command, for example when the server has too many connections.
    """


@dataclass(frozen=True)
class Greeting:
    """The first thing a server sent, classified."""

    text: str
    accepted: bool
    unavailable: bool
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandReply:
    """The outcome of one command: whether the server accepted it, and its words."""

    accepted: bool
    text: str
    capabilities: tuple[str, ...] = ()


Record = Callable[[str, bytes], None]


class Dialog(Protocol):
    """The exchanges a probe runs, the same for IMAP and SMTP."""

    name: str

    def greeting(self, first_line: bytes, deadline: float) -> Greeting: ...

    def capabilities(self, deadline: float, stage: str) -> CommandReply: ...

    def starttls(self, deadline: float, stage: str) -> CommandReply: ...

    def goodbye(self, deadline: float) -> None: ...


def decode(line: bytes) -> str:
    """Decode a protocol line for display, without CRLF; bytes that are not UTF-8 are escaped."""
    return line.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")


def looks_like_tls(data: bytes) -> bool:
    """Return whether bytes start like a TLS record: handshake (22) or alert (21), version 3.x."""
    return len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03


def other_protocol_name(line: bytes, expected: str) -> str | None:
    """Name the protocol a greeting belongs to when it is not `expected` (``imap`` or ``smtp``)."""
    if expected == "imap" and line[:3].isdigit() and line[3:4] in (b" ", b"-", b"\r", b"\n"):
        return "SMTP"
    if expected == "smtp" and line.startswith(b"* "):
        return "IMAP"
    if line.startswith(b"+OK"):
        return "POP3"
    if line.startswith(b"HTTP/"):
        return "HTTP"
    if line.startswith(b"SSH-"):
        return "SSH"
    return None


class ImapDialog:
    """Greeting, CAPABILITY, STARTTLS and LOGOUT of RFC 9051 and RFC 3501."""

    name = "imap"

    def __init__(self, transport: Transport, record: Record) -> None:
        self._transport = transport
        self._record = record

    def greeting(self, first_line: bytes, deadline: float) -> Greeting:
        """Classify the untagged greeting: OK or PREAUTH accept, BYE refuses (RFC 9051 7.1)."""
        text = decode(first_line)
        upper = first_line.upper()
        capabilities = _bracketed_capabilities(text)
        if upper.startswith(b"* OK") or upper.startswith(b"* PREAUTH"):
            return Greeting(text, accepted=True, unavailable=False, capabilities=capabilities)
        if upper.startswith(b"* BYE"):
            return Greeting(text, accepted=False, unavailable=True)
        raise DialogError("the greeting is not an IMAP greeting", text)

    def capabilities(self, deadline: float, stage: str) -> CommandReply:
        """Send CAPABILITY and return the listed capabilities."""
        lines = self._command(_TAG_CAPABILITY, b"CAPABILITY", deadline, stage)
        capabilities: list[str] = []
        for line in lines[:-1]:
            if line.upper().startswith(b"* CAPABILITY "):
                capabilities += decode(line)[len("* CAPABILITY ") :].split()
        accepted = _tagged_ok(lines[-1], _TAG_CAPABILITY)
        return CommandReply(accepted, decode(lines[-1]), tuple(capabilities))

    def starttls(self, deadline: float, stage: str) -> CommandReply:
        """Send STARTTLS and return whether the server agreed to start the handshake."""
        lines = self._command(_TAG_STARTTLS, b"STARTTLS", deadline, stage)
        return CommandReply(_tagged_ok(lines[-1], _TAG_STARTTLS), decode(lines[-1]))

    def goodbye(self, deadline: float) -> None:
        """Send LOGOUT without waiting for the reply."""
        self._send(_TAG_LOGOUT + b" LOGOUT", deadline, "logout")

    def _send(self, command: bytes, deadline: float, stage: str) -> None:
        self._record("C", command)
        self._transport.send(command + b"\r\n", deadline=deadline, stage=stage)

    def _command(self, tag: bytes, command: bytes, deadline: float, stage: str) -> list[bytes]:
        self._send(tag + b" " + command, deadline, stage)
        lines: list[bytes] = []
        for _ in range(MAX_REPLY_LINES):
            line = self._transport.read_line(deadline=deadline, stage=stage)
            self._record("S", line)
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines
            if line.upper().startswith(b"* BYE"):
                raise ServerClosing("the server ended the session", decode(line))
            if not line.startswith(b"*"):
                raise DialogError(f"unexpected reply to {command.decode()}", decode(line))
        raise DialogError(f"more than {MAX_REPLY_LINES} lines in reply to {command.decode()}")


class SmtpDialog:
    """Greeting, EHLO, STARTTLS and QUIT of RFC 5321 and RFC 3207."""

    name = "smtp"

    def __init__(self, transport: Transport, record: Record, client_name: str) -> None:
        self._transport = transport
        self._record = record
        self._client_name = client_name.encode("ascii")

    def greeting(self, first_line: bytes, deadline: float) -> Greeting:
        """Classify the greeting: 220 accepts, 421 or 554 refuse (RFC 5321 3.1 and 4.2.3)."""
        code = first_line[:3]
        lines = [first_line]
        if first_line[3:4] == b"-":
            lines += self._reply_rest(code, deadline, "greeting")
        text = " / ".join(decode(line) for line in lines)
        if code == b"220":
            return Greeting(text, accepted=True, unavailable=False)
        if code in (b"421", b"554"):
            return Greeting(text, accepted=False, unavailable=True)
        raise DialogError("the greeting is not an SMTP greeting", text)

    def capabilities(self, deadline: float, stage: str) -> CommandReply:
        """Send EHLO and return the extension keywords with their parameters."""
        code, lines = self._command(b"EHLO " + self._client_name, deadline, stage)
        text = " / ".join(decode(line) for line in lines)
        if code != b"250":
            return CommandReply(False, text)
        keywords = tuple(decode(line)[4:].strip() for line in lines[1:])
        return CommandReply(True, text, keywords)

    def starttls(self, deadline: float, stage: str) -> CommandReply:
        """Send STARTTLS; 220 is the go-ahead (RFC 3207 section 4)."""
        code, lines = self._command(b"STARTTLS", deadline, stage)
        return CommandReply(code == b"220", " / ".join(decode(line) for line in lines))

    def goodbye(self, deadline: float) -> None:
        """Send QUIT without waiting for the reply."""
        self._record("C", b"QUIT")
        self._transport.send(b"QUIT\r\n", deadline=deadline, stage="quit")

    def _command(self, command: bytes, deadline: float, stage: str) -> tuple[bytes, list[bytes]]:
        self._record("C", command)
        self._transport.send(command + b"\r\n", deadline=deadline, stage=stage)
        first = self._transport.read_line(deadline=deadline, stage=stage)
        self._record("S", first)
        code = first[:3]
        if not code.isdigit():
            raise DialogError(f"unexpected reply to {command.decode()}", decode(first))
        lines = [first]
        if first[3:4] == b"-":
            lines += self._reply_rest(code, deadline, stage)
        if code == b"421":
            raise ServerClosing(
                f"the server is closing the session in reply to {command.decode()}",
                " / ".join(decode(line) for line in lines),
            )
        return code, lines

    def _reply_rest(self, code: bytes, deadline: float, stage: str) -> list[bytes]:
        lines: list[bytes] = []
        for _ in range(MAX_REPLY_LINES):
            line = self._transport.read_line(deadline=deadline, stage=stage)
            self._record("S", line)
            if line[:3] != code:
                raise DialogError("a multi-line reply changed its code", decode(line))
            lines.append(line)
            if line[3:4] != b"-":
                return lines
        raise DialogError(f"more than {MAX_REPLY_LINES} lines in one reply")


def _bracketed_capabilities(text: str) -> tuple[str, ...]:
    upper = text.upper()
    start = upper.find("[CAPABILITY ")
    if start < 0:
        return ()
    end = text.find("]", start)
    if end < 0:
        return ()
    return tuple(text[start + len("[CAPABILITY ") : end].split())


def _tagged_ok(line: bytes, tag: bytes) -> bool:
    return line.upper().startswith(tag.upper() + b" OK")
