"""One accepted connection of a replay listener: line I/O on a socket that can switch to TLS.

Blocking sockets with a timeout, one thread per connection, because a replay
serves a handful of connections from one triage and each session is a short
scripted exchange.
"""

from __future__ import annotations

import logging
import socket
import ssl

logger = logging.getLogger(__name__)

# Maximum length of a command line, as in the probe: RFC 9051 leaves IMAP lines unbounded,
# and 64 KiB leaves room for a long XOAUTH2 initial response.
MAX_LINE = 64 * 1024
# A client that sends nothing for this long is disconnected.
IDLE_SECONDS = 60.0


class ConnectionClosed(Exception):
    """The client closed the connection, sent too long a line, or went idle."""


class Connection:
    """A client connection with line reading, sending and an in-place TLS upgrade."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock: socket.socket = sock
        self.tls = False
        self._buffer = bytearray()
        sock.settimeout(IDLE_SECONDS)

    def read_line(self) -> str:
        """Return the next line without its line end. Raises ConnectionClosed at the end."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end]).rstrip(b"\r")
                del self._buffer[: end + 1]
                return line.decode("utf-8", errors="replace")
            if len(self._buffer) > MAX_LINE:
                raise ConnectionClosed("line too long")
            self._fill()

    def read_bytes(self, count: int) -> bytes:
        """Return exactly `count` bytes, for an IMAP literal."""
        while len(self._buffer) < count:
            self._fill()
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def send(self, *lines: str) -> None:
        """Send each line with CRLF."""
        data = "".join(f"{line}\r\n" for line in lines).encode("utf-8")
        try:
            self.sock.sendall(data)
        except OSError as error:
            raise ConnectionClosed(str(error)) from None

    def start_tls(self, context: ssl.SSLContext) -> None:
        """Run the server side of a TLS handshake on this connection."""
        # Bytes sent before the handshake must not carry into the TLS session (RFC 3207 section 6).
        self._buffer.clear()
        try:
            self.sock = context.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as error:
            raise ConnectionClosed(f"TLS handshake failed: {error}") from None
        self.tls = True

    def client_starts_tls(self, wait: float) -> bool:
        """Wait up to `wait` seconds and return whether the client's first byte starts TLS."""
        self.sock.settimeout(wait)
        try:
            first = self.sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return False
        except OSError as error:
            raise ConnectionClosed(str(error)) from None
        finally:
            self.sock.settimeout(IDLE_SECONDS)
        # A TLS record of type handshake (22) starts a ClientHello (RFC 8446 section 5.1).
        return first[:1] == b"\x16"

    def drain(self) -> None:
        """Read and ignore everything until the client closes or goes idle."""
        try:
            while True:
                self._fill()
                self._buffer.clear()
        except ConnectionClosed:
            return

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self) -> None:
        try:
            data = self.sock.recv(16 * 1024)
        except TimeoutError:
            raise ConnectionClosed("client idle") from None
        except (ssl.SSLError, OSError) as error:
            raise ConnectionClosed(str(error)) from None
        if not data:
            raise ConnectionClosed("client closed the connection")
        self._buffer += data
