"""Fixtures for the triage tests: sandboxes on free ports, their entries, timeouts, the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import toolkit.cli as cli
from toolkit.fromaddr.sandbox_scenarios import (
    scenario_environment,
    scenario_tenant,
    write_scenario_file,
)
from toolkit.probe.results import Timeouts
from toolkit.sandbox import Sandbox
from toolkit.settings import ServerSettings
from toolkit.settings_file import resolve_secrets

# Short stages keep each probe of a silent mode to about 2 s. On loopback a
# greeting or reply arrives within milliseconds.
FAST = Timeouts(connect=2.0, greeting=1.0, handshake=2.0, read=2.0)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox with the default tenant on free ports, shared by one test module."""
    with Sandbox(port_base=0) as running:
        yield running


@pytest.fixture(scope="module")
def entries(sandbox: Sandbox) -> dict[str, ServerSettings]:
    """The sandbox's entries by name, with the passwords from its environment."""
    environment = sandbox.environment()
    return {entry.name: resolve_secrets(entry, environment) for entry in sandbox.settings()}


@pytest.fixture(scope="module")
def settings_file(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's settings file, which names the password variables."""
    return sandbox.write_settings(tmp_path_factory.mktemp("settings") / "sandbox.toml")


@pytest.fixture(scope="module")
def scenario_sandbox() -> Iterator[Sandbox]:
    """A running sandbox with the From-address scenario users and permissions."""
    with Sandbox(port_base=0, tenant=scenario_tenant()) as running:
        yield running


@pytest.fixture(scope="module")
def scenario_file(scenario_sandbox: Sandbox) -> Path:
    """The tenant file of the From-address scenarios, pointing at `scenario_sandbox`."""
    return write_scenario_file(scenario_sandbox)


@pytest.fixture(scope="module")
def scenario_env(scenario_sandbox: Sandbox) -> dict[str, str]:
    """The passwords and OAuth2 tokens that the scenario tenant file names."""
    return scenario_environment(scenario_sandbox)


@pytest.fixture
def maildiag(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """Return a function that runs ``maildiag ARGS`` in this process and returns the exit code.

    The triage and replay commands are added when `toolkit.cli` does not list them yet.
    """
    if "toolkit.triage_cli" not in cli._COMMAND_MODULES:
        monkeypatch.setattr(
            cli, "_COMMAND_MODULES", (*cli._COMMAND_MODULES, "toolkit.triage_cli")
        )

    def run(*arguments: str) -> int:
        return cli.main(list(arguments))

    return run
