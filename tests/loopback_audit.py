"""A record of every host a test connects to or looks up, to prove traffic stayed on loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import sys
from collections.abc import Iterator
from typing import Any


class _Connections:
    """Hosts of every socket connect and name lookup while `recording` is on.

    An audit hook stays for the life of the process, so one instance serves every test.
    """

    def __init__(self) -> None:
        self.recording = False
        self.hosts: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.recording:
            return
        if event == "socket.connect" and isinstance(args[1], tuple):
            self.hosts.append(str(args[1][0]))
        elif event == "socket.getaddrinfo":
            self.hosts.append(str(args[0]))


_CONNECTIONS = _Connections()
sys.addaudithook(_CONNECTIONS)


def is_loopback(host: str) -> bool:
    """Return whether a recorded host is a loopback IP address (names count as not loopback)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def record_connections() -> Iterator[list[str]]:
    """Record hosts inside the block; raise AssertionError after it if one was not loopback."""
    _CONNECTIONS.hosts = []
    _CONNECTIONS.recording = True
    try:
        yield _CONNECTIONS.hosts
    finally:
        _CONNECTIONS.recording = False
    assert [host for host in _CONNECTIONS.hosts if not is_loopback(host)] == []
