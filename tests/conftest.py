"""Shared fixtures: private Dovecot and Postfix instances on 127.0.0.1.

The `dovecot` and `postfix` fixtures start one instance each per test session and
stop them at its end. Tests that use them carry the `dovecot` or `postfix` marker.
Without the Debian packages, or when not root, these tests are skipped, unless
MAILDIAG_REQUIRE_REAL_SERVERS=1, which turns the skip into an error.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realservers import (
    DOMAIN,
    TlsFiles,
    make_private_folder,
    remove_folder,
    require_installed,
    write_tls_files,
)
from tests.realservers import dovecot as dovecot_harness
from tests.realservers import postfix as postfix_harness

# Login names of the sandbox users; the first one also gets the extra folders.
SANDBOX_USER_NAMES = ("alice", "bob", "carol")

# Start times of the instances in this session, printed in the terminal summary.
_start_seconds: dict[str, float] = {}


@pytest.fixture(scope="session")
def real_servers_folder() -> Iterator[Path]:
    """Create the session's folder for server configurations, certificates, logs and mail."""
    folder = make_private_folder("maildiag-servers-")
    yield folder
    remove_folder(folder)


@pytest.fixture(scope="session")
def mail_tls(real_servers_folder: Path) -> TlsFiles:
    """Write one certificate authority and server certificate for both servers."""
    return write_tls_files(real_servers_folder / "tls")


@pytest.fixture(scope="session")
def dovecot(
    real_servers_folder: Path, mail_tls: TlsFiles
) -> Iterator[dovecot_harness.DovecotServer]:
    """Start a private Dovecot with users at sandbox.test and random passwords."""
    require_installed("Dovecot", dovecot_harness.BINARIES)
    users = {f"{name}@{DOMAIN}": secrets.token_urlsafe(12) for name in SANDBOX_USER_NAMES}
    instance = dovecot_harness.DovecotInstance(real_servers_folder / "dovecot", mail_tls, users)
    with instance as server:
        _start_seconds["Dovecot"] = server.start_seconds
        yield server


@pytest.fixture(scope="session")
def postfix(
    real_servers_folder: Path,
    mail_tls: TlsFiles,
    dovecot: dovecot_harness.DovecotServer,
) -> Iterator[postfix_harness.PostfixServer]:
    """Start a private Postfix that authenticates and delivers through `dovecot`."""
    require_installed("Postfix", postfix_harness.BINARIES)
    instance = postfix_harness.PostfixInstance(real_servers_folder / "postfix", mail_tls, dovecot)
    with instance as server:
        _start_seconds["Postfix"] = server.start_seconds
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how long each real server took to start, when any started."""
    if _start_seconds:
        times = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in _start_seconds.items())
        terminalreporter.write_line(f"real servers started: {times}")
