"""``maildiag check``: output, JSON, and exit codes, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_run import maildiag

CANARY = "canary-Pa55word-7f3e"


def test_gmail_tick_on_587_exits_1() -> None:
    result = maildiag("check", "examples/gmail-smtp-tls-on-587.toml")
    assert result.returncode == 1
    assert "tls-tick-port-mismatch" in result.stdout
    assert "Untick TLS for port 587" in result.stdout
    assert "Checked 1 entry: 1 error, 0 warnings, 0 info." in result.stdout
    assert result.stderr == ""


def test_json_output_has_finding_fields() -> None:
    result = maildiag("check", "examples/gmail-smtp-tls-on-587.toml", "--json")
    assert result.returncode == 1
    findings = json.loads(result.stdout)
    assert findings[0]["id"] == "tls-tick-port-mismatch"
    assert set(findings[0]) == {"id", "severity", "field", "message", "fix", "server"}
    assert findings[0]["severity"] == "error"


def test_clean_file_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        '[[server]]\nname = "g-imap"\nprotocol = "imap"\nhost = "imap.gmail.com"\nport = 993\n'
        'tls = true\nauth = "basic"\nuser = "a@gmail.com"\nstorage_folder = "Support"\n'
        '[[server]]\nname = "g-smtp"\nprotocol = "smtp"\nhost = "smtp.gmail.com"\nport = 587\n'
        'tls = false\nauth = "basic"\nuser = "a@gmail.com"\n',
        encoding="utf-8",
    )
    result = maildiag("check", str(path))
    assert result.returncode == 0
    assert "no findings" in result.stdout


def test_warnings_only_exit_0() -> None:
    result = maildiag("check", "examples/tenant.toml")
    assert result.returncode == 0
    assert "warning" in result.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "was not found"),
        ("[[server]\n", "is not valid TOML"),
        (
            '[[server]]\nname = "x"\nprotocol = "imap"\nhost = "a b"\nport = "abc"\n'
            'tls = true\nauth = "basic"\nuser = "u"\n',
            "host: 'a b' contains a space",
        ),
    ],
)
def test_unusable_input_exits_2(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "bad.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = maildiag("check", str(path))
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_no_command_exits_2() -> None:
    result = maildiag()
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_unknown_option_exits_2() -> None:
    result = maildiag("check", "--nope")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "maildiag"
    assert script.exists()
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "check" in result.stdout


def test_secret_from_env_not_printed(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[[server]]\nname = "g"\nprotocol = "smtp"\nhost = "smtp.gmail.com"\nport = 587\n'
        'tls = true\nauth = "basic"\nuser = "a@gmail.com"\npassword_env = "CANARY_PW"\n',
        encoding="utf-8",
    )
    result = maildiag("check", str(path), "--json", env={"CANARY_PW": CANARY})
    assert "app-password-format" in result.stdout
    assert CANARY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("probe", "127.0.0.1", "--protocol", "imap", "--timeout", "abc"), "give seconds"),
        (("probe", "127.0.0.1", "--protocol", "imap", "--timeout", "0"), "from 0.1 to 300"),
        (("sandbox", "--port-base", "abc"), "give a whole number"),
    ],
)
def test_bad_number_option_names_fix(args: tuple[str, ...], words: str) -> None:
    result = maildiag(*args)
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr
