"""Settings entries, environment variables and the settings file of a running sandbox."""

from __future__ import annotations

import imaplib
import smtplib
from pathlib import Path

import pytest

from toolkit.checks import check_file
from toolkit.findings import has_errors
from toolkit.sandbox import Sandbox
from toolkit.settings import AuthType, Protocol
from toolkit.settings_file import load_settings, resolve_secrets


def test_settings_cover_users_and_behaviours(sandbox: Sandbox) -> None:
    entries = {entry.name: entry for entry in sandbox.settings()}
    signed_in = [user for user in sandbox.users if user.can_sign_in]
    behaviours = [e for e in sandbox.endpoints if e.behaviour.value != "normal"]
    assert len(entries) == 2 * len(signed_in) + len(behaviours)
    assert "support-m365-imap" not in entries  # a shared mailbox has no sign-in
    dana = entries["dana-dovecot-imap"]
    assert (dana.protocol, dana.port, dana.tls) == (
        Protocol.IMAP, sandbox.endpoint("imap-tls").port, True)
    assert dana.ca_file == sandbox.ca_file
    # Only providers with recommendations are named, so maildiag check has nothing to flag.
    assert dana.provider is None
    assert dana.storage_folder == "Support"
    assert entries["gina-gmail-imap"].provider == "gmail"
    assert entries["alice-m365-imap"].provider == "microsoft365"
    assert entries["chris-courier-imap"].storage_folder == "INBOX.Support"
    smtp = entries["dana-dovecot-smtp"]
    assert (smtp.port, smtp.tls) == (sandbox.endpoint("smtp-starttls").port, False)
    expired = entries["imap-expired-certificate"]
    assert expired.port == sandbox.endpoint("imap-expired-certificate").port
    assert expired.user == "dana@dovecot.sandbox.test"


def test_gmail_entry_names_the_app_password(sandbox: Sandbox) -> None:
    entry = {e.name: e for e in sandbox.settings()}["gina-gmail-smtp"]
    gina = sandbox.user("gina@gmail.sandbox.test")
    assert gina.app_password is not None
    assert entry.password_env == "MAILDIAG_SANDBOX_APP_PASSWORD_GINA_GMAIL_SANDBOX_TEST"
    assert sandbox.environment()[entry.password_env] == gina.app_password.reveal()


def test_microsoft365_entry_uses_oauth2(sandbox: Sandbox) -> None:
    entry = {e.name: e for e in sandbox.settings()}["alice-m365-smtp"]
    assert entry.auth is AuthType.OAUTH2
    assert entry.token_env == "MAILDIAG_SANDBOX_TOKEN_ALICE_M365_SANDBOX_TEST"
    assert entry.oauth is not None
    assert sandbox.authority is not None
    assert entry.oauth.authority == sandbox.authority.authority_url
    assert entry.oauth.scopes == ("https://outlook.office.com/SMTP.Send",)
    assert entry.oauth.tenant == sandbox.tenant.tenant_id


def test_settings_file_round_trip_logs_in(sandbox: Sandbox, tmp_path: Path) -> None:
    default_path = sandbox.write_settings()
    assert default_path.parent == sandbox.folder
    path = sandbox.write_settings(tmp_path / "lab.toml")
    loaded = load_settings(path)
    assert loaded == sandbox.settings()
    environment = sandbox.environment()
    for entry in loaded:
        if entry.auth is not AuthType.BASIC or entry.name not in (
                "chris-courier-imap", "gina-gmail-smtp"):
            continue
        with_secret = resolve_secrets(entry, environment)
        assert with_secret.password is not None
        context = sandbox.client_context()
        if entry.protocol is Protocol.IMAP:
            client = imaplib.IMAP4_SSL(entry.host, entry.port, ssl_context=context, timeout=5)
            assert client.login(entry.user, with_secret.password.reveal())[0] == "OK"
            client.logout()
        else:
            with smtplib.SMTP(entry.host, entry.port, timeout=5) as smtp:
                smtp.starttls(context=context)
                assert smtp.login(entry.user, with_secret.password.reveal())[0] == 235


def test_settings_need_a_running_sandbox() -> None:
    from toolkit.sandbox import SandboxError

    stopped = Sandbox(port_base=0)
    with pytest.raises(SandboxError, match="not running"):
        stopped.settings()
    with pytest.raises(SandboxError, match="not running"):
        stopped.write_settings()


def test_sandbox_settings_pass_check(sandbox: Sandbox) -> None:
    environment = sandbox.environment()
    servers = [resolve_secrets(server, environment) for server in sandbox.settings()]
    findings = check_file(servers)
    assert not has_errors(findings)
    assert {finding.id for finding in findings} <= {"non-standard-port", "storage-folder-nested"}
