"""Small loopback servers that behave in one scripted way each, for probe tests.

The sandbox and the real Dovecot and Postfix cover well-behaved servers. These
cover the rest: servers that stay silent, speak the other protocol, send TLS
bytes first, accept only old TLS versions, or close in the middle of a handshake.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

Behaviour = Callable[[socket.socket], None]


@contextlib.contextmanager
def scripted_server(behaviour: Behaviour) -> Iterator[int]:
    """Serve `behaviour` on 127.0.0.1 for each connection, yielding the port; stop on exit."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            worker = threading.Thread(target=_run, args=(behaviour, connection), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept_loop, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        # On Linux, shutdown wakes a thread blocked in accept(); close alone does not.
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        acceptor.join(timeout=5)
        for worker in workers:
            worker.join(timeout=5)


def _run(behaviour: Behaviour, connection: socket.socket) -> None:
    connection.settimeout(10)
    with contextlib.suppress(OSError, ssl.SSLError), connection:
        behaviour(connection)


def read_line(connection: socket.socket | ssl.SSLSocket) -> bytes:
    """Read one line byte by byte, so no byte after it is consumed."""
    line = bytearray()
    while not line.endswith(b"\n"):
        byte = connection.recv(1)
        if not byte:
            break
        line += byte
    return bytes(line)


def wait_for_close(connection: socket.socket | ssl.SSLSocket, seconds: float = 10) -> None:
    """Keep the connection open until the client closes it or `seconds` pass."""
    connection.settimeout(seconds)
    with contextlib.suppress(OSError):
        while connection.recv(1024):
            pass
