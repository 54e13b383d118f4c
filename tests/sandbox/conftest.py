"""Fixtures for the sandbox tests: one running sandbox per test module."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest

from toolkit.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox with the default tenant on free ports, shared by one test module."""
    with Sandbox(port_base=0) as running:
        yield running


@pytest.fixture(scope="module")
def tls(sandbox: Sandbox) -> ssl.SSLContext:
    """A client TLS context that trusts the sandbox CA."""
    return sandbox.client_context()
