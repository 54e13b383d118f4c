"""Hostile IMAP and SMTP behaviours for `tests.probe.scripted.scripted_server`.

Each function here takes the accepted socket and misbehaves in one way. The
factories return such a function for a given payload or TLS context. They are
loopback test fixtures: they only ever talk to the client under test.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

from tests.probe.scripted import Behaviour, read_line, wait_for_close

# Built once at import, so that a tracemalloc window around a probe measures the
# client, not the server thread building its payload.
ONE_MEGABYTE = b"x" * 1_000_000
# An IMAP literal that announces 2 GiB; the client must not allocate it.
HUGE_LITERAL = b"{2147483648}"
# 10,000 capabilities of 24 characters: one 240 KB line, far above the probe's 64 KiB limit.
MANY_CAPABILITIES = b" ".join(b"X-LONG-CAPABILITY-%06d" % number for number in range(10_000))
# 10,000 short ones of 2 to 6 characters: one 59 KB line, below that limit.
SHORT_CAPABILITIES = b" ".join(b"C%d" % number for number in range(10_000))
# A TLS alert record: type 21, version 3.3, length 2, fatal (2), handshake_failure (40).
TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x28"


def silent(connection: socket.socket) -> None:
    """Accept and never send a byte."""
    wait_for_close(connection, 8)


def send_then_silent(data: bytes) -> Behaviour:
    """Send `data`, then stay silent until the client leaves."""

    def behaviour(connection: socket.socket) -> None:
        connection.sendall(data)
        wait_for_close(connection, 8)

    return behaviour


def send_then_close(data: bytes) -> Behaviour:
    """Send `data` and close at once."""

    def behaviour(connection: socket.socket) -> None:
        connection.sendall(data)

    return behaviour


def reset(connection: socket.socket) -> None:
    """Close with a TCP reset: SO_LINGER on with a zero timeout sends RST instead of FIN."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def trickle(
    data: bytes, interval: float, *, prefix: bytes = b"", answer: bool = False
) -> Behaviour:
    """Send `prefix` at once, then `data` one byte every `interval` seconds.

    With `answer` the trickle starts only after the client's first line, such as
    the CAPABILITY or EHLO that follows the greeting. The loop ends when the
    client goes away, because the next send then fails.
    """

    def behaviour(connection: socket.socket) -> None:
        connection.sendall(prefix)
        if answer:
            read_line(connection)
        for index in range(len(data)):
            connection.sendall(data[index : index + 1])
            if not pause(connection, interval):
                return

    return behaviour


def pause(connection: socket.socket, seconds: float) -> bool:
    """Wait `seconds`, reading and dropping what the client sends; False once it has closed.

    Returning at the client's close lets a slow behaviour end with the test.
    """
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        connection.settimeout(remaining)
        try:
            if not connection.recv(4096):
                return False
        except TimeoutError:
            return True
        except OSError:
            return False
    return True


def flood(first: bytes, line: bytes, *, answer: bool = True, then: bytes = b"") -> Behaviour:
    """Send `first`, wait for the client's command when `answer`, then send `line` until cut off.

    `then` is sent once, after the command and before the flood.
    """

    def behaviour(connection: socket.socket) -> None:
        connection.sendall(first)
        if answer:
            read_line(connection)
        connection.sendall(then)
        # About 64 KB a send; a line longer than that is sent as it is, without a copy.
        block = line * max(1, 65536 // len(line))
        with contextlib.suppress(OSError):
            while True:
                connection.sendall(block)

    return behaviour


def split_packets(pieces: list[bytes], gap: float = 0.02) -> Behaviour:
    """Send `pieces` as separate packets, `gap` seconds apart."""

    def send(connection: socket.socket) -> None:
        for piece in pieces:
            connection.sendall(piece)
            time.sleep(gap)

    return send


def imap_dialog(
    context: ssl.SSLContext,
    *,
    greeting: bytes = b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
    capability: bytes = b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED",
    starttls_reply: bytes = b"OK begin TLS",
    before_starttls_reply: bytes = b"",
    after_go_ahead: bytes = b"",
    handshake: bool = True,
    after_tls: Behaviour | None = None,
) -> Behaviour:
    """Serve an IMAP greeting, CAPABILITY and STARTTLS; misbehave through the arguments.

    `before_starttls_reply` is sent before the tagged STARTTLS reply, and
    `after_go_ahead` in plain text right after it. With
    `handshake` false the server closes instead of starting TLS. `after_tls` runs
    on the TLS socket; by default it replies to CAPABILITY once and waits.
    """

    def behaviour(connection: socket.socket) -> None:
        connection.sendall(greeting)
        while True:
            line = read_line(connection)
            if not line:
                return
            tag = line.split(b" ", 1)[0]
            command = line[len(tag) + 1 :].strip().upper()
            if command == b"CAPABILITY":
                connection.sendall(capability + b"\r\n" + tag + b" OK done\r\n")
            elif command == b"STARTTLS":
                connection.sendall(
                    before_starttls_reply + tag + b" " + starttls_reply + b"\r\n" + after_go_ahead
                )
                if not starttls_reply.startswith(b"OK"):
                    continue
                if not handshake:
                    return
                with context.wrap_socket(connection, server_side=True) as tls:
                    (after_tls or _imap_after_tls)(tls)
                return
            else:
                connection.sendall(tag + b" BAD unknown\r\n")

    return behaviour


def _imap_after_tls(tls: socket.socket) -> None:
    while True:
        line = read_line(tls)
        if not line:
            return
        tag = line.split(b" ", 1)[0]
        if b"CAPABILITY" in line.upper():
            tls.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
        else:
            tls.sendall(tag + b" OK bye\r\n")
            return


def smtp_dialog(
    context: ssl.SSLContext,
    *,
    greeting: bytes = b"220 mx.example.test ESMTP\r\n",
    ehlo: bytes = b"250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
    starttls_reply: bytes = b"220 2.0.0 go ahead\r\n",
    after_go_ahead: bytes = b"",
    instead_of_tls: Behaviour | None = None,
) -> Behaviour:
    """Serve an SMTP greeting, EHLO and STARTTLS; misbehave through the arguments.

    `after_go_ahead` is sent in plain text right after the STARTTLS reply, and
    `instead_of_tls` runs on the plain socket in place of the TLS handshake.
    """

    def behaviour(connection: socket.socket) -> None:
        connection.sendall(greeting)
        while True:
            line = read_line(connection)
            if not line:
                return
            verb = line.strip().upper()
            if verb.startswith(b"EHLO"):
                connection.sendall(ehlo)
            elif verb == b"STARTTLS":
                connection.sendall(starttls_reply + after_go_ahead)
                if not starttls_reply.startswith(b"220"):
                    return
                if instead_of_tls is not None:
                    instead_of_tls(connection)
                    return
                with context.wrap_socket(connection, server_side=True) as tls:
                    read_line(tls)
                    tls.sendall(b"250-mx.example.test\r\n250 AUTH PLAIN LOGIN\r\n")
                    wait_for_close(tls, 5)
                return
            else:
                connection.sendall(b"221 bye\r\n")
                return

    return behaviour


def answer_client_hello(data: bytes) -> Behaviour:
    """Wait for the client's first bytes, such as a ClientHello, reply with `data` and close."""

    def behaviour(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.sendall(data)
        time.sleep(0.05)

    return behaviour


def tls_then(context: ssl.SSLContext, after: Behaviour) -> Behaviour:
    """Run a TLS handshake as the server, then `after` on the TLS socket."""

    def behaviour(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            after(tls)

    return behaviour


def reset_after_server_hello(context: ssl.SSLContext) -> Behaviour:
    """Read the ClientHello, send the first bytes of a real ServerHello, then reset."""

    def behaviour(connection: socket.socket) -> None:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        server = context.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(connection.recv(65536))
        with contextlib.suppress(ssl.SSLWantReadError):
            server.do_handshake()
        hello = outgoing.read()
        connection.sendall(hello[:40])
        time.sleep(0.05)
        reset(connection)

    return behaviour


class ConnectionCounter:
    """Serves `normal` to the first `allowed` connections and `busy` to every later one."""

    def __init__(self, allowed: int, normal: Behaviour, busy: Behaviour) -> None:
        self.allowed = allowed
        self.normal = normal
        self.busy = busy
        self.accepted = 0
        self._lock = threading.Lock()

    def __call__(self, connection: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            number = self.accepted
        (self.normal if number <= self.allowed else self.busy)(connection)


class Recorder:
    """Wraps a behaviour and keeps every byte the client sent before TLS started.

    The wrapped socket records what `recv` returns; `plain_text` is the concatenation.
    """

    def __init__(self, inner: Behaviour) -> None:
        self.inner = inner
        self.received = bytearray()

    @property
    def plain_text(self) -> bytes:
        """Every byte the client sent in plain text, over every connection."""
        return bytes(self.received)

    def __call__(self, connection: socket.socket) -> None:
        self.inner(_RecordingSocket(connection, self.received))  # type: ignore[arg-type]


class _RecordingSocket:
    """A socket proxy that copies received plain-text bytes; TLS wrapping unwraps it."""

    def __init__(self, inner: socket.socket, sink: bytearray) -> None:
        self._inner = inner
        self._sink = sink

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._inner.recv(size, *flags)
        self._sink += data
        return data

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


ListReply = Callable[[ssl.SSLSocket, bytes], None]


def imap_folder_server(context: ssl.SSLContext, on_list: ListReply) -> Behaviour:
    """Serve IMAP over implicit TLS that accepts any LOGIN and replies to LIST with `on_list`.

    `on_list(tls, tag)` writes the LIST reply, well-formed or not.
    """

    def behaviour(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
            while True:
                line = read_line(tls)
                if not line:
                    return
                tag, _, rest = line.strip().partition(b" ")
                verb = rest.split(b" ", 1)[0].upper()
                if verb == b"CAPABILITY":
                    tls.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                elif verb == b"LOGIN":
                    tls.sendall(tag + b" OK [CAPABILITY IMAP4rev1] logged in\r\n")
                elif verb == b"LIST":
                    on_list(tls, tag)
                elif verb == b"LOGOUT":
                    tls.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                    return
                else:
                    tls.sendall(tag + b" OK done\r\n")

    return behaviour


def endless_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST with untagged lines that never end."""
    block = b'* LIST (\\HasNoChildren) "/" "Folder"\r\n' * 500
    with contextlib.suppress(OSError):
        while True:
            tls.sendall(block)


def slow_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST one byte every 0.2 s, so the connection is never idle for 1 s."""
    reply = b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n' * 20 + tag + b" OK done\r\n"
    for index in range(len(reply)):
        tls.sendall(reply[index : index + 1])
        if not pause(tls, 0.2):
            return


def huge_literal_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST with a folder name announced as a 2 GiB literal, then stall."""
    tls.sendall(b'* LIST () "/" ' + HUGE_LITERAL + b"\r\nINBOX")
    wait_for_close(tls, 8)


def long_line_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST with a 2 MB line."""
    tls.sendall(b'* LIST () "/" "' + ONE_MEGABYTE + ONE_MEGABYTE + b'"\r\n')
    wait_for_close(tls, 8)


def bad_utf7_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST with one name that is not valid modified UTF-7 (RFC 3501 section 5.1.3)."""
    tls.sendall(b'* LIST () "/" "INBOX"\r\n* LIST () "/" &Jj-\r\n' + tag + b" OK done\r\n")


def garbled_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST with a line that has no delimiter and no name."""
    tls.sendall(b"* LIST (\\HasNoChildren\r\n" + tag + b" OK done\r\n")


def misaligned_list(tls: ssl.SSLSocket, tag: bytes) -> None:
    """Answer LIST with attributes and a delimiter but no name, which imapclient cannot pair."""
    tls.sendall(b'* LIST () "/"\r\n' + tag + b" OK done\r\n")
