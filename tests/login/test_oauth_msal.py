"""msal against the sandbox authority: device code, client credentials, cache, errors explained."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import requests

from toolkit.explain import explain
from toolkit.login.check import check_login
from toolkit.oauth.cache import TokenCache
from toolkit.oauth.http import AuthoritySession, OffAuthorityRequestError
from toolkit.oauth.msal_client import (
    DeviceCodePrompt,
    TokenError,
    acquire_token_client_credentials,
    acquire_token_device_code,
    authority_url,
)
from toolkit.probe.results import Timeouts
from toolkit.sandbox import Sandbox
from toolkit.sandbox.authority import IMAP_SCOPE, SMTP_SCOPE, DeviceFlowOutcome, LocalAuthority
from toolkit.secret import Secret
from toolkit.settings import OAuthSettings, ServerSettings

ALICE = "alice@m365.sandbox.test"
FAST = Timeouts(connect=3, greeting=3, handshake=3, read=5)


def authority_of(sandbox: Sandbox) -> LocalAuthority:
    assert sandbox.authority is not None
    return sandbox.authority


def oauth_for(sandbox: Sandbox, client_id: str, scopes: tuple[str, ...] = ()) -> OAuthSettings:
    authority = authority_of(sandbox)
    return OAuthSettings(authority.base_url, client_id, authority.tenant_id, scopes)


def test_device_code_token_logs_in_on_both_protocols(
    sandbox: Sandbox,
    entries: dict[str, ServerSettings],
    tmp_path: Path,
    connections: list[str],
) -> None:
    authority_of(sandbox).set_device_flow_outcome(
        DeviceFlowOutcome(approve_as=ALICE, pending_polls=1)
    )
    prompts: list[DeviceCodePrompt] = []
    imap = entries["alice-m365-imap"]
    assert imap.oauth is not None
    token = acquire_token_device_code(
        imap.oauth,
        show=prompts.append,
        ca_file=sandbox.ca_file,
        cache=TokenCache(tmp_path / "cache.json"),
        scopes=[IMAP_SCOPE, SMTP_SCOPE],
    )
    assert token.source == "device-code"
    assert token.account == ALICE
    (prompt,) = prompts
    assert prompt.user_code
    assert prompt.verification_uri == authority_of(sandbox).verification_uri

    for name in ("alice-m365-imap", "alice-m365-smtp"):
        check = check_login(entries[name].with_secrets(token=token.token), timeouts=FAST)
        assert check.result.success, check.result.server_text
        assert check.result.mechanism == "XOAUTH2"
    assert connections, "the audit hook recorded no connection"


def test_token_cache_private_and_reused(sandbox: Sandbox, tmp_path: Path) -> None:
    authority_of(sandbox).set_device_flow_outcome(
        DeviceFlowOutcome(approve_as=ALICE, pending_polls=0)
    )
    path = tmp_path / "maildiag" / "cache.json"
    oauth = oauth_for(sandbox, "5a4db0c5-7e1a-4c1e-8a7e-3f0c11e7a001", (IMAP_SCOPE,))
    first = acquire_token_device_code(
        oauth, show=lambda prompt: None, ca_file=sandbox.ca_file, cache=TokenCache(path)
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700

    def fail(prompt: DeviceCodePrompt) -> None:
        raise AssertionError("the cached token should have been used")

    second = acquire_token_device_code(
        oauth, show=fail, ca_file=sandbox.ca_file, cache=TokenCache(path), login_hint=ALICE
    )
    assert first.source == "device-code"
    assert second.source == "cache"


def test_token_cache_in_repository_rejected() -> None:
    repository = Path(__file__).resolve().parents[2]
    with pytest.raises(ValueError, match="inside the repository"):
        TokenCache(repository / "msal_token_cache.json")


def test_client_credentials_app_only_token(sandbox: Sandbox) -> None:
    authority_of(sandbox).register_client(
        "app-good", secret="right-secret", app_roles=["IMAP.AccessAsApp"]
    )
    token = acquire_token_client_credentials(
        oauth_for(sandbox, "app-good"),
        client_secret=Secret("right-secret"),
        ca_file=sandbox.ca_file,
    )
    assert token.source == "client-credentials"
    assert token.account is None


def test_client_credentials_wrong_secret_explained(sandbox: Sandbox) -> None:
    authority_of(sandbox).register_client("app-secret", secret="right-secret")
    with pytest.raises(TokenError) as raised:
        acquire_token_client_credentials(
            oauth_for(sandbox, "app-secret"),
            client_secret=Secret("wrong-secret"),
            ca_file=sandbox.ca_file,
        )
    assert raised.value.error == "invalid_client"
    assert "AADSTS7000215" in str(raised.value)
    assert "wrong-secret" not in str(raised.value)
    assert [entry.id for entry in explain(str(raised.value))] == ["aadsts7000215"]


def test_client_credentials_delegated_scope_explained(sandbox: Sandbox) -> None:
    authority_of(sandbox).register_client("app-scope", secret="s3cret-value")
    with pytest.raises(TokenError) as raised:
        acquire_token_client_credentials(
            oauth_for(sandbox, "app-scope", (IMAP_SCOPE,)),
            client_secret=Secret("s3cret-value"),
            ca_file=sandbox.ca_file,
        )
    assert [entry.id for entry in explain(str(raised.value))] == ["invalid-scope"]


def test_device_code_confidential_app_explained(sandbox: Sandbox) -> None:
    authority = authority_of(sandbox)
    authority.register_client("app-confidential", secret="s3cret-value")
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    with pytest.raises(TokenError) as raised:
        acquire_token_device_code(
            oauth_for(sandbox, "app-confidential", (IMAP_SCOPE,)),
            show=lambda prompt: None,
            ca_file=sandbox.ca_file,
        )
    assert [entry.id for entry in explain(str(raised.value))] == ["aadsts7000218"]


def test_unknown_client_explained(sandbox: Sandbox) -> None:
    with pytest.raises(TokenError) as raised:
        acquire_token_device_code(
            oauth_for(sandbox, "no-such-app", (IMAP_SCOPE,)),
            show=lambda prompt: None,
            ca_file=sandbox.ca_file,
        )
    assert [entry.id for entry in explain(str(raised.value))] == ["aadsts700016"]


def test_missing_consent_explained(sandbox: Sandbox) -> None:
    authority = authority_of(sandbox)
    authority.register_client("app-consent", consented_scopes=[IMAP_SCOPE])
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    with pytest.raises(TokenError) as raised:
        acquire_token_device_code(
            oauth_for(sandbox, "app-consent", (SMTP_SCOPE,)),
            show=lambda prompt: None,
            ca_file=sandbox.ca_file,
        )
    assert [entry.id for entry in explain(str(raised.value))] == ["aadsts65001"]


def test_session_stops_other_origin(sandbox: Sandbox, connections: list[str]) -> None:
    authority = authority_of(sandbox)
    with AuthoritySession(authority.authority_url, sandbox.ca_file) as session:
        with pytest.raises(OffAuthorityRequestError, match="only to its authority"):
            session.get("https://login.microsoftonline.com/common/discovery/instance")
        with pytest.raises(OffAuthorityRequestError):
            session.get(f"https://127.0.0.1:{authority.port + 1}/")
    assert connections == []


def test_session_ignores_ca_bundle_variables(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/bundle.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    authority = authority_of(sandbox)
    url = f"{authority.authority_url}/v2.0/.well-known/openid-configuration"
    with AuthoritySession(authority.authority_url, sandbox.ca_file) as session:
        assert session.get(url, timeout=10).status_code == 200


def test_session_verifies_certificate(sandbox: Sandbox) -> None:
    authority = authority_of(sandbox)
    url = f"{authority.authority_url}/v2.0/.well-known/openid-configuration"
    with AuthoritySession(authority.authority_url) as session:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(url, timeout=10)


def test_authority_url_adds_tenant() -> None:
    oauth = OAuthSettings("https://login.example.test", "client", "tenant-1")
    assert authority_url(oauth) == "https://login.example.test/tenant-1"
    with_path = OAuthSettings("https://login.example.test/other/", "client", "tenant-1")
    assert authority_url(with_path) == "https://login.example.test/other"
