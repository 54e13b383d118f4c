"""Fixtures for the reliability tests: a trustme CA, a server context and its CA file."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme


@pytest.fixture(scope="package")
def ca() -> trustme.CA:
    """A throwaway certificate authority for the hostile TLS servers."""
    return trustme.CA()


@pytest.fixture(scope="package")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A TLS server context with a certificate for 127.0.0.1 and localhost."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="package")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CA's certificate as a PEM file, for clients that verify."""
    path: Path = tmp_path_factory.mktemp("reliability-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)
