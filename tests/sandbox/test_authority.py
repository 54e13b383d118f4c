"""Tests of the sandbox OAuth2 authority, with msal as the client, over loopback HTTPS only."""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import msal
import pytest
import requests
import trustme

from toolkit.sandbox.authority import (
    EXCHANGE_APP_SCOPE,
    EXCHANGE_ONLINE,
    EXCHANGE_ONLINE_365,
    EXCHANGE_ONLINE_APP_ID,
    IMAP_SCOPE,
    MICROSOFT_GRAPH,
    MICROSOFT_GRAPH_APP_ID,
    SANDBOX_PUBLIC_CLIENT_ID,
    SMTP_SCOPE,
    TOKEN_CHECK_REASONS,
    DeviceFlowOutcome,
    LocalAuthority,
    TokenCheck,
)
from toolkit.sandbox.msal_support import (
    LoopbackSession,
    NonLoopbackRequestError,
    loopback_msal_options,
    msal_http_client,
)

ALICE = "alice@contoso.sandbox.test"
BOB = "bob@contoso.sandbox.test"
DAEMON_CLIENT_ID = "0b5e11a9-3c2d-4e5f-8a9b-c0d1e2f3a4b5"
CANARY_SECRET = "canary-Q7vX2pL9-client-secret"
OTHER_TENANT_ID = "11111111-2222-4333-8444-555555555555"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class _NetworkLog:
    """Record the host of every socket connect and name lookup while recording is on.

    An audit hook cannot be removed once added, so one hook serves the whole session
    and does nothing while `recording` is False.
    """

    def __init__(self) -> None:
        self.recording = False
        self.targets: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.recording or not event.startswith("socket."):
            return
        if event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else address
        elif event in {
            "socket.getaddrinfo",
            "socket.gethostbyname",
            "socket.gethostbyname_ex",
            "socket.gethostbyaddr",
            "socket.getnameinfo",
        }:
            host = args[0][0] if event == "socket.getnameinfo" else args[0]
        else:
            return
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        with self._lock:
            self.targets.append((event, str(host)))


_NETWORK_LOG = _NetworkLog()
sys.addaudithook(_NETWORK_LOG.hook)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_log() -> Iterator[list[tuple[str, str]]]:
    """Record connects and lookups during the test, and fail it if any left loopback."""
    _NETWORK_LOG.targets = []
    _NETWORK_LOG.recording = True
    try:
        yield _NETWORK_LOG.targets
    finally:
        _NETWORK_LOG.recording = False
    outside = [target for target in _NETWORK_LOG.targets if not _is_loopback(target[1])]
    assert outside == []


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("authority-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "::1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def authority(server_context: ssl.SSLContext) -> Iterator[LocalAuthority]:
    authority = LocalAuthority(server_ssl_context=server_context, port=0)
    authority.register_user(ALICE, display_name="Alice")
    authority.register_user(BOB)
    authority.register_client(
        DAEMON_CLIENT_ID, secret=CANARY_SECRET, app_roles=["IMAP.AccessAsApp", "SMTP.SendAsApp"]
    )
    authority.grant_mailbox_access(DAEMON_CLIENT_ID, ALICE)
    with authority:
        yield authority


@pytest.fixture
def http_client(ca_file: Path) -> Iterator[LoopbackSession]:
    session = msal_http_client(ca_file)
    yield session
    session.close()


@pytest.fixture
def public_app(
    network_log: list[tuple[str, str]], authority: LocalAuthority, http_client: LoopbackSession
) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        SANDBOX_PUBLIC_CLIENT_ID, **loopback_msal_options(authority.authority_url, http_client)
    )


def _confidential_app(
    authority: LocalAuthority, http_client: LoopbackSession, client_id: str, secret: str
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        **loopback_msal_options(authority.authority_url, http_client, confidential=True),
    )


def _decode_verified(
    token: str, authority: LocalAuthority, http_client: LoopbackSession, audience: str
) -> dict[str, Any]:
    """Decode a token with the key published at the discovery document's jwks_uri."""
    discovery = f"{authority.authority_url}/v2.0/.well-known/openid-configuration"
    jwks_uri = http_client.get(discovery).json()["jwks_uri"]
    key_set = jwt.PyJWKSet.from_dict(http_client.get(jwks_uri).json())
    key = key_set[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["RS256"], audience=audience)
    return claims


def _unverified(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _assert_microsoft_error(body: dict[str, Any], error: str, code: int | None) -> None:
    assert body["error"] == error
    description = body["error_description"]
    if code is None:
        assert body["error_codes"] == []
        assert not description.startswith("AADSTS")
    else:
        assert description.startswith(f"AADSTS{code}: ")
        assert body["error_codes"] == [code]
    assert "\r\nTrace ID: " in description
    assert "\r\nCorrelation ID: " in description
    assert str(uuid.UUID(body["trace_id"])) == body["trace_id"]
    assert str(uuid.UUID(body["correlation_id"])) == body["correlation_id"]
    assert body["timestamp"].endswith("Z")


def _post(
    http_client: LoopbackSession, authority: LocalAuthority, endpoint: str, form: dict[str, str]
) -> requests.Response:
    return http_client.post(f"{authority.authority_url}/oauth2/v2.0/{endpoint}", data=form)


# Discovery and construction


def test_discovery_document_points_at_loopback(
    authority: LocalAuthority, http_client: LoopbackSession
) -> None:
    url = f"{authority.authority_url}/v2.0/.well-known/openid-configuration"
    document = http_client.get(url).json()

    assert authority.authority_url == f"https://127.0.0.1:{authority.port}/{authority.tenant_id}"
    assert document["issuer"] == authority.issuer
    for key in ("authorization_endpoint", "token_endpoint", "device_authorization_endpoint"):
        assert document[key].startswith(authority.authority_url + "/oauth2/v2.0/")
    assert document["jwks_uri"] == f"{authority.authority_url}/discovery/v2.0/keys"


def test_tenant_domain_works_in_path(
    authority: LocalAuthority, http_client: LoopbackSession
) -> None:
    url = f"{authority.base_url}/{authority.tenant_domain}/v2.0/.well-known/openid-configuration"
    response = http_client.get(url)

    assert response.status_code == 200
    assert response.json()["issuer"] == authority.issuer


# "0.0.0.0" is here to prove that binding every interface is rejected.
@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "localhost", "auth.example.test"])  # noqa: S104
def test_non_loopback_host_rejected(server_context: ssl.SSLContext, host: str) -> None:
    with pytest.raises(ValueError, match="loopback IP address"):
        LocalAuthority(server_ssl_context=server_context, host=host)


def test_ipv6_loopback_serves(server_context: ssl.SSLContext, http_client: LoopbackSession) -> None:
    if not socket.has_ipv6:
        pytest.skip("this Python has no IPv6 support")
    authority = LocalAuthority(server_ssl_context=server_context, host="::1")
    try:
        authority.start()
    except OSError as error:
        pytest.skip(f"cannot bind ::1 on this machine: {error}")
    try:
        assert authority.authority_url.startswith("https://[::1]:")
        response = http_client.get(
            f"{authority.authority_url}/v2.0/.well-known/openid-configuration"
        )
        assert response.json()["issuer"] == authority.issuer
    finally:
        authority.stop()


def test_unknown_path_returns_404(authority: LocalAuthority, http_client: LoopbackSession) -> None:
    response = http_client.get(f"{authority.base_url}/nowhere")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


# Device code flow with msal


def test_device_flow_end_to_end(
    authority: LocalAuthority,
    public_app: msal.PublicClientApplication,
    http_client: LoopbackSession,
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=1))

    flow = public_app.initiate_device_flow(scopes=[IMAP_SCOPE, SMTP_SCOPE])
    assert "error" not in flow
    assert flow["verification_uri"] == authority.verification_uri
    assert flow["verification_uri"].startswith("https://127.0.0.1:")
    assert flow["interval"] == 1
    assert flow["expires_in"] == 900
    assert flow["user_code"] in flow["message"]
    assert flow["verification_uri"] in flow["message"]

    started = time.monotonic()
    result = public_app.acquire_token_by_device_flow(flow)
    elapsed = time.monotonic() - started

    assert "error" not in result, result.get("error_description")
    assert elapsed >= 0.9  # one authorization_pending reply, then a wait of interval=1 s
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3600
    assert {"refresh_token", "id_token", "client_info"} <= set(result)
    assert result["scope"].split() == [
        IMAP_SCOPE,
        SMTP_SCOPE,
        "offline_access",
        "openid",
        "profile",
    ]

    claims = _decode_verified(result["access_token"], authority, http_client, EXCHANGE_ONLINE)
    now = time.time()
    assert claims["aud"] == EXCHANGE_ONLINE
    assert claims["iss"] == f"https://sts.windows.net/{authority.tenant_id}/"
    assert claims["tid"] == authority.tenant_id
    assert claims["ver"] == "1.0"
    assert claims["scp"] == "IMAP.AccessAsUser.All SMTP.Send"
    assert claims["upn"] == ALICE
    assert claims["unique_name"] == ALICE
    assert claims["name"] == "Alice"
    assert claims["appid"] == SANDBOX_PUBLIC_CLIENT_ID
    assert claims["appidacr"] == "0"
    assert claims["idtyp"] == "user"
    assert str(uuid.UUID(claims["oid"])) == claims["oid"]
    assert "roles" not in claims
    assert abs(claims["iat"] - now) < 10
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == 3600

    id_claims = result["id_token_claims"]
    assert id_claims["aud"] == SANDBOX_PUBLIC_CLIENT_ID
    assert id_claims["iss"] == authority.issuer
    assert id_claims["preferred_username"] == ALICE
    assert id_claims["oid"] == claims["oid"]

    for protocol in ("imap", "smtp"):
        assert authority.check_token(result["access_token"], protocol=protocol, user=ALICE) == (
            TokenCheck(True, "ok", f"delegated token of {ALICE}")
        )
    assert authority.pending_device_codes() == ()


def test_device_flow_silent_tokens(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    first = public_app.acquire_token_by_device_flow(
        public_app.initiate_device_flow(scopes=[IMAP_SCOPE, SMTP_SCOPE])
    )
    assert "access_token" in first

    accounts = public_app.get_accounts()
    assert [account["username"] for account in accounts] == [ALICE]
    assert accounts[0]["realm"] == authority.tenant_id
    assert accounts[0]["local_account_id"] == _unverified(first["access_token"])["oid"]

    cached = public_app.acquire_token_silent([IMAP_SCOPE], account=accounts[0])
    assert cached is not None
    assert cached["token_source"] == "cache"
    assert cached["access_token"] == first["access_token"]

    # A forced refresh goes through the refresh token grant.
    refreshed = public_app.acquire_token_silent(
        [IMAP_SCOPE, SMTP_SCOPE], account=accounts[0], force_refresh=True
    )
    assert refreshed is not None
    assert refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != first["access_token"]
    assert _unverified(refreshed["access_token"])["scp"] == "IMAP.AccessAsUser.All SMTP.Send"
    assert authority.check_token(refreshed["access_token"], protocol="smtp", user=ALICE).ok

    # A scope the user never consented to needs a new interactive sign-in.
    pop = public_app.acquire_token_silent_with_error(
        [f"{EXCHANGE_ONLINE}/POP.AccessAsUser.All"], account=accounts[0]
    )
    assert pop is not None
    _assert_microsoft_error(pop, "invalid_grant", 65001)


def test_device_flow_verification_page(
    authority: LocalAuthority,
    public_app: msal.PublicClientApplication,
    http_client: LoopbackSession,
) -> None:
    flow = public_app.initiate_device_flow(scopes=[IMAP_SCOPE])
    page = http_client.get(flow["verification_uri"])
    assert page.status_code == 200
    assert flow["user_code"] in page.text
    assert BOB in page.text

    reply = http_client.post(
        flow["verification_uri"],
        data={"user_code": flow["user_code"], "username": BOB, "action": "approve"},
    )
    assert f"Signed in {BOB} for code {flow['user_code']}" in reply.text

    started = time.monotonic()
    result = public_app.acquire_token_by_device_flow(flow)
    assert time.monotonic() - started < 0.9  # approved before the first poll
    assert "access_token" in result, result.get("error_description")
    assert _unverified(result["access_token"])["upn"] == BOB


def test_device_flow_waits_for_manual_approval(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    flow = public_app.initiate_device_flow(scopes=[IMAP_SCOPE])
    timer = threading.Timer(1.5, authority.approve_device_code, (flow["user_code"], ALICE))
    timer.start()
    try:
        result = public_app.acquire_token_by_device_flow(flow)
    finally:
        timer.join()
    assert "access_token" in result, result.get("error_description")
    assert _unverified(result["access_token"])["upn"] == ALICE


def test_approve_checks_code_and_user(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    flow = public_app.initiate_device_flow(scopes=[IMAP_SCOPE])

    with pytest.raises(ValueError, match="no pending device-code sign-in"):
        authority.approve_device_code("BCDFGHJKL", ALICE)
    with pytest.raises(ValueError, match="is not registered"):
        authority.approve_device_code(flow["user_code"], "mallory@contoso.sandbox.test")
    authority.approve_device_code(flow["user_code"].lower(), ALICE)
    (pending,) = authority.pending_device_codes()
    assert pending.approved_by == ALICE
    assert pending.client_id == SANDBOX_PUBLIC_CLIENT_ID


def test_outcome_for_unknown_user_rejected(authority: LocalAuthority) -> None:
    with pytest.raises(ValueError, match="is not registered"):
        authority.set_device_flow_outcome(
            DeviceFlowOutcome(approve_as="nobody@contoso.sandbox.test")
        )
    with pytest.raises(ValueError, match="at most one"):
        DeviceFlowOutcome(approve_as=ALICE, decline=True)


@pytest.mark.parametrize(
    ("outcome", "protocol", "reason"),
    [
        (DeviceFlowOutcome(audience=MICROSOFT_GRAPH), "imap", "wrong-audience"),
        (DeviceFlowOutcome(audience=MICROSOFT_GRAPH_APP_ID), "smtp", "wrong-audience"),
        (DeviceFlowOutcome(scopes=("SMTP.Send",)), "imap", "missing-scope"),
        (DeviceFlowOutcome(scopes=("SMTP.Send",)), "smtp", "ok"),
        (DeviceFlowOutcome(tenant_id=OTHER_TENANT_ID), "imap", "wrong-tenant"),
        (DeviceFlowOutcome(lifetime=0), "smtp", "expired"),
        (DeviceFlowOutcome(not_before_offset=600), "imap", "not-yet-valid"),
    ],
)
def test_device_flow_outcome_stages_claims(
    authority: LocalAuthority,
    public_app: msal.PublicClientApplication,
    outcome: DeviceFlowOutcome,
    protocol: str,
    reason: str,
) -> None:
    staged = DeviceFlowOutcome(
        approve_as=ALICE,
        pending_polls=0,
        audience=outcome.audience,
        scopes=outcome.scopes,
        tenant_id=outcome.tenant_id,
        lifetime=outcome.lifetime,
        not_before_offset=outcome.not_before_offset,
    )
    authority.set_device_flow_outcome(staged)

    result = public_app.acquire_token_by_device_flow(
        public_app.initiate_device_flow(scopes=[IMAP_SCOPE, SMTP_SCOPE])
    )

    assert "access_token" in result, result.get("error_description")
    assert (
        authority.check_token(result["access_token"], protocol=protocol, user=ALICE).reason
        == reason
    )


def test_scope_without_resource_gives_graph_token(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))

    result = public_app.acquire_token_by_device_flow(
        public_app.initiate_device_flow(scopes=["IMAP.AccessAsUser.All"])
    )

    assert "access_token" in result, result.get("error_description")
    claims = _unverified(result["access_token"])
    assert claims["aud"] == MICROSOFT_GRAPH
    assert claims["scp"] == "IMAP.AccessAsUser.All"
    check = authority.check_token(result["access_token"], protocol="imap", user=ALICE)
    assert check.reason == "wrong-audience"
    assert MICROSOFT_GRAPH in check.detail


def test_device_flow_declined(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(decline=True, pending_polls=0))

    result = public_app.acquire_token_by_device_flow(public_app.initiate_device_flow([IMAP_SCOPE]))

    _assert_microsoft_error(result, "authorization_declined", None)


def test_device_flow_declined_by_api(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    flow = public_app.initiate_device_flow([IMAP_SCOPE])
    authority.decline_device_code(flow["user_code"])

    result = public_app.acquire_token_by_device_flow(flow)

    _assert_microsoft_error(result, "authorization_declined", None)


def test_device_flow_expired(
    authority: LocalAuthority, public_app: msal.PublicClientApplication
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(expire=True, pending_polls=0))

    result = public_app.acquire_token_by_device_flow(public_app.initiate_device_flow([IMAP_SCOPE]))

    _assert_microsoft_error(result, "expired_token", 70019)


def test_device_flow_pending_reply(authority: LocalAuthority, http_client: LoopbackSession) -> None:
    flow = _post(
        http_client,
        authority,
        "devicecode",
        {"client_id": SANDBOX_PUBLIC_CLIENT_ID, "scope": f"{IMAP_SCOPE} openid"},
    ).json()

    form = {
        "grant_type": DEVICE_CODE_GRANT,
        "client_id": SANDBOX_PUBLIC_CLIENT_ID,
        "device_code": flow["device_code"],
    }
    pending = _post(http_client, authority, "token", form)
    unknown = _post(http_client, authority, "token", {**form, "device_code": "not-issued"})

    assert pending.status_code == 400
    _assert_microsoft_error(pending.json(), "authorization_pending", 70016)
    _assert_microsoft_error(unknown.json(), "bad_verification_code", None)


def test_consent_missing_gives_aadsts65001(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    client_id = "c0115e47-0000-4000-8000-000000000001"
    authority.register_client(client_id, consented_scopes=[IMAP_SCOPE])
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    app = msal.PublicClientApplication(
        client_id, **loopback_msal_options(authority.authority_url, http_client)
    )

    rejected = app.acquire_token_by_device_flow(app.initiate_device_flow([IMAP_SCOPE, SMTP_SCOPE]))
    allowed = app.acquire_token_by_device_flow(app.initiate_device_flow([IMAP_SCOPE]))

    _assert_microsoft_error(rejected, "invalid_grant", 65001)
    assert "SMTP.Send" in rejected["error_description"]
    assert _unverified(allowed["access_token"])["scp"] == "IMAP.AccessAsUser.All"


def test_confidential_device_flow_needs_secret(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    app = msal.PublicClientApplication(
        DAEMON_CLIENT_ID, **loopback_msal_options(authority.authority_url, http_client)
    )

    flow = app.initiate_device_flow([IMAP_SCOPE])
    result = app.acquire_token_by_device_flow(flow)

    assert "user_code" in flow
    _assert_microsoft_error(result, "invalid_client", 7000218)


def test_confidential_client_allows_public_flows(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    client_id = "c0115e47-0000-4000-8000-000000000002"
    authority.register_client(client_id, secret="other-secret", allow_public_client_flows=True)
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=BOB, pending_polls=0))
    app = msal.PublicClientApplication(
        client_id, **loopback_msal_options(authority.authority_url, http_client)
    )

    result = app.acquire_token_by_device_flow(app.initiate_device_flow([SMTP_SCOPE]))

    assert "access_token" in result, result.get("error_description")
    assert authority.check_token(result["access_token"], protocol="smtp", user=BOB).ok


# Client credentials with msal


def test_client_credentials_with_secret(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    app = _confidential_app(authority, http_client, DAEMON_CLIENT_ID, CANARY_SECRET)

    result = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    again = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])

    assert "access_token" in result, result.get("error_description")
    assert result["token_source"] == "identity_provider"
    assert again["token_source"] == "cache"
    assert again["access_token"] == result["access_token"]

    claims = _decode_verified(result["access_token"], authority, http_client, EXCHANGE_ONLINE_365)
    assert claims["roles"] == ["IMAP.AccessAsApp", "SMTP.SendAsApp"]
    assert claims["appid"] == DAEMON_CLIENT_ID
    assert claims["appidacr"] == "1"
    assert claims["idtyp"] == "app"
    assert "scp" not in claims
    assert "upn" not in claims

    token = result["access_token"]
    assert authority.check_token(token, protocol="imap", user=ALICE).ok
    assert authority.check_token(token, protocol="smtp", user=ALICE).ok
    assert authority.check_token(token, protocol="imap", user=BOB).reason == "mailbox-not-granted"


def test_client_credentials_wrong_secret(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    app = _confidential_app(authority, http_client, DAEMON_CLIENT_ID, "not-the-secret")

    result = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])

    assert "access_token" not in result
    _assert_microsoft_error(result, "invalid_client", 7000215)


def test_client_credentials_without_app_roles(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    client_id = "c0115e47-0000-4000-8000-000000000003"
    authority.register_client(client_id, secret="roleless-secret")
    authority.grant_mailbox_access(client_id, ALICE)
    app = _confidential_app(authority, http_client, client_id, "roleless-secret")

    result = app.acquire_token_for_client([EXCHANGE_APP_SCOPE])

    assert "roles" not in _unverified(result["access_token"])
    check = authority.check_token(result["access_token"], protocol="imap", user=ALICE)
    assert check.reason == "missing-scope"
    assert "IMAP.AccessAsApp" in check.detail


# Error replies in Microsoft's shape


@pytest.mark.parametrize(
    ("endpoint", "form", "error", "code", "status"),
    [
        pytest.param(
            "devicecode",
            {"client_id": "unknown-app", "scope": IMAP_SCOPE},
            "unauthorized_client",
            700016,
            400,
            id="unknown-client-devicecode",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "client_credentials",
                "client_id": "unknown-app",
                "scope": EXCHANGE_APP_SCOPE,
            },
            "unauthorized_client",
            700016,
            400,
            id="unknown-client-token",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "client_credentials",
                "client_id": DAEMON_CLIENT_ID,
                "client_secret": "wrong",
                "scope": EXCHANGE_APP_SCOPE,
            },
            "invalid_client",
            7000215,
            401,
            id="wrong-secret",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "client_credentials",
                "client_id": DAEMON_CLIENT_ID,
                "scope": EXCHANGE_APP_SCOPE,
            },
            "invalid_client",
            7000218,
            401,
            id="confidential-client-without-secret",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "client_credentials",
                "client_id": SANDBOX_PUBLIC_CLIENT_ID,
                "scope": EXCHANGE_APP_SCOPE,
            },
            "invalid_client",
            7000218,
            401,
            id="public-client-credentials-grant",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "refresh_token",
                "client_id": SANDBOX_PUBLIC_CLIENT_ID,
                "client_secret": "anything",
                "refresh_token": "whatever",
            },
            "invalid_client",
            700025,
            401,
            id="public-client-sends-secret",
        ),
        pytest.param(
            "devicecode",
            {"client_id": SANDBOX_PUBLIC_CLIENT_ID, "scope": f"{EXCHANGE_ONLINE}/IMAP.Everything"},
            "invalid_scope",
            70011,
            400,
            id="unknown-scope",
        ),
        pytest.param(
            "devicecode",
            {"client_id": SANDBOX_PUBLIC_CLIENT_ID, "scope": f"{IMAP_SCOPE} User.Read"},
            "invalid_scope",
            700022,
            400,
            id="two-resources",
        ),
        pytest.param(
            "devicecode",
            {"client_id": SANDBOX_PUBLIC_CLIENT_ID, "scope": "https://api.example.test/Read"},
            "invalid_resource",
            500011,
            400,
            id="unknown-resource",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "client_credentials",
                "client_id": DAEMON_CLIENT_ID,
                "client_secret": CANARY_SECRET,
                "scope": IMAP_SCOPE,
            },
            "invalid_scope",
            1002012,
            400,
            id="client-credentials-without-default",
        ),
        pytest.param(
            "token",
            {"grant_type": "password", "client_id": SANDBOX_PUBLIC_CLIENT_ID},
            "unsupported_grant_type",
            70003,
            400,
            id="unsupported-grant",
        ),
        pytest.param(
            "token",
            {
                "grant_type": "refresh_token",
                "client_id": SANDBOX_PUBLIC_CLIENT_ID,
                "refresh_token": "never-issued",
                "scope": IMAP_SCOPE,
            },
            "invalid_grant",
            70000,
            400,
            id="unknown-refresh-token",
        ),
        pytest.param(
            "token",
            {"grant_type": "client_credentials", "scope": EXCHANGE_APP_SCOPE},
            "invalid_request",
            900144,
            400,
            id="missing-client-id",
        ),
    ],
)
def test_error_reply_shape(
    authority: LocalAuthority,
    http_client: LoopbackSession,
    endpoint: str,
    form: dict[str, str],
    error: str,
    code: int,
    status: int,
) -> None:
    response = _post(http_client, authority, endpoint, form)

    assert response.status_code == status
    assert response.headers["Cache-Control"] == "no-store"
    _assert_microsoft_error(response.json(), error, code)


@pytest.mark.parametrize(("length", "status"), [("abc", 400), ("-5", 400), ("1048576", 413)])
def test_invalid_content_length_rejected(
    authority: LocalAuthority, ca: trustme.CA, length: str, status: int
) -> None:
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    request = (
        f"POST /{authority.tenant_id}/oauth2/v2.0/token HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nContent-Length: {length}\r\n\r\n"
    )

    with socket.create_connection(("127.0.0.1", authority.port), timeout=5) as raw:
        with client_context.wrap_socket(raw, server_hostname="127.0.0.1") as connection:
            connection.sendall(request.encode())
            reply = b""
            while chunk := connection.recv(4096):
                reply += chunk

    status_line = reply.split(b"\r\n", 1)[0].decode()
    assert status_line.startswith(f"HTTP/1.0 {status} ")
    assert b"Content-Length must be 0 to 65536 bytes" in reply


def test_unknown_tenant_reply(authority: LocalAuthority, http_client: LoopbackSession) -> None:
    response = http_client.get(
        f"{authority.base_url}/fabrikam.example.test/v2.0/.well-known/openid-configuration"
    )

    assert response.status_code == 400
    _assert_microsoft_error(response.json(), "invalid_request", 90002)


def test_unknown_client_through_msal(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    app = msal.PublicClientApplication(
        "unknown-app", **loopback_msal_options(authority.authority_url, http_client)
    )

    flow = app.initiate_device_flow([IMAP_SCOPE])

    _assert_microsoft_error(flow, "unauthorized_client", 700016)


def test_client_secret_basic_accepted(
    authority: LocalAuthority, http_client: LoopbackSession
) -> None:
    form = {"grant_type": "client_credentials", "scope": EXCHANGE_APP_SCOPE}

    good = http_client.post(
        f"{authority.authority_url}/oauth2/v2.0/token",
        data=form,
        auth=(DAEMON_CLIENT_ID, CANARY_SECRET),
    )
    bad = http_client.post(
        f"{authority.authority_url}/oauth2/v2.0/token", data=form, auth=(DAEMON_CLIENT_ID, "nope")
    )

    assert good.status_code == 200
    assert "access_token" in good.json()
    _assert_microsoft_error(bad.json(), "invalid_client", 7000215)


# check_token verdicts


@pytest.fixture(params=["imap", "smtp"])
def protocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_check_ok(authority: LocalAuthority, protocol: str) -> None:
    token = authority.issue_token(user=ALICE)

    check = authority.check_token(token, protocol=protocol, user="Alice@Contoso.Sandbox.Test")

    assert check == TokenCheck(True, "ok", f"delegated token of {ALICE}")


@pytest.mark.parametrize(
    "audience",
    [EXCHANGE_ONLINE, EXCHANGE_ONLINE_365, EXCHANGE_ONLINE_APP_ID, f"{EXCHANGE_ONLINE}/"],
)
def test_check_accepts_exchange_audiences(
    authority: LocalAuthority, protocol: str, audience: str
) -> None:
    token = authority.issue_token(user=ALICE, audience=audience)

    assert authority.check_token(token, protocol=protocol, user=ALICE).reason == "ok"


def test_check_accepts_v2_token(authority: LocalAuthority, protocol: str) -> None:
    token = authority.issue_token(user=ALICE, version="2.0", audience=EXCHANGE_ONLINE_APP_ID)

    claims = _unverified(token)
    assert claims["preferred_username"] == ALICE
    assert claims["azp"] == SANDBOX_PUBLIC_CLIENT_ID
    assert "upn" not in claims
    assert claims["iss"].endswith(f"/{authority.tenant_id}/v2.0")
    assert authority.check_token(token, protocol=protocol, user=ALICE).reason == "ok"


def test_check_unknown_token(
    authority: LocalAuthority, server_context: ssl.SSLContext, protocol: str
) -> None:
    stranger = LocalAuthority(server_ssl_context=server_context, tenant_id=authority.tenant_id)
    genuine = authority.issue_token(user=ALICE)
    header, _, signature = genuine.split(".")
    claims = {**_unverified(genuine), "upn": BOB}
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    unsigned = jwt.encode(_unverified(genuine), key="", algorithm="none")
    candidates = {
        "other authority": stranger.issue_token(user=ALICE),
        "changed payload": f"{header}.{forged_payload}.{signature}",
        "alg none": unsigned,
        "not a JWT": "ya29.not-a-jwt",
        "empty": "",
    }

    for name, token in candidates.items():
        check = authority.check_token(token, protocol=protocol, user=ALICE)
        assert check.reason == "unknown-token", name
        assert check.ok is False, name


def test_check_expired(authority: LocalAuthority, protocol: str) -> None:
    hours_ago = authority.issue_token(user=ALICE, issued_at=int(time.time()) - 7200)
    negative = authority.issue_token(user=ALICE, lifetime=-60)

    for token in (hours_ago, negative):
        check = authority.check_token(token, protocol=protocol, user=ALICE)
        assert check.reason == "expired"
        assert check.ok is False


def test_check_not_yet_valid(authority: LocalAuthority, protocol: str) -> None:
    token = authority.issue_token(user=ALICE, not_before_offset=300)

    check = authority.check_token(token, protocol=protocol, user=ALICE)

    assert check.reason == "not-yet-valid"
    assert check.ok is False


@pytest.mark.parametrize("audience", [MICROSOFT_GRAPH, MICROSOFT_GRAPH_APP_ID])
def test_check_wrong_audience(authority: LocalAuthority, protocol: str, audience: str) -> None:
    token = authority.issue_token(user=ALICE, audience=audience)

    check = authority.check_token(token, protocol=protocol, user=ALICE)

    assert check.reason == "wrong-audience"
    assert audience in check.detail


def test_check_missing_scope(authority: LocalAuthority, protocol: str) -> None:
    other_protocol_scope = "SMTP.Send" if protocol == "imap" else "IMAP.AccessAsUser.All"
    token = authority.issue_token(user=ALICE, scopes=["User.Read", other_protocol_scope])

    check = authority.check_token(token, protocol=protocol, user=ALICE)

    assert check.reason == "missing-scope"
    assert other_protocol_scope in check.detail


def test_check_wrong_user(authority: LocalAuthority, protocol: str) -> None:
    token = authority.issue_token(user=BOB)

    check = authority.check_token(token, protocol=protocol, user=ALICE)

    assert check.reason == "wrong-user"
    assert BOB in check.detail


def test_check_wrong_tenant(authority: LocalAuthority, protocol: str) -> None:
    token = authority.issue_token(user=ALICE, tenant_id=OTHER_TENANT_ID)

    check = authority.check_token(token, protocol=protocol, user=ALICE)

    assert check.reason == "wrong-tenant"
    assert OTHER_TENANT_ID in check.detail


def test_check_app_only_token(authority: LocalAuthority, protocol: str) -> None:
    token = authority.issue_token(
        client_id=DAEMON_CLIENT_ID, roles=["IMAP.AccessAsApp", "SMTP.SendAsApp"]
    )
    without_roles = authority.issue_token(client_id=DAEMON_CLIENT_ID)

    assert _unverified(token)["appidacr"] == "1"

    assert authority.check_token(token, protocol=protocol, user=ALICE).reason == "ok"
    assert authority.check_token(token, protocol=protocol, user=BOB).reason == "mailbox-not-granted"
    assert (
        authority.check_token(without_roles, protocol=protocol, user=ALICE).reason
        == "missing-scope"
    )


def test_check_rejects_unknown_protocol(authority: LocalAuthority) -> None:
    with pytest.raises(ValueError, match="protocol must be 'imap' or 'smtp'"):
        authority.check_token(authority.issue_token(user=ALICE), protocol="pop3", user=ALICE)


def test_issue_token_app_only_rejects_scopes(authority: LocalAuthority) -> None:
    with pytest.raises(ValueError, match="app-only token carries roles"):
        authority.issue_token(scopes=["IMAP.AccessAsUser.All"])


def test_every_reason_is_reachable(authority: LocalAuthority) -> None:
    now = int(time.time())
    tokens = {
        "ok": authority.issue_token(user=ALICE),
        "unknown-token": "garbage",
        "wrong-tenant": authority.issue_token(user=ALICE, tenant_id=OTHER_TENANT_ID),
        "expired": authority.issue_token(user=ALICE, issued_at=now - 7200),
        "not-yet-valid": authority.issue_token(user=ALICE, not_before_offset=120),
        "wrong-audience": authority.issue_token(user=ALICE, audience=MICROSOFT_GRAPH),
        "missing-scope": authority.issue_token(user=ALICE, scopes=["User.Read"]),
        "wrong-user": authority.issue_token(user=BOB),
        "mailbox-not-granted": authority.issue_token(
            client_id="c0115e47-0000-4000-8000-00000000dead", roles=["IMAP.AccessAsApp"]
        ),
    }

    reasons = {
        name: authority.check_token(token, protocol="imap", user=ALICE).reason
        for name, token in tokens.items()
    }

    assert set(reasons) == set(TOKEN_CHECK_REASONS)
    assert all(name == reason for name, reason in reasons.items()), reasons


def test_tokens_survive_restart(authority: LocalAuthority) -> None:
    token = authority.issue_token(user=ALICE)
    first_port = authority.port

    authority.stop()
    authority.start()

    assert authority.port > 0
    assert first_port > 0
    assert authority.check_token(token, protocol="imap", user=ALICE).ok


# Loopback only


def test_msal_traffic_stays_on_loopback(
    authority: LocalAuthority, http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    public = msal.PublicClientApplication(
        SANDBOX_PUBLIC_CLIENT_ID, **loopback_msal_options(authority.authority_url, http_client)
    )
    user_result = public.acquire_token_by_device_flow(public.initiate_device_flow([IMAP_SCOPE]))
    silent = public.acquire_token_silent([IMAP_SCOPE], account=public.get_accounts()[0])
    daemon = _confidential_app(authority, http_client, DAEMON_CLIENT_ID, CANARY_SECRET)
    app_result = daemon.acquire_token_for_client([EXCHANGE_APP_SCOPE])

    assert "access_token" in user_result
    assert silent is not None
    assert "access_token" in app_result
    connected = {host for event, host in network_log if event == "socket.connect"}
    assert connected == {"127.0.0.1"}
    assert all(_is_loopback(host) for _, host in network_log), network_log


def test_region_detection_stays_off(
    authority: LocalAuthority,
    http_client: LoopbackSession,
    network_log: list[tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With this variable set and azure_region unset, msal 1.39 queries the Azure instance
    # metadata service and sends token requests to westus2.<authority host>.
    monkeypatch.setenv("MSAL_FORCE_REGION", "westus2")
    daemon = _confidential_app(authority, http_client, DAEMON_CLIENT_ID, CANARY_SECRET)

    result = daemon.acquire_token_for_client([EXCHANGE_APP_SCOPE])

    assert "access_token" in result, result.get("error_description")
    assert all(_is_loopback(host) for _, host in network_log), network_log


def test_http_client_rejects_other_hosts(
    http_client: LoopbackSession, network_log: list[tuple[str, str]]
) -> None:
    with pytest.raises(NonLoopbackRequestError, match=re.escape("idp.example.net")):
        http_client.get("https://idp.example.net/common/discovery/instance")
    with pytest.raises(NonLoopbackRequestError, match=re.escape("169.254.169.254")):
        http_client.get("http://169.254.169.254/metadata/instance/compute")

    assert network_log == []


def test_http_client_ignores_environment(
    authority: LocalAuthority, http_client: LoopbackSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would let these override verify= and route through a proxy.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")

    response = http_client.get(f"{authority.authority_url}/v2.0/.well-known/openid-configuration")

    assert response.status_code == 200


def test_http_client_needs_existing_ca_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CA certificate file not found"):
        msal_http_client(tmp_path / "missing.pem")


def test_loopback_msal_options(http_client: LoopbackSession) -> None:
    url = "https://127.0.0.1:8443/tenant"

    public = loopback_msal_options(url, http_client)
    confidential = loopback_msal_options(url, http_client, confidential=True)

    assert public == {
        "authority": url,
        "instance_discovery": False,
        "validate_authority": False,
        "http_client": http_client,
    }
    assert confidential == {**public, "azure_region": False}
    with pytest.raises(NonLoopbackRequestError):
        loopback_msal_options("https://idp.example.net/tenant", http_client)


# Secrets stay out of logs


def test_secret_and_tokens_never_logged(
    authority: LocalAuthority,
    http_client: LoopbackSession,
    caplog: pytest.LogCaptureFixture,
    network_log: list[tuple[str, str]],
) -> None:
    caplog.set_level(logging.DEBUG)
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=0))
    public = msal.PublicClientApplication(
        SANDBOX_PUBLIC_CLIENT_ID, **loopback_msal_options(authority.authority_url, http_client)
    )
    user_result = public.acquire_token_by_device_flow(public.initiate_device_flow([IMAP_SCOPE]))
    refreshed = public.acquire_token_silent(
        [IMAP_SCOPE], account=public.get_accounts()[0], force_refresh=True
    )
    good = _confidential_app(authority, http_client, DAEMON_CLIENT_ID, CANARY_SECRET)
    app_result = good.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    wrong_canary = CANARY_SECRET[::-1]
    bad = _confidential_app(authority, http_client, DAEMON_CLIENT_ID, wrong_canary)
    bad_result = bad.acquire_token_for_client([EXCHANGE_APP_SCOPE])
    check = authority.check_token(app_result["access_token"], protocol="imap", user=BOB)

    assert refreshed is not None
    assert bad_result["error"] == "invalid_client"
    logged = caplog.text + "\n".join(record.getMessage() for record in caplog.records)
    assert "Token request with grant_type=client_credentials" in logged  # DEBUG is captured
    secrets_and_tokens = {
        "secret": CANARY_SECRET,
        "wrong secret": wrong_canary,
        "secret, base64": base64.b64encode(CANARY_SECRET.encode()).decode(),
        "user access token": user_result["access_token"],
        "refresh token": user_result["refresh_token"],
        "refreshed access token": refreshed["access_token"],
        "app access token": app_result["access_token"],
    }
    for name, value in secrets_and_tokens.items():
        assert value not in logged, name
        assert value not in repr(authority), name
        assert value not in repr(check), name
    assert CANARY_SECRET not in repr(authority._clients)


# Lifecycle


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_start_stop_twenty_times(server_context: ssl.SSLContext, ca_file: Path) -> None:
    threads_before = set(threading.enumerate())
    descriptors_before = _open_descriptors()
    authority = LocalAuthority(server_ssl_context=server_context)

    started = time.monotonic()
    for _ in range(20):
        authority.start()
        with msal_http_client(ca_file) as session:
            response = session.get(
                f"{authority.authority_url}/v2.0/.well-known/openid-configuration"
            )
        assert response.status_code == 200
        authority.stop()
    elapsed = time.monotonic() - started

    assert set(threading.enumerate()) == threads_before
    assert _open_descriptors() == descriptors_before
    assert elapsed < 20, f"20 start/stop cycles took {elapsed:.1f} s"


def test_stop_closes_idle_connection(server_context: ssl.SSLContext, ca: trustme.CA) -> None:
    threads_before = set(threading.enumerate())
    authority = LocalAuthority(server_ssl_context=server_context)
    authority.start()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    raw = socket.create_connection(("127.0.0.1", authority.port))
    connection = client_context.wrap_socket(raw, server_hostname="127.0.0.1")

    try:
        # The server thread now waits for a request line that never comes.
        started = time.monotonic()
        authority.stop()
        elapsed = time.monotonic() - started
    finally:
        connection.close()

    assert elapsed < 2, f"stop() took {elapsed:.1f} s with an idle connection open"
    assert set(threading.enumerate()) == threads_before


def test_context_manager_and_state_errors(server_context: ssl.SSLContext) -> None:
    authority = LocalAuthority(server_ssl_context=server_context)

    with authority as running:
        assert running is authority
        assert authority.port > 0
        assert f"listening on port {authority.port}" in repr(authority)
        with pytest.raises(RuntimeError, match="already running"):
            authority.start()

    with pytest.raises(RuntimeError, match="not running"):
        _ = authority.authority_url
    authority.stop()  # a second stop does nothing
