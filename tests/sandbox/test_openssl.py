"""TLS handshakes of ``openssl s_client`` with the sandbox, in both TLS modes."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from toolkit.sandbox import Sandbox

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def s_client(sandbox: Sandbox, endpoint: str, *extra: str) -> str:
    """Run one openssl s_client handshake against an endpoint and return its output."""
    assert OPENSSL is not None
    port = sandbox.endpoint(endpoint).port
    result = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"{sandbox.host}:{port}", "-CAfile",
         str(sandbox.ca_file), "-verify_return_error", "-verify_ip", sandbox.host, *extra],
        input="", capture_output=True, text=True, timeout=20, check=False,
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("endpoint", "extra"),
    [
        ("imap-tls", ()),
        ("smtp-tls", ()),
        ("imap-starttls", ("-starttls", "imap")),
        ("smtp-starttls", ("-starttls", "smtp")),
    ],
)
def test_handshake_verifies_with_sandbox_ca(sandbox: Sandbox, endpoint: str,
                                            extra: tuple[str, ...]) -> None:
    output = s_client(sandbox, endpoint, *extra)
    assert "Verify return code: 0 (ok)" in output
    assert "O = maildiag sandbox" in output


def test_expired_certificate_reported(sandbox: Sandbox) -> None:
    output = s_client(sandbox, "imap-expired-certificate")
    assert "certificate has expired" in output


def test_wrong_host_reported(sandbox: Sandbox) -> None:
    output = s_client(sandbox, "smtp-wrong-host-certificate")
    assert "IP address mismatch" in output
