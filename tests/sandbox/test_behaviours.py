"""The behaviour endpoints: STARTTLS required or missing, bad certificates, silence, busy."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl

import pytest
from sandbox_helpers import DANA, imap_plain

from toolkit.sandbox import Behaviour, Sandbox
from toolkit.settings import Protocol, Security


def test_every_behaviour_has_an_imap_and_an_smtp_endpoint(sandbox: Sandbox) -> None:
    for behaviour in Behaviour:
        protocols = {e.protocol for e in sandbox.endpoints if e.behaviour is behaviour}
        assert protocols == {Protocol.IMAP, Protocol.SMTP}, behaviour


def test_imap_starttls_required_advertises_logindisabled(sandbox: Sandbox,
                                                         tls: ssl.SSLContext) -> None:
    client = imap_plain(sandbox, "imap-starttls-required")
    try:
        assert "STARTTLS" in client.capabilities
        assert "LOGINDISABLED" in client.capabilities
        assert not any(cap.startswith("AUTH=") for cap in client.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            client.login(DANA, sandbox.user(DANA).password.reveal())
        client.starttls(ssl_context=tls)
        assert "LOGINDISABLED" not in client.capabilities
        status, _ = client.login(DANA, sandbox.user(DANA).password.reveal())
        assert status == "OK"
    finally:
        client.logout()


def test_smtp_starttls_required_refuses_mail_before_tls(sandbox: Sandbox,
                                                        tls: ssl.SSLContext) -> None:
    endpoint = sandbox.endpoint("smtp-starttls-required")
    with smtplib.SMTP(sandbox.host, endpoint.port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.docmd("MAIL FROM:<dana@dovecot.sandbox.test>") == (
            530, b"Must issue a STARTTLS command first")
        assert client.docmd("AUTH PLAIN") == (530, b"Must issue a STARTTLS command first")
        client.starttls(context=tls)
        client.ehlo()
        assert client.has_extn("auth")
        code, _ = client.login(DANA, sandbox.user(DANA).password.reveal())
        assert code == 235


def test_imap_without_starttls_allows_plain_login(sandbox: Sandbox) -> None:
    client = imap_plain(sandbox, "imap-no-starttls")
    try:
        assert "STARTTLS" not in client.capabilities
        assert "LOGINDISABLED" not in client.capabilities
        with pytest.raises(imaplib.IMAP4.abort):
            client.starttls()
    finally:
        client.shutdown()
    client = imap_plain(sandbox, "imap-no-starttls")
    try:
        status, _ = client.login(DANA, sandbox.user(DANA).password.reveal())
        assert status == "OK"
    finally:
        client.logout()


def test_smtp_without_starttls_allows_plain_auth(sandbox: Sandbox) -> None:
    with smtplib.SMTP(sandbox.host, sandbox.endpoint("smtp-no-starttls").port,
                      timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.starttls()
        code, _ = client.login(DANA, sandbox.user(DANA).password.reveal())
        assert code == 235


@pytest.mark.parametrize("name", ["imap-expired-certificate", "smtp-expired-certificate"])
def test_expired_certificate_fails_verification(sandbox: Sandbox, tls: ssl.SSLContext,
                                                name: str) -> None:
    endpoint = sandbox.endpoint(name)
    assert endpoint.security is Security.IMPLICIT_TLS
    with socket.create_connection((sandbox.host, endpoint.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError) as error:
            tls.wrap_socket(raw, server_hostname=sandbox.host)
    assert error.value.verify_code == 10  # X509_V_ERR_CERT_HAS_EXPIRED
    assert "certificate has expired" in error.value.verify_message


@pytest.mark.parametrize("name", ["imap-wrong-host-certificate", "smtp-wrong-host-certificate"])
def test_wrong_host_certificate_fails_host_check(sandbox: Sandbox, tls: ssl.SSLContext,
                                                 name: str) -> None:
    endpoint = sandbox.endpoint(name)
    with socket.create_connection((sandbox.host, endpoint.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError) as error:
            tls.wrap_socket(raw, server_hostname=sandbox.host)
    assert error.value.verify_code == 64  # X509_V_ERR_IP_ADDRESS_MISMATCH
    # Named as the certificate names itself, the server verifies.
    with socket.create_connection((sandbox.host, endpoint.port), timeout=5) as raw:
        with tls.wrap_socket(raw, server_hostname="mail.other-host.test") as conn:
            assert conn.version() is not None


def test_wrong_host_by_name(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    endpoint = sandbox.endpoint("smtp-wrong-host-certificate")
    with socket.create_connection((sandbox.host, endpoint.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLCertVerificationError) as error:
            tls.wrap_socket(raw, server_hostname="smtp.sandbox.test")
    assert error.value.verify_code == 62  # X509_V_ERR_HOSTNAME_MISMATCH


@pytest.mark.parametrize("name", ["imap-silent", "smtp-silent"])
def test_silent_endpoint_accepts_and_never_answers(sandbox: Sandbox, name: str) -> None:
    with socket.create_connection((sandbox.host, sandbox.endpoint(name).port),
                                  timeout=5) as conn:
        conn.settimeout(0.3)
        with pytest.raises(TimeoutError):
            conn.recv(1)
        conn.sendall(b"a1 CAPABILITY\r\n")
        with pytest.raises(TimeoutError):
            conn.recv(1)


def test_silent_endpoint_times_out_tls_handshake(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    with socket.create_connection((sandbox.host, sandbox.endpoint("imap-silent").port),
                                  timeout=0.3) as raw:
        with pytest.raises(TimeoutError):
            tls.wrap_socket(raw, server_hostname=sandbox.host)


def test_imap_busy_says_bye(sandbox: Sandbox) -> None:
    with pytest.raises(imaplib.IMAP4.error, match="Too many connections"):
        imap_plain(sandbox, "imap-busy")
    with socket.create_connection((sandbox.host, sandbox.endpoint("imap-busy").port),
                                  timeout=5) as conn:
        greeting = conn.makefile("rb").read()
    assert greeting == b"* BYE Too many connections\r\n"


def test_smtp_busy_answers_421(sandbox: Sandbox) -> None:
    with pytest.raises(smtplib.SMTPConnectError) as error:
        smtplib.SMTP(sandbox.host, sandbox.endpoint("smtp-busy").port, timeout=5)
    assert error.value.smtp_code == 421
    assert error.value.smtp_error == b"4.7.0 Too many connections"
