"""Fixtures for the login tests: a sandbox per module, a loopback audit hook, the CLI."""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import toolkit.cli as cli
from toolkit.sandbox import Sandbox
from toolkit.settings import ServerSettings
from toolkit.settings_file import resolve_secrets


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox with the default tenant on free ports, shared by one test module."""
    with Sandbox(port_base=0) as running:
        yield running


@pytest.fixture(scope="module")
def entries(sandbox: Sandbox) -> dict[str, ServerSettings]:
    """The sandbox's settings entries by name, with the passwords from its environment."""
    environment = sandbox.environment()
    return {entry.name: resolve_secrets(entry, environment) for entry in sandbox.settings()}


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
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture
def connections() -> Iterator[list[str]]:
    """Record the hosts the test connects to or looks up; fail if one is not loopback."""
    _CONNECTIONS.hosts = []
    _CONNECTIONS.recording = True
    try:
        yield _CONNECTIONS.hosts
    finally:
        _CONNECTIONS.recording = False
    assert [host for host in _CONNECTIONS.hosts if not is_loopback(host)] == []


@pytest.fixture
def maildiag(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function that runs ``maildiag ARGS`` in this process, with the login commands."""
    if "toolkit.login_cli" not in cli._COMMAND_MODULES:
        monkeypatch.setattr(cli, "_COMMAND_MODULES", (*cli._COMMAND_MODULES, "toolkit.login_cli"))
    return cli.main
