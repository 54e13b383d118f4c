"""Start private Dovecot and Postfix instances on 127.0.0.1 for tests against real servers.

Each instance runs as root from its own configuration in a temporary folder, on free
loopback ports, with a certificate from a trustme certificate authority. Nothing
outside that folder is written, and the system-wide services are never used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
import trustme

HOST = "127.0.0.1"
# A second loopback address that Dovecot also listens on. A client on 127.0.0.1 that
# connects to it is not "secured" in Dovecot's eyes, so it sees LOGINDISABLED before
# STARTTLS, as a remote client would.
REMOTE_LOOKING_HOST = "127.0.0.2"
DOMAIN = "sandbox.test"
SERVER_NAME = "mail.sandbox.test"

# Names that the server certificate covers, so clients may use any of them.
CERTIFICATE_NAMES = (HOST, REMOTE_LOOKING_HOST, "localhost", SERVER_NAME)

# make test sets this to 1 when it could install the packages as root. A missing
# binary or a failed start is then a test error, so CI cannot pass by skipping.
REQUIRE_ENV = "MAILDIAG_REQUIRE_REAL_SERVERS"

INSTALL_HINT = "run make test as root, or scripts/install-system-packages"

START_TIMEOUT_SECONDS = 20.0
STOP_TIMEOUT_SECONDS = 10.0


class ServerStartError(RuntimeError):
    """Raised when a server process does not start or does not open its ports in time."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of the sandbox certificate authority and of the server certificate."""

    ca_file: Path
    """Certificate of the authority that signed the server certificate; clients trust it."""
    cert_file: Path
    """Server certificate for every name in CERTIFICATE_NAMES."""
    key_file: Path
    """Private key of the server certificate, readable by root only."""


def real_servers_required() -> bool:
    """Return whether the environment demands real servers instead of skips."""
    return os.environ.get(REQUIRE_ENV) == "1"


def missing_binaries(paths: Iterable[str]) -> list[str]:
    """Return the paths among `paths` that are not executable files."""
    return [path for path in paths if not os.access(path, os.X_OK)]


def report_unavailable(reason: str) -> NoReturn:
    """Skip the current test with `reason`, or fail it when REQUIRE_ENV is 1.

    Called from a fixture, the failure shows as a test error.
    """
    if real_servers_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 makes this an error, not a skip)", pytrace=False)
    pytest.skip(reason)


def require_installed(product: str, binaries: Iterable[str]) -> None:
    """Skip or fail the current test unless `binaries` exist and the process is root.

    `product` names the server in the message, such as "Dovecot".
    """
    missing = missing_binaries(binaries)
    if missing:
        listed = ", ".join(missing)
        report_unavailable(f"{product} not installed: {INSTALL_HINT} (missing {listed})")
    if os.geteuid() != 0:
        report_unavailable(
            f"{product} test instances need root, because they switch to the server's "
            f"own users: {INSTALL_HINT}"
        )


def make_private_folder(prefix: str) -> Path:
    """Create a temporary folder that the servers' unprivileged users can traverse.

    pytest's own temporary folders sit below a folder of mode 0700, which the
    dovecot, postfix and mail users cannot enter, so the harness uses its own.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


def remove_folder(folder: Path) -> None:
    """Remove a folder made by make_private_folder, with everything in it."""
    shutil.rmtree(folder, ignore_errors=True)


def write_tls_files(folder: Path) -> TlsFiles:
    """Write a new trustme authority and a server certificate for CERTIFICATE_NAMES."""
    folder.mkdir(mode=0o755, parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="maildiag sandbox")
    certificate = authority.issue_cert(*CERTIFICATE_NAMES, common_name=SERVER_NAME)

    files = TlsFiles(
        ca_file=folder / "ca.pem",
        cert_file=folder / "server-cert.pem",
        key_file=folder / "server-key.pem",
    )
    authority.cert_pem.write_to_path(str(files.ca_file))
    # trustme lists the server certificate first, then intermediates (none here).
    files.cert_file.write_bytes(b"".join(blob.bytes() for blob in certificate.cert_chain_pems))
    files.key_file.touch(mode=0o600)
    certificate.private_key_pem.write_to_path(str(files.key_file))
    return files


def pick_free_ports(count: int, host: str = HOST) -> list[int]:
    """Return `count` distinct TCP ports on `host` that were free a moment ago.

    NOTE: another process may take a port between this call and the server's bind;
    the server then fails to start with "Address already in use" in its log.
    """
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(host: str, port: int, deadline: float) -> None:
    """Wait until a TCP connection to host:port succeeds, or raise ServerStartError.

    `deadline` is a time.monotonic() value.
    """
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise ServerStartError(f"nothing accepts connections on {host}:{port}") from error
        time.sleep(0.02)


def run_daemon_command(command: Sequence[str], output_file: Path) -> tuple[int, str]:
    """Run a command that starts a daemon; return its exit status and its output.

    The output goes to `output_file` rather than a pipe, because the daemon
    inherits the pipe and subprocess would wait for it to close until the timeout.
    """
    with output_file.open("w") as output:
        result = subprocess.run(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=START_TIMEOUT_SECONDS,
            check=False,
        )
    return result.returncode, output_file.read_text(errors="replace").strip()


def read_pid(pid_file: Path) -> int | None:
    """Return the process id in `pid_file`, or None when the file is missing or empty."""
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def wait_for_pid_file(pid_file: Path, deadline: float) -> int:
    """Wait until `pid_file` contains a process id and return it, or raise ServerStartError.

    A daemon writes the file after its start command has returned, so it may
    not be there yet. `deadline` is a time.monotonic() value.
    """
    while True:
        pid = read_pid(pid_file)
        if pid is not None:
            return pid
        if time.monotonic() >= deadline:
            raise ServerStartError(f"no process id in {pid_file}")
        time.sleep(0.02)


def is_running(pid: int) -> bool:
    """Return whether a process with id `pid` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        # The process ended between the lookup and the read; the kernel reports either.
        return False
    # The state letter follows the command name, which is in brackets and may contain spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def descendants(pid: int) -> list[int]:
    """Return the ids of all running descendants of process `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))

    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def wait_for_exit(pids: Iterable[int], timeout: float = STOP_TIMEOUT_SECONDS) -> list[int]:
    """Wait until every process in `pids` has exited; return those still running."""
    deadline = time.monotonic() + timeout
    remaining = list(pids)
    while remaining:
        remaining = [pid for pid in remaining if is_running(pid)]
        if not remaining or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    return remaining


def log_tail(log_file: Path, lines: int = 25) -> str:
    """Return the last `lines` lines of a server log, or a note that it is missing."""
    try:
        text = log_file.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {log_file})"
    return "\n".join(text.splitlines()[-lines:])
