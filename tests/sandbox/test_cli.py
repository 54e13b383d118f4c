"""``maildiag sandbox``: the printed summary, signals and exit codes."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import toolkit.sandbox.cli as sandbox_cli
from toolkit.sandbox import Sandbox
from toolkit.settings_file import load_settings

RUNNER = (
    "import argparse, sys\n"
    "import toolkit.sandbox.cli as cli\n"
    "parser = argparse.ArgumentParser(prog='maildiag')\n"
    "cli.add_parser(parser.add_subparsers(dest='command'))\n"
    "sys.exit(cli.run(parser.parse_args(sys.argv[1:])))\n"
)


def start_cli(*arguments: str) -> tuple[subprocess.Popen[str], list[str]]:
    """Start ``maildiag sandbox`` in a child process and return it with its output until ready."""
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, "sandbox", *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            break
    return process, lines


def test_parser_defaults() -> None:
    parser = argparse.ArgumentParser()
    sandbox_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sandbox"])
    assert args.port_base == 10000
    assert args.settings_out is None
    assert args.tenant is None
    assert args.run is sandbox_cli.run


def test_maildiag_parser_has_sandbox_command() -> None:
    from toolkit.cli import build_parser

    args = build_parser().parse_args(["sandbox", "--port-base", "0"])
    assert args.run is sandbox_cli.run
    assert args.port_base == 0


def test_invalid_port_base_exits_two() -> None:
    process = subprocess.run(
        [sys.executable, "-c", RUNNER, "sandbox", "--port-base", "65000"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert process.returncode == 2
    assert "port_base 65000 is invalid" in process.stderr


def test_summary_lists_endpoints_users_and_exports() -> None:
    with Sandbox(port_base=0) as sandbox:
        settings_path = sandbox.write_settings()
        text = sandbox_cli.render_summary(sandbox, settings_path)
        dana = sandbox.user("dana@dovecot.sandbox.test").password.reveal()
        for endpoint in sandbox.endpoints:
            assert f"{endpoint.name} " in text
            assert f" {endpoint.port} " in text
        assert str(sandbox.ca_file) in text
        assert str(settings_path) in text
    assert f"export MAILDIAG_SANDBOX_PASSWORD_DANA_DOVECOT_SANDBOX_TEST={dana}" in text
    assert "no sign-in" in text
    assert "shared mailbox" in text
    assert "SMTP AUTH off" in text


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_runs_until_signal_and_exits_zero(tmp_path: Path, stop_signal: signal.Signals) -> None:
    settings_path = tmp_path / "lab.toml"
    process, lines = start_cli("--port-base", "0", "--settings-out", str(settings_path))
    try:
        assert lines[-1] == "Press Ctrl-C to stop."
        assert f"Settings file: {settings_path}" in lines
        entries = load_settings(settings_path)
        imap = next(entry for entry in entries if entry.name == "dana-dovecot-imap")
        with socket.create_connection((imap.host, imap.port), timeout=5):
            pass
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, stderr
    assert stdout.strip().endswith("Sandbox stopped.")
    assert "Traceback" not in stderr


def test_port_in_use_exits_one() -> None:
    with socket.socket() as blocker:
        # A base below the ephemeral range keeps base + every offset a valid port.
        for base in range(20000, 30000, 100):
            try:
                blocker.bind(("127.0.0.1", base + 143))
                break
            except OSError:
                continue
        blocker.listen()
        port = blocker.getsockname()[1]
        process = subprocess.run(
            [sys.executable, "-c", RUNNER, "sandbox", "--port-base", str(port - 143)],
            capture_output=True, text=True, timeout=30, check=False,
        )
    assert process.returncode == 1
    assert f"port {port} for imap-starttls" in process.stderr
    assert "Traceback" not in process.stderr


def test_invalid_tenant_file_exits_two(tmp_path: Path) -> None:
    tenant = tmp_path / "tenant.toml"
    tenant.write_text('[tenant]\nusers = [{address = "x", personality = "y"}]\n')
    process = subprocess.run(
        [sys.executable, "-c", RUNNER, "sandbox", "--port-base", "0", "--tenant", str(tenant)],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert process.returncode == 2
    assert "tenant.users[1].address" in process.stderr
