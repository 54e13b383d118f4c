"""An imapclient connection with a deadline per command and a limit on literal sizes.

imaplib (Python 3.11) applies its socket timeout to each receive call, so a server
that sends one byte a second, or untagged lines without end, keeps a session
open for ever. It also reads a literal with one ``read(size)`` call, and
``BufferedReader.read`` allocates `size` bytes before any byte arrives, so a
server that announces ``{2147483648}`` makes the client allocate 2 GB.

`BoundedIMAPClient` replaces imaplib's reading with its own buffer:

- the greeting must arrive within `Limits.greeting` seconds of connecting, and
  each command's whole reply within `Limits.step` seconds of sending it;
- a literal larger than `MAX_LITERAL` ends the session as a protocol error,
  before anything is allocated for it;
- a line longer than imaplib's own limit ends it as a protocol error as well.

Bytes that arrive after the STARTTLS go-ahead and before the TLS handshake are
dropped when the socket is replaced, as RFC 3207 section 6 requires.

NOTE: the TCP connect and the TLS handshake still run under the socket timeout
only, so a server that sends its handshake one byte at a time can make them
last longer than their time limit.
"""

from __future__ import annotations

import imaplib
import ssl
import time
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.tls import IMAP4_TLS

from toolkit.folders.errors import SessionFailure
from toolkit.folders.model import ListingReason

# A folder session reads folder names, namespaces and capabilities, never a message,
# so no literal it needs comes near this size.
MAX_LITERAL = 1024 * 1024
# imaplib's own limit for one line (imaplib._MAXLINE in Python 3.11).
MAX_LINE = 1_000_000
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Time limits in seconds: from connecting to the end of the greeting, and per command."""

    greeting: float
    step: float


class _BoundedReading:
    """Replaces imaplib's `read` and `readline` with deadline-bound reads from the socket.

    Mixed in before an `imaplib.IMAP4` class, which calls these methods for every
    line and literal it reads.
    """

    _limits: Limits
    _deadline: float
    _pending: bytearray
    _socket: Any

    def _init_limits(self, limits: Limits) -> None:
        self._limits = limits
        self._pending = bytearray()
        self._deadline = time.monotonic() + limits.greeting

    @property
    def sock(self) -> Any:
        """The connection's socket; imaplib replaces it with a TLS socket after STARTTLS."""
        return self._socket

    @sock.setter
    def sock(self, value: Any) -> None:
        # A new socket means a new connection or the switch to TLS: bytes read from the
        # old one were sent in plain text after the go-ahead and must not be used.
        self._socket = value
        self._pending.clear()
        self._deadline = time.monotonic() + self._limits.greeting

    def _command(self, name: str, *args: Any) -> Any:
        self._deadline = time.monotonic() + self._limits.step
        return super()._command(name, *args)  # type: ignore[misc]

    def readline(self) -> bytes:
        """Return one line with its CRLF, or what is left when the server closed."""
        while True:
            end = self._pending.find(b"\n")
            if end >= 0:
                line = bytes(self._pending[: end + 1])
                del self._pending[: end + 1]
                return line
            if len(self._pending) > MAX_LINE:
                raise SessionFailure(
                    ListingReason.PROTOCOL_ERROR,
                    f"the server sent a line longer than {MAX_LINE} bytes",
                )
            if not self._receive():
                rest = bytes(self._pending)
                self._pending.clear()
                return rest

    def read(self, size: int) -> bytes:
        """Return a literal of `size` bytes, refusing one larger than `MAX_LITERAL`."""
        if size > MAX_LITERAL:
            raise SessionFailure(
                ListingReason.PROTOCOL_ERROR,
                f"the server announced a literal of {size} bytes, more than the "
                f"{MAX_LITERAL} bytes a folder listing can need",
            )
        while len(self._pending) < size:
            if not self._receive():
                break
        data = bytes(self._pending[:size])
        del self._pending[:size]
        return data

    def _receive(self) -> bool:
        """Receive more bytes before the deadline; return False when the server closed."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server's reply did not arrive within the time limit")
        self._socket.settimeout(remaining)
        try:
            data = self._socket.recv(_CHUNK)
        except ssl.SSLZeroReturnError:
            return False
        if not data:
            return False
        self._pending += data
        return True


class _PlainIMAP4(_BoundedReading, IMAP4WithTimeout):  # type: ignore[misc]
    def __init__(self, host: str, port: int, timeout: float | None, limits: Limits) -> None:
        self._init_limits(limits)
        super().__init__(host, port, timeout)


class _TlsIMAP4(_BoundedReading, IMAP4_TLS):  # type: ignore[misc]
    def __init__(
        self,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        timeout: float | None,
        limits: Limits,
    ) -> None:
        self._init_limits(limits)
        super().__init__(host, port, ssl_context, timeout)


class BoundedIMAPClient(IMAPClient):  # type: ignore[misc]
    """An `IMAPClient` whose greeting and command replies must arrive within `limits`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl: bool,
        ssl_context: ssl.SSLContext,
        timeout: Any,
        limits: Limits,
    ) -> None:
        self._limits = limits
        super().__init__(host, port, ssl=ssl, ssl_context=ssl_context, timeout=timeout)

    def _create_IMAP4(self) -> imaplib.IMAP4:
        connect_timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _TlsIMAP4(
                self.host, self.port, self.ssl_context, connect_timeout, self._limits
            )
        return _PlainIMAP4(self.host, self.port, connect_timeout, self._limits)

