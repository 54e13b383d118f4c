"""A socket that can switch to TLS mid-session and keeps the bytes the server sent.

The probe drives TLS through `ssl.SSLObject` and memory BIOs instead of
`ssl.SSLSocket`. No library offers this, and the probe needs it for three reasons:

- when a handshake fails because the server spoke plain text (a STARTTLS port
  reached with implicit TLS), the raw bytes it sent are kept, so the report can
  quote the server's greeting instead of OpenSSL's "wrong version number";
- every stage has its own deadline, including the handshake, so a silent or slow
  server never keeps the probe past its timeout;
- bytes that a server sends in plain text right after its STARTTLS go-ahead are
  visible, not silently carried into the TLS session.
"""

from __future__ import annotations

import select
import socket
import ssl
import time

# Upper bound for one protocol line. RFC 5321 section 4.5.3.1.5 sets 512 octets for an
# SMTP reply line and RFC 9051 leaves IMAP lines unbounded, so 64 KiB leaves room for
# long CAPABILITY lines while keeping memory bounded against a hostile server.
MAX_LINE = 64 * 1024
# Upper bound for everything kept from the start of a plain-text session.
MAX_KEPT = 8 * 1024
_CHUNK = 16 * 1024


class TransportError(Exception):
    """Base class for transport failures; `stage` names where it happened."""

    def __init__(self, message: str, *, stage: str) -> None:
        super().__init__(message)
        self.stage = stage


class TimedOut(TransportError):
    """A deadline passed while waiting for the server."""


class Closed(TransportError):
    """The server closed or reset the connection."""


class LineTooLong(TransportError):
    """The server sent a line longer than `MAX_LINE` bytes."""


class HandshakeFailed(TransportError):
    """The TLS handshake failed; `ssl_error` is OpenSSL's error and `raw` what the server sent."""

    def __init__(self, message: str, *, stage: str, ssl_error: ssl.SSLError, raw: bytes) -> None:
        super().__init__(message, stage=stage)
        self.ssl_error = ssl_error
        self.raw = raw


class Transport:
    """A connected TCP socket with line reading, deadlines and an optional TLS layer."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._buffer = bytearray()
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.raw_received = bytearray()

    @property
    def tls_object(self) -> ssl.SSLObject | None:
        """The TLS session once `start_tls` has succeeded."""
        return self._tls

    @property
    def buffered(self) -> bytes:
        """Bytes received but not yet returned by `read_line`."""
        return bytes(self._buffer)

    def local_address(self) -> str:
        """Return the IP address of this end of the connection."""
        return str(self._sock.getsockname()[0])

    def peek(self, *, deadline: float, stage: str) -> bytes:
        """Return the buffered bytes, first waiting for some if there are none."""
        if not self._buffer:
            self._fill(deadline, stage)
        return bytes(self._buffer)

    def discard_buffered(self) -> None:
        """Drop bytes received but not read, as RFC 3207 requires before a STARTTLS handshake."""
        self._buffer.clear()

    def close(self) -> None:
        """Close the socket; safe to call more than once."""
        self._sock.close()

    def send(self, data: bytes, *, deadline: float, stage: str) -> None:
        """Send bytes, through TLS once it is on."""
        if self._tls is not None:
            try:
                self._tls.write(data)
            except ssl.SSLError as error:
                raise Closed(f"TLS error while sending: {error}", stage=stage) from error
            self._flush(deadline, stage)
        else:
            self._send_raw(data, deadline, stage)

    def read_line(self, *, deadline: float, stage: str) -> bytes:
        """Return one line including its CRLF, waiting until `deadline` (a monotonic time)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_LINE:
                raise LineTooLong(f"line longer than {MAX_LINE} bytes", stage=stage)
            self._fill(deadline, stage)

    def wait_readable(self, *, deadline: float) -> bool:
        """Wait until data arrives or `deadline` passes; return whether data is waiting."""
        if self._buffer:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        return _wait(self._sock, select.POLLIN, remaining)

    def start_tls(
        self, context: ssl.SSLContext, server_hostname: str | None, *, deadline: float, stage: str
    ) -> None:
        """Run a TLS handshake over this connection, feeding bytes already buffered first.

        Raises `HandshakeFailed`, `TimedOut` or `Closed`. After any of them the
        transport has no TLS layer, so a later `send` cannot write into a TLS
        session whose handshake never finished.
        """
        tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        self._tls = tls
        pending = bytes(self._buffer)
        self._buffer.clear()
        if pending:
            self._incoming.write(pending)
        handshake_raw = bytearray(pending)
        try:
            while True:
                try:
                    tls.do_handshake()
                    self._flush(deadline, stage)
                    return
                except ssl.SSLWantReadError:
                    self._flush(deadline, stage)
                    chunk = self._recv_raw(deadline, stage)
                    if len(handshake_raw) < MAX_KEPT:
                        handshake_raw += chunk[: MAX_KEPT - len(handshake_raw)]
                    self._incoming.write(chunk)
                except ssl.SSLError as error:
                    # Send any alert OpenSSL queued, so the server learns why.
                    try:
                        self._flush(min(deadline, time.monotonic() + 0.5), stage)
                    except TransportError:
                        pass
                    raise HandshakeFailed(
                        str(error), stage=stage, ssl_error=error, raw=bytes(handshake_raw)
                    ) from error
        except TransportError:
            self._tls = None
            raise

    def _fill(self, deadline: float, stage: str) -> None:
        if self._tls is None:
            self._buffer += self._recv_raw(deadline, stage)
            return
        while True:
            try:
                data = self._tls.read(_CHUNK)
            except ssl.SSLWantReadError:
                self._incoming.write(self._recv_raw(deadline, stage))
                continue
            except ssl.SSLZeroReturnError:
                raise Closed("server closed the TLS session", stage=stage) from None
            except ssl.SSLError as error:
                raise Closed(f"TLS error while reading: {error}", stage=stage) from error
            if not data:
                raise Closed("server closed the TLS session", stage=stage)
            self._buffer += data
            return

    def _recv_raw(self, deadline: float, stage: str) -> bytes:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut("timed out waiting for the server", stage=stage)
            if not _wait(self._sock, select.POLLIN, remaining):
                continue
            try:
                data = self._sock.recv(_CHUNK)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                raise Closed("server reset the connection", stage=stage) from None
            except OSError as error:
                raise Closed(f"connection failed: {error.strerror or error}", stage=stage) from None
            if not data:
                raise Closed("server closed the connection", stage=stage)
            if len(self.raw_received) < MAX_KEPT:
                self.raw_received += data[: MAX_KEPT - len(self.raw_received)]
            return data

    def _flush(self, deadline: float, stage: str) -> None:
        data = self._outgoing.read()
        if data:
            self._send_raw(data, deadline, stage)

    def _send_raw(self, data: bytes, deadline: float, stage: str) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOut("timed out sending to the server", stage=stage)
            if not _wait(self._sock, select.POLLOUT, remaining):
                continue
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise Closed("server closed the connection", stage=stage) from None
            view = view[sent:]


def _wait(sock: socket.socket, events: int, timeout: float) -> bool:
    """Wait for a socket event; poll has no limit on descriptor numbers, unlike select."""
    poller = select.poll()
    poller.register(sock, events | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(max(0.0, timeout) * 1000))
