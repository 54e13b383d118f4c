"""``maildiag login`` and ``maildiag token`` against the sandbox."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from toolkit.sandbox import Sandbox
from toolkit.sandbox.authority import MICROSOFT_GRAPH, DeviceFlowOutcome
from toolkit.settings import OAuthSettings
from toolkit.settings_file import save_settings

ALICE = "alice@m365.sandbox.test"
GINA = "gina@gmail.sandbox.test"
Run = Callable[[list[str]], int]


@pytest.fixture
def settings_file(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The sandbox's settings file, with its password variables set for this test."""
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    yield sandbox.write_settings()


def test_login_ok(maildiag: Run, settings_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = maildiag(["login", str(settings_file), "--server", "dana-dovecot-smtp"])
    out = capsys.readouterr().out
    assert code == 0
    assert "logged in" in out
    assert "AUTH PLAIN [initial response redacted]" in out
    assert "login-ok" in out


def test_login_gmail_account_password_json(
    maildiag: Run,
    settings_file: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(
        "MAILDIAG_SANDBOX_APP_PASSWORD_GINA_GMAIL_SANDBOX_TEST",
        sandbox.user(GINA).password.reveal(),
    )
    code = maildiag(["login", str(settings_file), "--server", "gina-gmail-smtp", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["result"]["reason"] == "auth-rejected"
    assert [f["id"] for f in data["findings"]] == ["login-rejected", "gmail-app-password-required"]


def test_login_unknown_server(
    maildiag: Run, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = maildiag(["login", str(settings_file), "--server", "nope"])
    err = capsys.readouterr().err
    assert code == 2
    assert "'nope' is not in the file" in err
    assert "dana-dovecot-imap" in err


def test_login_no_password_not_interactive(
    maildiag: Run,
    settings_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MAILDIAG_SANDBOX_PASSWORD_DANA_DOVECOT_SANDBOX_TEST")
    code = maildiag(["login", str(settings_file), "--server", "dana-dovecot-imap"])
    err = capsys.readouterr().err
    assert code == 2
    assert "MAILDIAG_SANDBOX_PASSWORD_DANA_DOVECOT_SANDBOX_TEST is not set" in err


def test_login_plaintext_refused_then_allowed(
    maildiag: Run, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert maildiag(["login", str(settings_file), "--server", "imap-no-starttls"]) == 1
    assert "plaintext-refused" in capsys.readouterr().out
    allowed = ["login", str(settings_file), "--server", "imap-no-starttls", "--allow-plaintext"]
    assert maildiag(allowed) == 0
    assert "plaintext-credentials" in capsys.readouterr().out


def test_login_bad_mechanism(
    maildiag: Run, settings_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["login", str(settings_file), "--server", "dana-dovecot-imap", "--mechanism", "xoauth2"]
    assert maildiag(argv) == 2
    assert "does not fit" in capsys.readouterr().err


def test_login_device_code(
    maildiag: Run,
    settings_file: Path,
    sandbox: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sandbox.authority is not None
    sandbox.authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=1))
    argv = [
        "login", str(settings_file), "--server", "alice-m365-imap", "--device-code",
        "--token-cache", str(tmp_path / "cache.json"),
    ]
    code = maildiag(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.out
    assert sandbox.authority.verification_uri in captured.err
    assert "Token from device-code for alice@m365.sandbox.test" in captured.out


def test_login_client_credentials_wrong_secret(
    maildiag: Run,
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    authority = sandbox.authority
    assert authority is not None
    authority.register_client("app-cli", secret="right-secret", app_roles=["IMAP.AccessAsApp"])
    entry = next(s for s in sandbox.settings() if s.name == "alice-m365-imap")
    oauth = OAuthSettings(authority.authority_url, "app-cli", authority.tenant_id, (), "APP_SECRET")
    path = save_settings(tmp_path / "app.toml", [dataclasses.replace(entry, oauth=oauth)])
    monkeypatch.setenv("APP_SECRET", "wrong-secret")
    argv = ["login", str(path), "--server", "alice-m365-imap", "--client-credentials",
            "--token-cache", str(tmp_path / "cache.json")]
    code = maildiag(argv)
    out = capsys.readouterr().out
    assert code == 1
    assert "token-request-failed" in out
    assert "aadsts7000215" in out
    assert "wrong-secret" not in out


def test_token_decode_graph_audience(
    maildiag: Run,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sandbox.authority is not None
    token = sandbox.authority.issue_token(user=ALICE, audience=MICROSOFT_GRAPH)
    monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))
    code = maildiag(["token", "--decode", "--protocol", "imap", "--user", ALICE])
    out = capsys.readouterr().out
    assert code == 1
    assert "token-wrong-audience" in out
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in out
    assert token not in out
    assert token.split(".")[2] not in out


def test_token_decode_json(
    maildiag: Run,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert sandbox.authority is not None
    token = sandbox.authority.issue_token(user=ALICE)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"Bearer {token}"))
    code = maildiag(["token", "--decode", "--protocol", "smtp", "--json",
                     "--tenant", sandbox.authority.tenant_id])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["claims"]["upn"] == ALICE
    assert [f["id"] for f in data["findings"]] == ["token-ok"]


def test_token_decode_not_jwt(
    maildiag: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("not-a-token"))
    assert maildiag(["token", "--decode"]) == 0
    assert "token-not-jwt" in capsys.readouterr().out


def test_token_decode_empty_input(
    maildiag: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert maildiag(["token", "--decode"]) == 2
    assert "empty" in capsys.readouterr().err
