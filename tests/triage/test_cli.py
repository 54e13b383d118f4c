"""``maildiag triage`` and ``maildiag replay`` as a user runs them."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_run import REPO
from tests.login.canary import assert_absent

# Runs the command line with the triage module added, whether or not toolkit.cli lists it yet.
_RUN_CLI = (
    "import sys, toolkit.cli as cli\n"
    "if 'toolkit.triage_cli' not in cli._COMMAND_MODULES:\n"
    "    cli._COMMAND_MODULES = (*cli._COMMAND_MODULES, 'toolkit.triage_cli')\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)
TIMEOUT = ["--timeout", "2"]


def test_triage_writes_three_formats(
    maildiag: Callable[..., int],
    settings_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_environment: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sandbox_environment.items():
        monkeypatch.setenv(name, value)
    reports = [tmp_path / "case.html", tmp_path / "case.md", tmp_path / "case.json"]

    code = maildiag(
        "triage", str(settings_file), "--server", "dana-dovecot-imap",
        "--smtp", "dana-dovecot-smtp", *TIMEOUT,
        *[argument for path in reports for argument in ("--report", str(path))],
    )

    output = capsys.readouterr().out
    assert code == 0
    assert all(path.stat().st_size > 0 for path in reports)
    assert reports[0].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert reports[1].read_text(encoding="utf-8").startswith("# Ticket triage of dana-dovecot-imap")
    assert json.loads(reports[2].read_text(encoding="utf-8"))["schema"] == "maildiag-triage/1"
    for number in range(1, 8):
        assert f"\n{number}. " in f"\n{output}"
    assert "Findings, most important first" in output
    for path in reports:
        assert str(path) in output
    password = sandbox_environment["MAILDIAG_SANDBOX_PASSWORD_DANA_DOVECOT_SANDBOX_TEST"]
    texts = [output, *(path.read_text(encoding="utf-8") for path in reports)]
    assert_absent(password, texts, user="dana@dovecot.sandbox.test")


def test_triage_format_overrides_suffix(
    maildiag: Callable[..., int],
    settings_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_environment: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sandbox_environment.items():
        monkeypatch.setenv(name, value)
    report = tmp_path / "ticket-4711.txt"

    code = maildiag(
        "triage", str(settings_file), "--server", "dana-dovecot-imap",
        "--smtp", "dana-dovecot-smtp", "--report", str(report), "--format", "md", "--json",
        *TIMEOUT,
    )

    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["imap"] == "dana-dovecot-imap"
    assert report.read_text(encoding="utf-8").startswith("# Ticket triage")


def test_triage_exits_1_on_error_finding(
    maildiag: Callable[..., int],
    settings_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_environment: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sandbox_environment.items():
        monkeypatch.setenv(name, value)

    code = maildiag(
        "triage", str(settings_file), "--server", "imap-wrong-host-certificate",
        "--smtp", "dana-dovecot-smtp", *TIMEOUT,
    )

    output = capsys.readouterr().out
    assert code == 1
    assert "certificate-hostname-mismatch" in output
    assert "skipped: the IMAP handshake failed in step 2" in output


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ((), "choose one with --server"),
        (("--server", "gina-gmail-smtp"), "is an SMTP entry"),
        (("--server", "gina-gmail-imap", "--smtp", "nope"), "is not an entry of the file"),
        (("--server", "gina-gmail-imap", "--report", "case.txt"), "cannot tell the report format"),
    ],
)
def test_triage_exits_2_with_reason(
    maildiag: Callable[..., int],
    settings_file: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: tuple[str, ...],
    reason: str,
) -> None:
    code = maildiag("triage", str(settings_file), *arguments)

    captured = capsys.readouterr()
    assert code == 2
    assert reason in captured.err
    assert captured.out == ""


def test_triage_exits_2_for_missing_file(
    maildiag: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = maildiag("triage", str(tmp_path / "missing.toml"))

    assert code == 2
    assert "was not found" in capsys.readouterr().err


def test_replay_exits_2_for_other_file(
    maildiag: Callable[..., int], settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = maildiag("replay", str(settings_file))

    assert code == 2
    assert "is not JSON" in capsys.readouterr().err


def test_replay_command_serves_saved_report(
    maildiag: Callable[..., int],
    settings_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_environment: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in sandbox_environment.items():
        monkeypatch.setenv(name, value)
    report = tmp_path / "case.json"
    maildiag(
        "triage", str(settings_file), "--server", "dana-dovecot-imap",
        "--smtp", "dana-dovecot-smtp", "--report", str(report), *TIMEOUT,
    )
    capsys.readouterr()
    replay_settings = tmp_path / "replay.toml"

    process = subprocess.Popen(
        [sys.executable, "-c", _RUN_CLI, "replay", str(report), "--settings-out",
         str(replay_settings)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _read_until(process, "Press Ctrl-C to stop.")
        exports = [line for line in lines if line.startswith("export ")]
        for line in exports:
            name, _, value = line.removeprefix("export ").partition("=")
            monkeypatch.setenv(name, shlex.split(value)[0])

        code = maildiag(
            "triage", str(replay_settings), "--server", "dana-dovecot-imap",
            "--smtp", "dana-dovecot-smtp", "--json", *TIMEOUT,
        )
        again = json.loads(capsys.readouterr().out)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)

    original = json.loads(report.read_text(encoding="utf-8"))
    assert code == 0
    assert exports
    assert any("dana-dovecot-imap: IMAP 127.0.0.1:" in line for line in lines)
    assert [(f["id"], f["severity"]) for f in again["findings"]] == [
        (f["id"], f["severity"]) for f in original["findings"]
    ]
    assert process.returncode == 0, err
    assert "Replay stopped." in out


def _read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.strip() == marker:
            return lines
    raise AssertionError(f"the replay ended before printing {marker!r}: {lines}")


@pytest.fixture(scope="module")
def sandbox_environment(sandbox: object) -> dict[str, str]:
    """The password variables that the sandbox's settings file names."""
    from toolkit.sandbox import Sandbox

    assert isinstance(sandbox, Sandbox)
    return sandbox.environment()
