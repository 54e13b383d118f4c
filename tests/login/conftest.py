"""Fixtures for the login tests: a sandbox per module, a loopback audit hook, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import toolkit.cli as cli
from tests.loopback_audit import record_connections
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


@pytest.fixture
def connections() -> Iterator[list[str]]:
    """Record the hosts the test connects to or looks up; fail if one is not loopback."""
    with record_connections() as hosts:
        yield hosts


@pytest.fixture
def maildiag(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function that runs ``maildiag ARGS`` in this process, with the login commands."""
    if "toolkit.login_cli" not in cli._COMMAND_MODULES:
        monkeypatch.setattr(cli, "_COMMAND_MODULES", (*cli._COMMAND_MODULES, "toolkit.login_cli"))
    return cli.main
