"""Login tests against real Dovecot (IMAP) and Postfix (SMTP submission through Dovecot SASL)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.realservers import REMOTE_LOOKING_HOST
from tests.realservers.dovecot import DovecotServer
from tests.realservers.postfix import PostfixServer
from toolkit.login.check import check_login
from toolkit.login.results import LoginReason
from toolkit.login.sasl import Mechanism
from toolkit.probe.results import Timeouts
from toolkit.secret import Secret
from toolkit.settings import Security, ServerSettings, build_settings

FAST = Timeouts(connect=3, greeting=3, handshake=3, read=10)


def entry(
    server: DovecotServer | PostfixServer,
    protocol: str,
    port: int,
    *,
    tls: bool,
    password: str | None = None,
    auth: str = "basic",
    host: str | None = None,
) -> ServerSettings:
    user, real_password = next(iter(server.users.items()))
    raw: dict[str, Any] = {
        "name": f"real-{protocol}-{port}",
        "protocol": protocol,
        "host": host or server.host,
        "port": port,
        "tls": tls,
        "auth": auth,
        "user": user,
        "ca_file": str(server.ca_file),
    }
    secret = Secret(password if password is not None else real_password)
    if auth == "oauth2":
        return build_settings(raw, token=secret)
    return build_settings(raw, password=secret)


@pytest.mark.dovecot
@pytest.mark.parametrize("mechanism", [None, Mechanism.PLAIN])
def test_dovecot_good_password(dovecot: DovecotServer, mechanism: Mechanism | None) -> None:
    server = entry(dovecot, "imap", dovecot.imap_tls_port, tls=True)
    check = check_login(server, mechanism=mechanism, timeouts=FAST)
    assert check.result.success, check.result.server_text
    assert check.result.mechanism == (mechanism or Mechanism.IMAP_LOGIN).value
    assert [f.id for f in check.findings] == ["login-ok"]


@pytest.mark.dovecot
def test_dovecot_wrong_password(dovecot: DovecotServer) -> None:
    server = entry(dovecot, "imap", dovecot.imap_tls_port, tls=True, password="wrong-password")
    check = check_login(server, timeouts=FAST)
    assert check.result.reason is LoginReason.AUTH_REJECTED
    assert "[AUTHENTICATIONFAILED]" in check.result.server_text
    assert [f.id for f in check.findings] == ["login-rejected", "imap-authentication-failed"]


@pytest.mark.dovecot
def test_dovecot_starttls_from_remote_looking_address(dovecot: DovecotServer) -> None:
    # From 127.0.0.1 to 127.0.0.2 Dovecot sends LOGINDISABLED until STARTTLS, as to a
    # remote client, so the login works only because the test upgrades first.
    server = entry(
        dovecot, "imap", dovecot.imap_starttls_port, tls=False, host=REMOTE_LOOKING_HOST
    )
    check = check_login(server, timeouts=FAST)
    assert check.result.success, check.result.server_text
    assert check.result.security is Security.STARTTLS
    greeting = check.result.transcript[0].text
    assert "LOGINDISABLED" in greeting


@pytest.mark.dovecot
def test_dovecot_offers_no_xoauth2(dovecot: DovecotServer) -> None:
    server = entry(dovecot, "imap", dovecot.imap_tls_port, tls=True, auth="oauth2",
                   password="not-a-jwt")
    check = check_login(server, timeouts=FAST)
    assert check.result.reason is LoginReason.MECHANISM_NOT_OFFERED
    assert not check.result.credentials_sent
    found = [f.id for f in check.findings]
    assert found[0] == "mechanism-not-offered"
    assert "token-not-jwt" in found


@pytest.mark.postfix
@pytest.mark.parametrize("mechanism", [None, Mechanism.PLAIN, Mechanism.LOGIN])
def test_postfix_good_password(postfix: PostfixServer, mechanism: Mechanism | None) -> None:
    server = entry(postfix, "smtp", postfix.smtp_starttls_port, tls=False)
    check = check_login(server, mechanism=mechanism, timeouts=FAST)
    assert check.result.success, check.result.server_text
    assert check.result.security is Security.STARTTLS
    assert check.result.mechanism == (mechanism or Mechanism.PLAIN).value


@pytest.mark.postfix
def test_postfix_implicit_tls(postfix: PostfixServer) -> None:
    check = check_login(entry(postfix, "smtp", postfix.smtp_tls_port, tls=True), timeouts=FAST)
    assert check.result.success, check.result.server_text
    assert check.result.security is Security.IMPLICIT_TLS


@pytest.mark.postfix
@pytest.mark.parametrize("mechanism", [Mechanism.PLAIN, Mechanism.LOGIN])
def test_postfix_wrong_password(postfix: PostfixServer, mechanism: Mechanism) -> None:
    server = entry(postfix, "smtp", postfix.smtp_starttls_port, tls=False, password="wrong")
    check = check_login(server, mechanism=mechanism, timeouts=FAST)
    assert check.result.reason is LoginReason.AUTH_REJECTED
    assert check.result.server_text.startswith("535 5.7.8")
    assert [f.id for f in check.findings] == ["login-rejected", "smtp-credentials-invalid"]


@pytest.mark.postfix
def test_postfix_offers_no_xoauth2(postfix: PostfixServer) -> None:
    server = entry(postfix, "smtp", postfix.smtp_starttls_port, tls=False, auth="oauth2",
                   password="not-a-jwt")
    check = check_login(server, timeouts=FAST)
    assert check.result.reason is LoginReason.MECHANISM_NOT_OFFERED
    assert set(check.result.mechanisms_offered) == {"PLAIN", "LOGIN"}
