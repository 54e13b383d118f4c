"""Token decoding and diagnosis, with tokens minted by the sandbox's local authority."""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Iterator

import pytest

from toolkit.findings import Severity
from toolkit.oauth.claims import (
    TokenDecodeError,
    decode_token,
    diagnose_token,
    expected_tenant,
    extract_token,
)
from toolkit.sandbox.authority import (
    EXCHANGE_ONLINE_365,
    MICROSOFT_GRAPH,
    MICROSOFT_GRAPH_APP_ID,
    LocalAuthority,
)
from toolkit.settings import Protocol

ALICE = "alice@m365.sandbox.test"


@pytest.fixture(scope="module")
def authority() -> Iterator[LocalAuthority]:
    """An authority that only mints tokens; it is never started, so nothing listens."""
    yield LocalAuthority(server_ssl_context=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))


def ids(token: str, **kwargs: object) -> list[str]:
    return [finding.id for finding in diagnose_token(token, **kwargs).findings]  # type: ignore[arg-type]


def test_good_delegated_token_ok(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE)
    diagnosis = diagnose_token(
        token, protocol=Protocol.IMAP, user=ALICE, tenant=authority.tenant_id
    )
    assert [f.id for f in diagnosis.findings] == ["token-ok"]
    assert diagnosis.claims is not None
    assert diagnosis.claims.user == ALICE


def test_graph_audience_reported_with_fix(authority: LocalAuthority) -> None:
    for audience in (MICROSOFT_GRAPH, MICROSOFT_GRAPH_APP_ID):
        token = authority.issue_token(user=ALICE, audience=audience)
        (finding,) = diagnose_token(token, protocol=Protocol.IMAP, user=ALICE).findings
        assert finding.id == "token-wrong-audience"
        assert finding.severity is Severity.ERROR
        assert "Microsoft Graph" in finding.message
        assert "https://outlook.office.com/IMAP.AccessAsUser.All" in finding.fix


def test_exchange_365_audience_accepted(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE, audience=EXCHANGE_ONLINE_365)
    assert ids(token, protocol=Protocol.SMTP, user=ALICE) == ["token-ok"]


def test_id_token_recognised_by_client_id(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE, audience="client-123")
    (finding,) = diagnose_token(token, client_id="client-123").findings
    assert finding.id == "token-wrong-audience"
    assert "ID token" in finding.message


def test_missing_scope_per_protocol(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE, scopes=["SMTP.Send"])
    assert ids(token, protocol=Protocol.IMAP, user=ALICE) == ["token-missing-scope"]
    assert ids(token, protocol=Protocol.SMTP, user=ALICE) == ["token-ok"]


def test_app_only_token_needs_role(authority: LocalAuthority) -> None:
    token = authority.issue_token(roles=["IMAP.AccessAsApp"])
    assert ids(token, protocol=Protocol.IMAP, user=ALICE) == ["token-app-only", "token-ok"]
    assert "token-missing-scope" in ids(token, protocol=Protocol.SMTP, user=ALICE)


def test_wrong_user(authority: LocalAuthority) -> None:
    token = authority.issue_token(user="bob@m365.sandbox.test")
    (finding,) = diagnose_token(token, protocol=Protocol.IMAP, user=ALICE).findings
    assert finding.id == "token-wrong-user"
    assert "bob@m365.sandbox.test" in finding.message


def test_wrong_tenant(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE, tenant_id="11111111-2222-3333-4444-555555555555")
    assert ids(token, tenant=authority.tenant_id) == ["token-wrong-tenant"]
    # A domain cannot be compared with tid without a lookup, so it is skipped.
    assert ids(token, tenant="contoso.onmicrosoft.com") == ["token-ok"]


def test_expired_and_expiring(authority: LocalAuthority) -> None:
    assert ids(authority.issue_token(user=ALICE, lifetime=-60)) == ["token-expired"]
    assert ids(authority.issue_token(user=ALICE, lifetime=300)) == ["token-expires-soon"]
    assert ids(authority.issue_token(user=ALICE, lifetime=3600)) == ["token-ok"]


def test_not_yet_valid(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE, not_before_offset=600)
    assert ids(token, now=time.time()) == ["token-not-yet-valid"]


@pytest.mark.parametrize(
    ("provider", "severity"),
    [(None, Severity.WARNING), ("microsoft365", Severity.ERROR), ("gmail", Severity.INFO)],
)
def test_not_jwt(provider: str | None, severity: Severity) -> None:
    (finding,) = diagnose_token("ya29.opaque-google-token", provider=provider).findings
    assert finding.id == "token-not-jwt"
    assert finding.severity is severity
    if provider != "gmail":
        assert "Microsoft 365 access tokens are JWTs" in finding.message


def test_encrypted_jwt_not_readable() -> None:
    with pytest.raises(TokenDecodeError, match="encrypted"):
        decode_token("a.b.c.d.e")


def test_decode_reads_claims_without_key(authority: LocalAuthority) -> None:
    claims = decode_token(authority.issue_token(user=ALICE, scopes=["IMAP.AccessAsUser.All"]))
    assert claims.header["alg"] == "RS256"
    assert claims.scopes == ("IMAP.AccessAsUser.All",)
    assert {row["claim"] for row in claims.rows()} >= {"aud", "scp", "upn", "tid", "exp"}


def test_extract_token_forms(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE)
    xoauth2 = f"user={ALICE}\x01auth=Bearer {token}\x01\x01"
    assert extract_token(f"  Bearer {token}\n").token == token
    assert extract_token(json.dumps({"access_token": token})).token == token
    from_blob = extract_token(base64.b64encode(xoauth2.encode()).decode())
    assert from_blob.token == token
    assert from_blob.user == ALICE
    assert extract_token(xoauth2).user == ALICE


def test_extract_token_empty_raises() -> None:
    with pytest.raises(TokenDecodeError, match="empty"):
        extract_token("  \n")


def test_expected_tenant_from_authority() -> None:
    assert expected_tenant("https://login.microsoftonline.com/abc", "") == "abc"
    assert expected_tenant("https://login.microsoftonline.com/common", "") == ""
    assert expected_tenant("https://login.microsoftonline.com/abc", "xyz") == "xyz"
