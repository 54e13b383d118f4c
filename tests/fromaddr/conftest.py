"""Fixtures for the From-address tests: a sandbox with the seed scenarios and its tenant file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from toolkit.fromaddr.sandbox_scenarios import (
    scenario_environment,
    scenario_tenant,
    write_scenario_file,
)
from toolkit.fromaddr.tenant import TenantSetup, load_tenant_setup, with_secrets
from toolkit.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "tenant-from.toml"


@pytest.fixture(scope="module")
def scenario_sandbox() -> Iterator[Sandbox]:
    """A running sandbox with the users and permissions of the seed scenarios."""
    with Sandbox(port_base=0, tenant=scenario_tenant()) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def scenario_file(scenario_sandbox: Sandbox) -> Path:
    """The tenant file that points at the scenario sandbox."""
    return write_scenario_file(scenario_sandbox)


@pytest.fixture(scope="module")
def scenario_env(scenario_sandbox: Sandbox) -> dict[str, str]:
    """The sandbox passwords and OAuth2 tokens that the tenant file's entries name."""
    return scenario_environment(scenario_sandbox)


@pytest.fixture(scope="module")
def scenario_setup(scenario_file: Path, scenario_env: dict[str, str]) -> TenantSetup:
    """The scenario tenant, loaded from its file, with the secrets resolved."""
    return with_secrets(load_tenant_setup(scenario_file), scenario_env)
