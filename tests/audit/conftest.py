"""Fixtures for the audit tests: a running sandbox and a folder of settings files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_run import REPO
from toolkit.sandbox import Sandbox

# A file with one entry that cannot be used: no host, and a port that is not a number.
BROKEN_SETTINGS = (
    '[[server]]\nname = "broken-imap"\nprotocol = "imap"\nport = "abc"\ntls = true\n'
    'auth = "basic"\nuser = "a@example.com"\nstorage_folder = "Support"\n'
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox on free ports, shared by one test module."""
    with Sandbox(port_base=0) as running:
        yield running


@pytest.fixture
def settings_folder(tmp_path: Path, sandbox: Sandbox) -> Path:
    """A folder with the sandbox's settings file, copies of examples/*.toml and a broken file."""
    folder = tmp_path / "tenants"
    folder.mkdir()
    sandbox.write_settings(folder / "sandbox-settings.toml")
    for example in sorted((REPO / "examples").glob("*.toml")):
        shutil.copy(example, folder / example.name)
    (folder / "zz-broken.toml").write_text(BROKEN_SETTINGS, encoding="utf-8")
    return folder
