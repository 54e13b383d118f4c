"""Login tests against the sandbox: Basic and OAuth2 on IMAP and SMTP, each failure named."""

from __future__ import annotations

import dataclasses
import logging
import os
import time

import pytest

from toolkit.login.check import check_login
from toolkit.login.results import LoginReason
from toolkit.login.sasl import Mechanism
from toolkit.login.session import attempt_login
from toolkit.probe.results import Timeouts
from toolkit.sandbox import Sandbox
from toolkit.sandbox.authority import MICROSOFT_GRAPH
from toolkit.secret import Secret
from toolkit.settings import AuthType, Security, ServerSettings

GINA = "gina@gmail.sandbox.test"
ALICE = "alice@m365.sandbox.test"
CAROL = "carol@m365.sandbox.test"
FAST = Timeouts(connect=3, greeting=3, handshake=3, read=5)


def ids(server: ServerSettings, **options: object) -> list[str]:
    check = check_login(server, timeouts=FAST, **options)  # type: ignore[arg-type]
    return [finding.id for finding in check.findings]


def as_basic(server: ServerSettings, password: Secret) -> ServerSettings:
    """Return the entry with auth = basic and the password, as an admin would misconfigure it."""
    return dataclasses.replace(server, auth=AuthType.BASIC).with_secrets(password=password)


def token_entry(
    entries: dict[str, ServerSettings], name: str, sandbox: Sandbox, **claims: object
) -> ServerSettings:
    authority = sandbox.authority
    assert authority is not None
    user = entries[name].user
    token = authority.issue_token(user=claims.pop("user", user), **claims)  # type: ignore[arg-type]
    return entries[name].with_secrets(token=Secret(token))


@pytest.mark.parametrize("name", ["gina-gmail-imap", "gina-gmail-smtp"])
def test_gmail_app_password_logs_in(entries: dict[str, ServerSettings], name: str) -> None:
    check = check_login(entries[name], timeouts=FAST)
    assert check.result.success
    assert check.result.reason is LoginReason.OK
    assert [f.id for f in check.findings] == ["login-ok"]


@pytest.mark.parametrize("name", ["gina-gmail-imap", "gina-gmail-smtp"])
def test_gmail_account_password_explained(
    sandbox: Sandbox, entries: dict[str, ServerSettings], name: str
) -> None:
    server = entries[name].with_secrets(password=sandbox.user(GINA).password)
    check = check_login(server, timeouts=FAST)
    assert check.result.reason is LoginReason.AUTH_REJECTED
    assert check.result.credentials_sent
    found = [f.id for f in check.findings]
    assert found == ["login-rejected", "gmail-app-password-required"]
    assert "app password" in check.findings[1].fix


@pytest.mark.parametrize(
    ("name", "expected"),
    [("dana-dovecot-imap", "imap-authentication-failed"),
     ("dana-dovecot-smtp", "smtp-credentials-invalid")],
)
def test_wrong_password_rejected(
    entries: dict[str, ServerSettings], name: str, expected: str
) -> None:
    server = entries[name].with_secrets(password=Secret("not-the-password"))
    assert ids(server) == ["login-rejected", expected]


def test_m365_basic_imap_is_retired(sandbox: Sandbox, entries: dict[str, ServerSettings]) -> None:
    server = as_basic(entries["alice-m365-imap"], sandbox.user(ALICE).password)
    check = check_login(server, timeouts=FAST)
    assert check.result.server_text == "NO LOGIN failed."
    assert [f.id for f in check.findings] == ["login-rejected", "m365-login-failed"]
    assert "retired" in check.findings[1].message


def test_m365_basic_smtp_is_disabled(sandbox: Sandbox, entries: dict[str, ServerSettings]) -> None:
    server = as_basic(entries["alice-m365-smtp"], sandbox.user(ALICE).password)
    assert ids(server) == ["login-rejected", "m365-smtp-basic-auth-disabled"]


def test_smtp_auth_disabled_mailbox(sandbox: Sandbox, entries: dict[str, ServerSettings]) -> None:
    server = token_entry(entries, "carol-m365-smtp", sandbox)
    check = check_login(server, timeouts=FAST)
    assert "SmtpClientAuthentication is disabled for the Mailbox" in check.result.server_text
    assert [f.id for f in check.findings] == [
        "login-rejected", "m365-smtp-auth-disabled-mailbox", "token-ok"
    ]


@pytest.mark.parametrize("mechanism", [Mechanism.XOAUTH2, Mechanism.OAUTHBEARER])
@pytest.mark.parametrize("name", ["alice-m365-imap", "alice-m365-smtp"])
def test_good_token_logs_in(
    sandbox: Sandbox, entries: dict[str, ServerSettings], name: str, mechanism: Mechanism
) -> None:
    check = check_login(token_entry(entries, name, sandbox), mechanism=mechanism, timeouts=FAST)
    assert check.result.success, check.result.server_text
    assert check.result.mechanism == mechanism.value
    assert [f.id for f in check.findings] == ["login-ok", "token-ok"]


BAD_TOKENS = [
    ({"audience": MICROSOFT_GRAPH}, "token-wrong-audience"),
    ({"scopes": ["POP.AccessAsUser.All"]}, "token-missing-scope"),
    ({"user": "bob@m365.sandbox.test"}, "token-wrong-user"),
    ({"lifetime": -120}, "token-expired"),
]


@pytest.mark.parametrize("mechanism", [Mechanism.XOAUTH2, Mechanism.OAUTHBEARER])
@pytest.mark.parametrize(("claims", "expected"), BAD_TOKENS, ids=[e for _, e in BAD_TOKENS])
def test_bad_token_imap_named(
    sandbox: Sandbox,
    entries: dict[str, ServerSettings],
    claims: dict[str, object],
    expected: str,
    mechanism: Mechanism,
) -> None:
    server = token_entry(entries, "alice-m365-imap", sandbox, **claims)
    check = check_login(server, mechanism=mechanism, timeouts=FAST)
    assert check.result.server_text == "NO AUTHENTICATE failed."
    found = [f.id for f in check.findings]
    assert found[:2] == ["login-rejected", "m365-authenticate-failed"]
    assert expected in found


@pytest.mark.parametrize(("claims", "expected"), BAD_TOKENS, ids=[e for _, e in BAD_TOKENS])
def test_bad_token_smtp_named(
    sandbox: Sandbox, entries: dict[str, ServerSettings], claims: dict[str, object], expected: str
) -> None:
    server = token_entry(entries, "alice-m365-smtp", sandbox, **claims)
    found = ids(server)
    assert found[:2] == ["login-rejected", "m365-smtp-authentication-unsuccessful"]
    assert expected in found


def test_plaintext_refused_without_permission(entries: dict[str, ServerSettings]) -> None:
    check = check_login(entries["imap-no-starttls"], timeouts=FAST)
    assert check.result.reason is LoginReason.PLAINTEXT_REFUSED
    assert not check.result.credentials_sent
    assert not any(line.text.startswith("L1 LOGIN") for line in check.result.transcript)
    assert [f.id for f in check.findings] == ["plaintext-refused"]


def test_plaintext_allowed_warns(
    entries: dict[str, ServerSettings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="toolkit.login.session")
    check = check_login(entries["smtp-no-starttls"], allow_plaintext=True, timeouts=FAST)
    assert check.result.success
    assert check.result.plaintext
    assert check.result.security is Security.NONE
    assert [f.id for f in check.findings] == ["plaintext-credentials", "login-ok"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "plain text" in warnings[0].getMessage()


def test_non_ascii_password_caught_before_connecting(
    entries: dict[str, ServerSettings], connections: list[str]
) -> None:
    server = entries["dana-dovecot-imap"].with_secrets(password=Secret("pässwörd-dana"))
    check = check_login(server, timeouts=FAST)
    assert check.result.reason is LoginReason.PASSWORD_NOT_ENCODABLE
    assert check.result.stage == "precheck"
    assert not check.result.credentials_sent
    assert check.result.transcript == ()
    assert connections == []
    (finding,) = check.findings
    assert finding.id == "password-not-encodable"
    assert "not a wrong password" in finding.message
    assert "AUTHENTICATE PLAIN" in finding.fix


def test_non_ascii_password_sent_with_plain(entries: dict[str, ServerSettings]) -> None:
    server = entries["dana-dovecot-imap"].with_secrets(password=Secret("pässwörd-dana"))
    check = check_login(server, mechanism=Mechanism.PLAIN, timeouts=FAST)
    # The server receives the password and rejects it: wrong, but no longer a local limit.
    assert check.result.reason is LoginReason.AUTH_REJECTED
    assert check.result.credentials_sent
    assert check.result.mechanism == "PLAIN"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("imap-expired-certificate", LoginReason.CERTIFICATE_EXPIRED),
     ("smtp-wrong-host-certificate", LoginReason.CERTIFICATE_HOSTNAME_MISMATCH)],
)
def test_bad_certificate_stops_before_credentials(
    entries: dict[str, ServerSettings], name: str, reason: LoginReason
) -> None:
    check = check_login(entries[name], timeouts=FAST)
    assert check.result.reason is reason
    assert not check.result.credentials_sent
    assert [f.id for f in check.findings] == [reason.value]


def test_untrusted_certificate_without_ca_file(entries: dict[str, ServerSettings]) -> None:
    server = dataclasses.replace(entries["dana-dovecot-imap"], ca_file=None)
    check = check_login(server, timeouts=FAST)
    assert check.result.reason is LoginReason.CERTIFICATE_UNTRUSTED
    assert not check.result.credentials_sent


def test_missing_password_named(entries: dict[str, ServerSettings]) -> None:
    server = dataclasses.replace(entries["dana-dovecot-imap"], password=None)
    assert ids(server) == ["password-missing"]


def test_busy_server_named(entries: dict[str, ServerSettings]) -> None:
    check = check_login(entries["imap-busy"], timeouts=FAST)
    assert check.result.reason is LoginReason.SERVICE_UNAVAILABLE
    assert "Too many connections" in check.result.server_text


def test_silent_server_times_out(entries: dict[str, ServerSettings]) -> None:
    timeouts = Timeouts(connect=2, greeting=0.5, handshake=1, read=1)
    check = check_login(entries["imap-silent"], timeouts=timeouts)
    assert check.result.reason in (LoginReason.GREETING_TIMEOUT, LoginReason.TLS_HANDSHAKE_TIMEOUT)


def test_mechanism_must_fit_entry(entries: dict[str, ServerSettings]) -> None:
    with pytest.raises(ValueError, match="does not fit"):
        attempt_login(entries["dana-dovecot-imap"], mechanism=Mechanism.XOAUTH2)
    with pytest.raises(ValueError, match="only in IMAP"):
        attempt_login(entries["dana-dovecot-smtp"], mechanism=Mechanism.IMAP_LOGIN)


def test_imap_logs_out_and_examines_inbox(entries: dict[str, ServerSettings]) -> None:
    result = attempt_login(entries["dana-dovecot-imap"], timeouts=FAST)
    sent = [line.text for line in result.transcript if line.direction == "C"]
    assert sent[-2:] == ["L2 EXAMINE INBOX", "L3 LOGOUT"]
    assert result.transcript[-1].text.startswith("L3 OK")


def test_smtp_quits(entries: dict[str, ServerSettings]) -> None:
    result = attempt_login(entries["dana-dovecot-smtp"], timeouts=FAST)
    assert [line.text for line in result.transcript[-2:]] == ["QUIT", "221 Bye"]


def test_hundred_logins_leak_no_socket(entries: dict[str, ServerSettings]) -> None:
    def open_sockets() -> int:
        # The sandbox runs in this process too, so its side of each connection counts
        # here until its event loop has closed it; a leak would add 100 sockets.
        count = 0
        for descriptor in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{descriptor}").startswith("socket:")
            except FileNotFoundError:
                continue  # the descriptor of the listing itself, closed by now
        return count

    servers = [entries["dana-dovecot-imap"], entries["dana-dovecot-smtp"]]
    attempt_login(servers[0], timeouts=FAST)
    before = open_sockets()
    for number in range(100):
        result = attempt_login(servers[number % 2], timeouts=FAST)
        assert result.success
    deadline = time.monotonic() + 3
    while open_sockets() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_sockets() <= before
