"""Login failures from public reports, each giving its named cause and fix on the sandbox."""

from __future__ import annotations

import dataclasses

import pytest

from toolkit.explain import explain
from toolkit.findings import Finding
from toolkit.login.check import check_login
from toolkit.oauth.claims import diagnose_token
from toolkit.oauth.msal_client import TokenError, acquire_token_device_code
from toolkit.sandbox import Sandbox
from toolkit.sandbox.authority import (
    EXCHANGE_ONLINE,
    MICROSOFT_GRAPH,
    SANDBOX_PUBLIC_CLIENT_ID,
)
from toolkit.settings import AuthType, OAuthSettings, ServerSettings

SHARED = "support@m365.sandbox.test"


def by_id(findings: tuple[Finding, ...] | list[Finding], finding_id: str) -> Finding:
    matches = [finding for finding in findings if finding.id == finding_id]
    assert matches, [finding.id for finding in findings]
    return matches[0]


def test_gmail_account_password_needs_app_password(
    sandbox: Sandbox, entries: dict[str, ServerSettings]
) -> None:
    gina = sandbox.user("gina@gmail.sandbox.test")
    entry = entries["gina-gmail-smtp"].with_secrets(password=gina.password)
    finding = by_id(check_login(entry).findings, "gmail-app-password-required")
    assert "534" in finding.message or "app password" in finding.message
    assert "app password" in finding.fix


def test_m365_imap_login_failed_with_right_password(
    sandbox: Sandbox, entries: dict[str, ServerSettings]
) -> None:
    alice = sandbox.user("alice@m365.sandbox.test")
    entry = dataclasses.replace(entries["alice-m365-imap"], auth=AuthType.BASIC)
    entry = entry.with_secrets(password=alice.password)
    finding = by_id(check_login(entry).findings, "m365-login-failed")
    assert "Basic authentication is retired" in finding.message
    assert "OAuth2" in finding.fix


def test_smtp_auth_disabled_names_the_switch(
    sandbox: Sandbox, entries: dict[str, ServerSettings]
) -> None:
    entry = entries["carol-m365-smtp"].with_secrets(
        token=sandbox.access_token("carol@m365.sandbox.test")
    )
    findings = check_login(entry).findings
    ids = {finding.id for finding in findings}
    assert ids & {"m365-smtp-auth-disabled-tenant", "m365-smtp-auth-disabled-mailbox"}
    finding = next(f for f in findings if f.id.startswith("m365-smtp-auth-disabled"))
    assert "SmtpClientAuthenticationDisabled" in finding.fix


def test_tenant_wide_smtp_auth_reply_explained() -> None:
    (entry,) = explain(
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
        "the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."
    )
    assert entry.id == "m365-smtp-auth-disabled-tenant"
    assert "SmtpClientAuthenticationDisabled" in entry.fix


def test_graph_token_for_imap_names_right_scope(sandbox: Sandbox) -> None:
    authority = sandbox.authority
    assert authority is not None
    token = authority.issue_token(
        user="alice@m365.sandbox.test", client_id=SANDBOX_PUBLIC_CLIENT_ID,
        audience=MICROSOFT_GRAPH, scopes=("Mail.Read",),
    )
    diagnosis = diagnose_token(token, protocol="imap", user="alice@m365.sandbox.test")
    finding = by_id(diagnosis.findings, "token-wrong-audience")
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in finding.fix
    assert token not in repr(diagnosis)


def test_public_flow_on_confidential_app_explained(sandbox: Sandbox) -> None:
    authority = sandbox.authority
    assert authority is not None
    client_id = "7d1e6c39-0b4e-4f0a-9a51-3c7f2b8e9d10"
    authority.register_client(client_id, secret="sandbox-only-secret",
                              allow_public_client_flows=False)
    oauth = OAuthSettings(authority.authority_url, client_id, authority.tenant_id,
                          (f"{EXCHANGE_ONLINE}/IMAP.AccessAsUser.All",))
    with pytest.raises(TokenError) as caught:
        acquire_token_device_code(oauth, show=lambda prompt: None, ca_file=sandbox.ca_file,
                                  timeout=5)
    explanations = explain(f"{caught.value.error}: {caught.value.description}")
    assert [entry.id for entry in explanations] == ["aadsts7000218"]
    assert "Allow public client flows" in explanations[0].fix
    assert "secret" in explanations[0].fix


def test_authenticated_but_not_connected_explained() -> None:
    (entry,) = explain("A2 BAD User is authenticated but not connected.")
    causes = " ".join(cause.cause for cause in entry.causes)
    assert "another mailbox in the XOAUTH2 user name" in causes
    assert "Full Access" in causes


def test_shared_mailbox_xoauth2_smtp_names_delegate(
    sandbox: Sandbox, entries: dict[str, ServerSettings]
) -> None:
    authority = sandbox.authority
    assert authority is not None
    token = authority.issue_token(
        user=SHARED, client_id=SANDBOX_PUBLIC_CLIENT_ID, audience=EXCHANGE_ONLINE,
        scopes=("SMTP.Send",),
    )
    entry = dataclasses.replace(entries["alice-m365-smtp"], user=SHARED).with_secrets(
        token=token
    )
    check = check_login(entry)
    assert "535" in check.result.server_text
    finding = by_id(check.findings, "m365-smtp-authentication-unsuccessful")
    assert "shared mailbox" in finding.message
    assert "delegate" in finding.message
