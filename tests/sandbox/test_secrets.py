"""Canary passwords and tokens never appear in logs, reprs, errors or the settings file."""

from __future__ import annotations

import base64
import imaplib
import logging
import smtplib
import socket
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient
from sandbox_helpers import xoauth2

from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.settings import SettingsError
from toolkit.settings_file import dump_settings

CANARY = "Canary-Pw-7f3e91"
APP_CANARY = "qzxwvutsrqponmlk"
USER = "canary@dovecot.sandbox.test"
GMAIL_USER = "canary@gmail.sandbox.test"
M365_USER = "canary@m365.sandbox.test"


def forms(secret: str, user: str) -> list[str]:
    """Return the forms in which a secret could leak: raw and inside base64 SASL strings."""
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(f"\0{user}\0{secret}".encode()).decode(),
        base64.b64encode(xoauth2(user, secret).encode()).decode(),
    ]


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    tenant = tenant_from_dict({"users": [
        {"address": USER, "personality": "dovecot", "password": CANARY},
        {"address": GMAIL_USER, "personality": "gmail", "password": CANARY,
         "app_password": APP_CANARY},
        {"address": M365_USER, "personality": "microsoft365", "password": CANARY},
    ]})
    with Sandbox(port_base=0, tenant=tenant) as sandbox:
        yield sandbox


def login_with_literals(sandbox: Sandbox) -> None:
    """Send LOGIN with the password as a synchronizing and as a non-synchronizing literal."""
    context = sandbox.client_context()
    address = (sandbox.host, sandbox.endpoint("imap-tls").port)
    with socket.create_connection(address, timeout=5) as raw, context.wrap_socket(
            raw, server_hostname=sandbox.host) as conn:
        reader = conn.makefile("rb")
        reader.readline()
        conn.sendall(f"a1 LOGIN {USER} {{{len(CANARY)}}}\r\n".encode())
        assert reader.readline().startswith(b"+")
        conn.sendall(CANARY.encode() + b"\r\n")
        assert reader.readline().startswith(b"a1 OK")
        conn.sendall(b"a2 LOGOUT\r\n")
    with socket.create_connection(address, timeout=5) as raw, context.wrap_socket(
            raw, server_hostname=sandbox.host) as conn:
        reader = conn.makefile("rb")
        reader.readline()
        conn.sendall(f"a1 LOGIN {USER} {{{len(CANARY)}+}}\r\n{CANARY}\r\n".encode())
        assert reader.readline().startswith(b"a1 OK")


def exercise_every_login(sandbox: Sandbox, token: str) -> None:
    """Log in every way the sandbox supports, with right and wrong secrets."""
    context = sandbox.client_context()
    imap_port = sandbox.endpoint("imap-tls").port
    for address, secret in ((USER, CANARY), (GMAIL_USER, CANARY), (GMAIL_USER, APP_CANARY),
                            (M365_USER, CANARY), (USER, CANARY + "x")):
        client = imaplib.IMAP4_SSL(sandbox.host, imap_port, ssl_context=context, timeout=5)
        try:
            client.login(address, secret)
        except imaplib.IMAP4.error:
            pass
        try:
            plain = f"\0{address}\0{secret}".encode()
            client.authenticate("PLAIN", lambda _, plain=plain: plain)
        except imaplib.IMAP4.error:
            pass
        client.logout()
    login_with_literals(sandbox)
    with IMAPClient(sandbox.host, port=imap_port, ssl_context=context, timeout=5) as client:
        client.oauth2_login(M365_USER, token)
    smtp_port = sandbox.endpoint("smtp-tls").port
    for address, secret in ((USER, CANARY), (GMAIL_USER, CANARY), (GMAIL_USER, APP_CANARY)):
        for mechanism in ("PLAIN", "LOGIN"):
            with smtplib.SMTP_SSL(sandbox.host, smtp_port, context=context, timeout=5) as smtp:
                smtp.ehlo()
                smtp.user, smtp.password = address, secret
                try:
                    smtp.auth(mechanism, getattr(smtp, f"auth_{mechanism.lower()}"),
                              initial_response_ok=mechanism == "PLAIN")
                except smtplib.SMTPAuthenticationError:
                    pass
    with smtplib.SMTP_SSL(sandbox.host, smtp_port, context=context, timeout=5) as smtp:
        smtp.ehlo()
        smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(M365_USER, token),
                  initial_response_ok=False)


def test_canary_never_logged(canary_sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    token = canary_sandbox.access_token(M365_USER).reveal()
    with caplog.at_level(logging.DEBUG):
        exercise_every_login(canary_sandbox, token)
    text = caplog.text
    for leaked in forms(CANARY, USER) + forms(CANARY, GMAIL_USER) + forms(APP_CANARY, GMAIL_USER):
        assert leaked not in text
    assert token not in text
    assert "LOGIN <credentials redacted>" in text  # pymap's transcript was on
    assert "login accepted for canary@dovecot.sandbox.test" in text
    assert "Session.login_data is deprecated" not in text


def test_canary_not_in_reprs_or_settings(canary_sandbox: Sandbox) -> None:
    shown = [repr(canary_sandbox), repr(canary_sandbox.users), str(canary_sandbox.users),
             repr(canary_sandbox.tenant), dump_settings(canary_sandbox.settings()),
             repr(canary_sandbox.settings()), repr(canary_sandbox.endpoints)]
    for text in shown:
        assert CANARY not in text
        assert APP_CANARY not in text
    assert canary_sandbox.write_settings().read_text().count(CANARY) == 0


def test_environment_holds_the_canary(canary_sandbox: Sandbox) -> None:
    environment = canary_sandbox.environment()
    assert environment["MAILDIAG_SANDBOX_PASSWORD_CANARY_DOVECOT_SANDBOX_TEST"] == CANARY
    assert environment["MAILDIAG_SANDBOX_APP_PASSWORD_CANARY_GMAIL_SANDBOX_TEST"] == APP_CANARY


def test_tenant_errors_hide_passwords() -> None:
    with pytest.raises(SettingsError) as error:
        tenant_from_dict({"users": [
            {"address": "x@gmail.sandbox.test", "personality": "gmail",
             "app_password": CANARY},
        ]})
    assert CANARY not in str(error.value)
    assert "app_password" in str(error.value)
