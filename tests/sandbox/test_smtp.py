"""The sandbox SMTP server: TLS modes, login replies, sender rules and delivery."""

from __future__ import annotations

import base64
import email
import smtplib
import ssl
from email.utils import parseaddr

import pytest
from sandbox_helpers import (
    ALICE,
    BOB,
    CAROL,
    CHRIS,
    DANA,
    GINA,
    SUPPORT,
    fetch_by_subject,
    new_message,
    smtp_login,
    xoauth2,
)

from toolkit.sandbox import Sandbox, tenant_from_dict


def test_starttls_offers_auth_only_after_upgrade(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    with smtplib.SMTP(sandbox.host, sandbox.endpoint("smtp-starttls").port, timeout=5) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        code, reply = client.docmd("MAIL FROM:<dana@dovecot.sandbox.test>")
        assert (code, reply) == (530, b"5.7.0 Authentication required")
        client.starttls(context=tls)
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.esmtp_features["auth"].split() == ["LOGIN", "OAUTHBEARER", "PLAIN",
                                                         "XOAUTH2"]
        code, _ = client.login(DANA, sandbox.user(DANA).password.reveal())
        assert code == 235


def test_implicit_tls_offers_auth(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert client.has_extn("auth")
        code, _ = client.login(CHRIS, sandbox.user(CHRIS).password.reveal())
        assert code == 235


def test_mail_without_auth_is_refused(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as error:
            client.sendmail(DANA, [DANA], b"Subject: x\r\n\r\nx\r\n")
        assert error.value.smtp_code == 530


def test_delivery_reads_back_over_imap(sandbox: Sandbox) -> None:
    message = new_message(DANA, CHRIS)
    with smtp_login(sandbox, DANA) as client:
        refused = client.send_message(message)
    assert refused == {}
    delivered = fetch_by_subject(sandbox, CHRIS, message["Subject"])
    assert len(delivered) == 1
    parsed = email.message_from_bytes(delivered[0])
    assert parsed["From"] == DANA
    assert parsed["Return-Path"] == f"<{DANA}>"
    assert "with ESMTPSA" in parsed["Received"]
    assert parsed.get_payload().strip() == "Hello from the sandbox tests."


def test_unknown_recipient_is_refused(sandbox: Sandbox) -> None:
    with smtp_login(sandbox, DANA) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as error:
            client.sendmail(DANA, ["someone@example.test"], b"Subject: x\r\n\r\nx\r\n")
    code, reply = error.value.recipients["someone@example.test"]
    assert code == 550
    assert reply.startswith(b"5.1.1 <someone@example.test>: Recipient address rejected")


def test_gmail_account_password_reply(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    gina = sandbox.user(GINA)
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.login(GINA, gina.password.reveal())
        assert error.value.smtp_code == 534
        assert error.value.smtp_error == (
            b"5.7.9 Application-specific password required. Learn more at\n"
            b"5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp"
        )
        with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
            client.login(GINA, "wrong password")
        assert wrong.value.smtp_code == 535
        assert wrong.value.smtp_error.startswith(b"5.7.8 Username and Password not accepted")


def test_gmail_multiline_reply_on_the_wire(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    gina = sandbox.user(GINA)
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        client.ehlo()
        lines: list[bytes] = []
        client.sock.sendall(b"AUTH LOGIN\r\n")
        reader = client.sock.makefile("rb")
        assert reader.readline().startswith(b"334 ")
        client.sock.sendall(_b64(GINA) + b"\r\n")
        assert reader.readline().startswith(b"334 ")
        client.sock.sendall(_b64(gina.password.reveal()) + b"\r\n")
        lines = [reader.readline(), reader.readline()]
    assert lines[0].startswith(b"534-5.7.9 Application-specific password required.")
    assert lines[1].startswith(b"534 5.7.9  https://support.google.com/mail/")


def test_gmail_rewrites_from_unless_alias(sandbox: Sandbox) -> None:
    foreign = new_message("boss@elsewhere.test", DANA, sender_name="The Boss")
    alias = new_message("help@shop.sandbox.test", DANA, sender_name="Shop Help")
    with smtp_login(sandbox, GINA) as client:
        client.send_message(foreign, from_addr=GINA)
        client.send_message(alias, from_addr=GINA)
    rewritten = email.message_from_bytes(fetch_by_subject(sandbox, DANA, foreign["Subject"])[0])
    kept = email.message_from_bytes(fetch_by_subject(sandbox, DANA, alias["Subject"])[0])
    assert parseaddr(rewritten["From"]) == ("Gina Gmail", GINA)
    assert rewritten.get_all("From") == [rewritten["From"]]
    assert parseaddr(kept["From"]) == ("Shop Help", "help@shop.sandbox.test")


def test_gmail_rewrites_envelope_sender_unless_alias(sandbox: Sandbox) -> None:
    foreign = new_message("boss@elsewhere.test", DANA)
    alias = new_message("help@shop.sandbox.test", DANA)
    with smtp_login(sandbox, GINA) as client:
        client.send_message(foreign)
        client.send_message(alias)
    rewritten = email.message_from_bytes(fetch_by_subject(sandbox, DANA, foreign["Subject"])[0])
    kept = email.message_from_bytes(fetch_by_subject(sandbox, DANA, alias["Subject"])[0])
    assert rewritten["Return-Path"] == f"<{GINA}>"
    assert kept["Return-Path"] == "<help@shop.sandbox.test>"


def test_gmail_keeps_copy_in_sent_mail(sandbox: Sandbox) -> None:
    message = new_message(GINA, DANA)
    with smtp_login(sandbox, GINA) as client:
        client.send_message(message)
    copies = fetch_by_subject(sandbox, GINA, message["Subject"], folder="[Gmail]/Sent Mail")
    assert len(copies) == 1
    assert fetch_by_subject(sandbox, DANA, message["Subject"], folder="Sent") == []


def test_microsoft365_basic_auth_refused(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.login(ALICE, sandbox.user(ALICE).password.reveal())
    assert error.value.smtp_code == 535
    assert error.value.smtp_error == (
        b"5.7.139 Authentication unsuccessful, basic authentication is disabled."
    )


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_microsoft365_oauth2_auth(sandbox: Sandbox, tls: ssl.SSLContext, mechanism: str) -> None:
    token = sandbox.access_token(ALICE).reveal()
    responses = {
        "XOAUTH2": xoauth2(ALICE, token),
        "OAUTHBEARER": f"n,a={ALICE},\x01auth=Bearer {token}\x01\x01",
    }
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        client.ehlo()
        code, reply = client.auth(mechanism, lambda challenge=None: responses[mechanism])
    assert (code, reply) == (235, b"2.7.0 Authentication successful")


def test_microsoft365_bad_token_reply(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    authority = sandbox.authority
    assert authority is not None
    expired = authority.issue_token(user=ALICE, lifetime=-60)
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(ALICE, expired),
                        initial_response_ok=False)
    assert (error.value.smtp_code, error.value.smtp_error) == (
        535, b"5.7.3 Authentication unsuccessful")


def test_microsoft365_smtp_auth_off_for_mailbox(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    token = sandbox.access_token(CAROL).reveal()
    with smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port, context=tls,
                          timeout=5) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(CAROL, token))
    assert error.value.smtp_code == 535
    assert error.value.smtp_error.startswith(
        b"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
        b"Mailbox.")


def test_microsoft365_smtp_auth_off_for_tenant() -> None:
    tenant = tenant_from_dict({
        "smtp_auth": False,
        "users": [
            {"address": "erin@m365.sandbox.test", "personality": "microsoft365"},
            {"address": "frank@m365.sandbox.test", "personality": "microsoft365",
             "smtp_auth": True},
        ],
    })
    with Sandbox(port_base=0, tenant=tenant) as sandbox:
        context = sandbox.client_context()
        port = sandbox.endpoint("smtp-tls").port
        with smtplib.SMTP_SSL(sandbox.host, port, context=context, timeout=5) as client:
            client.ehlo()
            token = sandbox.access_token("erin@m365.sandbox.test").reveal()
            with pytest.raises(smtplib.SMTPAuthenticationError) as error:
                client.auth("XOAUTH2", lambda challenge=None: xoauth2("erin@m365.sandbox.test",
                                                                      token))
            with pytest.raises(smtplib.SMTPAuthenticationError) as basic:
                client.login("erin@m365.sandbox.test", "any password")
        # The mailbox switch overrides the tenant switch.
        with smtplib.SMTP_SSL(sandbox.host, port, context=context, timeout=5) as client:
            client.ehlo()
            token = sandbox.access_token("frank@m365.sandbox.test").reveal()
            code, _ = client.auth("XOAUTH2", lambda challenge=None: xoauth2(
                "frank@m365.sandbox.test", token))
    assert error.value.smtp_error == (
        b"5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the "
        b"Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.")
    assert basic.value.smtp_error.startswith(b"5.7.139 Authentication unsuccessful, "
                                             b"SmtpClientAuthentication is disabled for the Tenant")
    assert code == 235


def test_microsoft365_send_as_keeps_from(sandbox: Sandbox) -> None:
    message = new_message(SUPPORT, DANA, sender_name="Support")
    with smtp_login(sandbox, ALICE) as client:
        client.send_message(message)
    delivered = email.message_from_bytes(fetch_by_subject(sandbox, DANA, message["Subject"])[0])
    assert parseaddr(delivered["From"]) == ("Support", SUPPORT)
    assert delivered["Sender"] is None
    assert delivered["Return-Path"] == f"<{SUPPORT}>"


def test_microsoft365_send_on_behalf_adds_sender(sandbox: Sandbox) -> None:
    message = new_message(SUPPORT, DANA, sender_name="Support")
    with smtp_login(sandbox, BOB) as client:
        client.send_message(message)
    delivered = email.message_from_bytes(fetch_by_subject(sandbox, DANA, message["Subject"])[0])
    assert parseaddr(delivered["From"]) == ("Support", SUPPORT)
    assert parseaddr(delivered["Sender"]) == ("Bob M365", BOB)
    copies = fetch_by_subject(sandbox, BOB, message["Subject"], folder="Sent Items")
    assert len(copies) == 1


def test_microsoft365_send_as_denied_at_mail_from(sandbox: Sandbox) -> None:
    message = new_message(SUPPORT, DANA)
    with smtp_login(sandbox, BOB) as client, pytest.raises(smtplib.SMTPSenderRefused) as error:
        client.send_message(message, from_addr="boss@m365.sandbox.test")
    assert error.value.smtp_code == 550
    assert error.value.smtp_error == (
        b"5.7.60 SMTP; Client does not have permissions to send as this sender")


def test_microsoft365_send_as_denied_after_data(sandbox: Sandbox) -> None:
    message = new_message("boss@m365.sandbox.test", DANA)
    with smtp_login(sandbox, ALICE) as client, pytest.raises(smtplib.SMTPDataError) as error:
        client.send_message(message, from_addr=ALICE)
    assert error.value.smtp_code == 554
    assert error.value.smtp_error == (
        b"5.2.252 SendAsDenied; alice@m365.sandbox.test not allowed to send as "
        b"boss@m365.sandbox.test")
    assert fetch_by_subject(sandbox, DANA, message["Subject"]) == []


def test_dovecot_checks_envelope_sender_only(sandbox: Sandbox) -> None:
    with smtp_login(sandbox, DANA) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as error:
            client.sendmail("boss@elsewhere.test", [CHRIS], b"Subject: x\r\n\r\nx\r\n")
        message = new_message("boss@elsewhere.test", CHRIS)
        client.send_message(message, from_addr=DANA)
    assert error.value.smtp_code == 553
    assert error.value.smtp_error == (
        b"5.7.1 <boss@elsewhere.test>: Sender address rejected: not owned by user "
        b"dana@dovecot.sandbox.test")
    delivered = email.message_from_bytes(fetch_by_subject(sandbox, CHRIS, message["Subject"])[0])
    assert delivered["From"] == "boss@elsewhere.test"


def test_courier_passes_any_sender(sandbox: Sandbox) -> None:
    message = new_message("anyone@elsewhere.test", DANA)
    with smtp_login(sandbox, CHRIS) as client:
        client.send_message(message)
    delivered = email.message_from_bytes(fetch_by_subject(sandbox, DANA, message["Subject"])[0])
    assert delivered["From"] == "anyone@elsewhere.test"
    assert delivered["Return-Path"] == "<anyone@elsewhere.test>"


def _b64(text: str) -> bytes:
    return base64.b64encode(text.encode())
