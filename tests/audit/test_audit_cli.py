"""``maildiag audit`` run as a user runs it: the table, JSON and the exit codes."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.audit.conftest import BROKEN_SETTINGS
from tests.cli_run import REPO, maildiag
from toolkit.sandbox import Sandbox


def test_folder_prints_table_and_exits_1(settings_folder: Path) -> None:
    result = maildiag("audit", str(settings_folder))

    assert result.returncode == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Audited 5 files (1 unusable), ")
    assert lines[0].endswith(", offline: 3 errors, 3 warnings.")
    header = lines[2].split()
    assert header == ["FILE", "SERVER", "PROTO", "HOST:PORT", "TICK", "SETTINGS", "TOP",
                      "FINDING", "E", "W"]
    gmail = next(line for line in lines if "gmail-replies" in line)
    assert "smtp.gmail.com:587" in gmail
    assert "tls-tick-port-mismatch" in gmail
    assert "    fix: Untick TLS for port 587" in result.stdout
    assert "zz-broken.toml" in result.stdout
    assert "problem: " in result.stdout
    assert "server 1 (broken-imap): port: 'abc' is not a number" in result.stdout


def test_warnings_only_exit_0() -> None:
    result = maildiag("audit", "examples/tenant.toml")

    assert result.returncode == 0
    assert "offline: 0 errors, 2 warnings." in result.stdout


def test_no_usable_file_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(BROKEN_SETTINGS, encoding="utf-8")

    result = maildiag("audit", str(broken), str(tmp_path / "missing.toml"))

    assert result.returncode == 2
    assert result.stdout == ""
    assert "maildiag audit: no usable settings file:" in result.stderr
    assert "server 1 (broken-imap): port: 'abc' is not a number." in result.stderr
    assert "missing.toml" in result.stderr
    assert "was not found" in result.stderr


def test_json_lists_rows_with_findings(settings_folder: Path) -> None:
    result = maildiag("audit", str(settings_folder), "--json")

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["online"] is False
    assert report["usable_files"] == 4
    assert len(report["unusable_files"]) == 1
    row = next(r for r in report["rows"] if r["server"] == "gmail-replies")
    assert row["top_finding"] == "tls-tick-port-mismatch"
    assert row["settings_verdict"] == "error"
    assert row["findings"][0]["id"] == "tls-tick-port-mismatch"
    assert row["tls_verdict"] == ""


def test_online_against_sandbox(sandbox: Sandbox, tmp_path: Path) -> None:
    path = sandbox.write_settings(tmp_path / "sandbox-settings.toml")

    result = maildiag("audit", str(path), "--online", "--timeout", "1")

    assert result.returncode == 1
    assert result.stderr == ""
    assert ", online: " in result.stdout.splitlines()[0]
    assert "TLS VERDICT" in result.stdout
    dana = next(line for line in result.stdout.splitlines() if " dana-dovecot-imap " in line)
    assert "tick works" in dana
    silent = next(line for line in result.stdout.splitlines() if " imap-silent " in line)
    assert "port unusable" in silent
    assert "port-unusable" in silent


def test_bad_timeout_exits_2() -> None:
    result = maildiag("audit", "examples", "--timeout", "soon")

    assert result.returncode == 2
    assert "invalid value 'soon'" in result.stderr


def test_progress_line_on_terminal(settings_folder: Path) -> None:
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "toolkit", "audit", str(settings_folder)],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=120,
            cwd=REPO,
            env=dict(os.environ),
        )
    finally:
        os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)

    assert result.returncode == 1
    assert b"[1/5] " in shown
    assert b"[5/5] " in shown
    assert b"zz-broken.toml: unusable" in shown
    assert result.stdout.startswith("Audited 5 files")
    assert "[5/5]" not in result.stdout


def test_password_never_printed(tmp_path: Path) -> None:
    canary = "canary-Pa55word-7f3e"
    path = tmp_path / "gmail.toml"
    path.write_text(
        '[[server]]\nname = "g-imap"\nprotocol = "imap"\nhost = "imap.gmail.com"\nport = 993\n'
        'tls = true\nauth = "basic"\nuser = "a@gmail.com"\nstorage_folder = "Support"\n'
        'password_env = "AUDIT_CANARY_PASSWORD"\n',
        encoding="utf-8",
    )

    for extra in ([], ["--json"]):
        result = maildiag("audit", str(path), *extra, env={"AUDIT_CANARY_PASSWORD": canary})

        assert result.returncode == 0
        assert "app-password-format" in result.stdout
        assert canary not in result.stdout
        assert canary not in result.stderr
