"""``maildiag folders`` against the sandbox: text, JSON, exit codes and the password prompt."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import toolkit.cli
from toolkit.sandbox import Sandbox

COURIER = "chris-courier-imap"


@pytest.fixture(scope="module")
def settings_file(sandbox: Sandbox) -> Path:
    return sandbox.write_settings()


@pytest.fixture
def maildiag(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    """Run ``maildiag`` with the folders command registered and the sandbox passwords set."""
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO())
    yield toolkit.cli.main


def run(maildiag: object, *args: str) -> int:
    assert callable(maildiag)
    return int(maildiag(["folders", *args]))


def test_courier_nested_folder(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(maildiag, str(settings_file), "--server", COURIER,
               "--storage-folder", "INBOX.Support.Contact")
    out = capsys.readouterr().out
    assert code == 1
    assert "[error] storage-folder-nested" in out
    assert "is a sub-folder" in out
    assert "Personal namespace: prefix 'INBOX.', delimiter '.'" in out
    assert "│   └── Contact  <- storage folder" in out


def test_courier_folder_under_prefix(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(maildiag, str(settings_file), "--server", COURIER,
               "--storage-folder", "INBOX.Contact")
    out = capsys.readouterr().out
    assert code == 0
    assert "[info] storage-folder-ok" in out
    assert "counts as top-level on this server" in " ".join(out.split())


def test_entry_storage_folder_by_default(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(maildiag, str(settings_file), "--server", COURIER) == 0
    assert "Storage folder 'INBOX.Support':" in capsys.readouterr().out


def test_json_output(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(maildiag, str(settings_file), "--server", COURIER, "--storage-folder", "Contact",
               "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["server"] == COURIER
    assert [f["id"] for f in data["findings"]] == ["storage-folder-not-found"]
    assert "INBOX.Contact" in data["findings"][0]["message"]
    assert data["listing"]["namespaces"]["personal"][0]["prefix"] == "INBOX."
    assert len(data["listing"]["folders"]) >= 7


def test_tree_is_cut(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(maildiag, str(settings_file), "--server", COURIER, "--max-lines", "3")
    assert "more not shown" in capsys.readouterr().out


def test_create_then_check(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(maildiag, str(settings_file), "--server", COURIER, "--storage-folder",
               "CLI Created", "--create")
    out = capsys.readouterr().out
    assert code == 0
    assert "Created 'INBOX.CLI Created'." in out
    assert "[info] storage-folder-ok" in out


def test_create_rejects_sub_folder(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(maildiag, str(settings_file), "--server", COURIER, "--storage-folder",
               "New.Sub", "--create")
    assert code == 2
    assert "sub-folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--server", "nobody"], "no entry named 'nobody'"),
        (["--server", "chris-courier-smtp"], "is SMTP"),
        (["--server", COURIER, "--timeout", "0"], "argument --timeout: invalid value '0'"),
        (["--server", COURIER, "--max-lines", "0"], "argument --max-lines: invalid value '0'"),
    ],
)
def test_unusable_input(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str],
    args: list[str], words: str,
) -> None:
    assert run(maildiag, str(settings_file), *args) == 2
    assert words in capsys.readouterr().err


def test_unreadable_settings_file(
    maildiag: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(maildiag, str(tmp_path / "missing.toml"), "--server", COURIER) == 2
    assert "was not found" in capsys.readouterr().err


def test_missing_password_without_terminal(
    maildiag: object, settings_file: Path, sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MAILDIAG_SANDBOX_PASSWORD_CHRIS_COURIER_SANDBOX_TEST")
    assert run(maildiag, str(settings_file), "--server", COURIER) == 2
    err = capsys.readouterr().err
    assert "MAILDIAG_SANDBOX_PASSWORD_CHRIS_COURIER_SANDBOX_TEST" in err


def test_missing_password_is_prompted(
    maildiag: object, settings_file: Path, sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    variable = "MAILDIAG_SANDBOX_PASSWORD_CHRIS_COURIER_SANDBOX_TEST"
    password = sandbox.environment()[variable]
    monkeypatch.delenv(variable)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return password

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert run(maildiag, str(settings_file), "--server", COURIER) == 0
    assert prompts == ["Password for chris@courier.sandbox.test (chris-courier-imap): "]
    assert password not in capsys.readouterr().out


def test_rejected_password_is_a_finding(
    maildiag: object, settings_file: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MAILDIAG_SANDBOX_PASSWORD_CHRIS_COURIER_SANDBOX_TEST", "wrong")
    assert run(maildiag, str(settings_file), "--server", COURIER) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "[error] folder-list-failed" in out
    assert "The server replied: Login failed." in out


def test_oauth_entry_without_token(
    maildiag: object, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(maildiag, str(settings_file), "--server", "alice-m365-imap") == 2
    assert "MAILDIAG_SANDBOX_TOKEN_ALICE_M365_SANDBOX_TEST" in capsys.readouterr().err
