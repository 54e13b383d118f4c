"""Smoke tests of the private Postfix instance: STARTTLS policy, AUTH and delivery to Dovecot."""

from __future__ import annotations

import secrets
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.realservers.dovecot import DovecotServer
from tests.realservers.postfix import DISCARD_REASON, PostfixServer

pytestmark = pytest.mark.postfix

DELIVERY_TIMEOUT_SECONDS = 10.0


def client_context(ca_file: Path) -> ssl.SSLContext:
    """Return a client TLS context that trusts only the sandbox authority."""
    return ssl.create_default_context(cafile=str(ca_file))


def connect_implicit_tls(server: PostfixServer) -> smtplib.SMTP_SSL:
    """Open an SMTP session on the implicit-TLS port, trusting the sandbox authority."""
    context = client_context(server.ca_file)
    return smtplib.SMTP_SSL(server.host, server.smtp_tls_port, context=context, timeout=10)


def two_users(server: PostfixServer) -> tuple[str, str]:
    """Return a sender and a different recipient among the sandbox users."""
    sender, recipient = list(server.users)[:2]
    return sender, recipient


def new_message(sender: str, recipient: str) -> EmailMessage:
    """Build a short message with a unique Message-ID to search for."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "maildiag smoke test"
    message["Message-ID"] = f"<{secrets.token_hex(8)}@{sender.partition('@')[2]}>"
    message.set_content("Sent by the Postfix smoke test.\n")
    return message


def auth_mechanisms(client: smtplib.SMTP) -> set[str]:
    """Return the AUTH mechanisms of the last EHLO reply, or an empty set."""
    return set(client.esmtp_features.get("auth", "").split())


def test_auth_offered_only_after_starttls(postfix: PostfixServer) -> None:
    with smtplib.SMTP(postfix.host, postfix.smtp_starttls_port, timeout=10) as client:
        code, _ = client.ehlo("client.sandbox.test")
        assert code == 250
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")

        code, _ = client.starttls(context=client_context(postfix.ca_file))
        assert code == 220
        client.ehlo("client.sandbox.test")
        assert auth_mechanisms(client) == {"PLAIN", "LOGIN"}
        assert not client.has_extn("starttls")


def test_mail_before_starttls_gets_530(postfix: PostfixServer) -> None:
    sender, _ = two_users(postfix)
    with smtplib.SMTP(postfix.host, postfix.smtp_starttls_port, timeout=10) as client:
        client.ehlo("client.sandbox.test")
        code, reply = client.mail(sender)

    assert code == 530
    assert reply == b"5.7.0 Must issue a STARTTLS command first"


def test_starttls_login(postfix: PostfixServer) -> None:
    sender, _ = two_users(postfix)
    with smtplib.SMTP(postfix.host, postfix.smtp_starttls_port, timeout=10) as client:
        client.starttls(context=client_context(postfix.ca_file))
        code, _ = client.login(sender, postfix.users[sender])

    assert code == 235


def test_implicit_tls_login(postfix: PostfixServer) -> None:
    sender, _ = two_users(postfix)
    with connect_implicit_tls(postfix) as client:
        client.ehlo("client.sandbox.test")
        assert auth_mechanisms(client) == {"PLAIN", "LOGIN"}
        assert not client.has_extn("starttls")
        code, _ = client.login(sender, postfix.users[sender])

    assert code == 235


def test_wrong_password_gets_535(postfix: PostfixServer) -> None:
    sender, _ = two_users(postfix)
    with connect_implicit_tls(postfix) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
            client.login(sender, "wrong-password")

    assert failure.value.smtp_code == 535


def test_unknown_recipient_is_rejected(postfix: PostfixServer) -> None:
    sender, _ = two_users(postfix)
    with connect_implicit_tls(postfix) as client:
        client.login(sender, postfix.users[sender])
        with pytest.raises(smtplib.SMTPRecipientsRefused) as failure:
            client.send_message(new_message(sender, f"nobody@{postfix.domain}"))

    code, _ = failure.value.recipients[f"nobody@{postfix.domain}"]
    assert code == 550


def test_other_domain_is_discarded(postfix: PostfixServer) -> None:
    sender, _ = two_users(postfix)
    message = new_message(sender, "someone@example.com")
    with connect_implicit_tls(postfix) as client:
        client.login(sender, postfix.users[sender])
        refused = client.send_message(message)
    assert refused == {}

    # The discard transport logs the message as "sent" with its reason. Nothing leaves.
    expected = "to=<someone@example.com>, relay=none"
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        log = postfix.log_file.read_text(errors="replace")
        if expected in log:
            break
        time.sleep(0.1)
    lines = [line for line in log.splitlines() if expected in line]
    assert lines, f"no discard entry for someone@example.com in {postfix.log_file}"
    assert DISCARD_REASON in lines[-1]


@pytest.mark.dovecot
def test_message_arrives_in_inbox(postfix: PostfixServer, dovecot: DovecotServer) -> None:
    sender, recipient = two_users(postfix)
    message = new_message(sender, recipient)
    context = client_context(postfix.ca_file)
    sent = time.monotonic()
    with smtplib.SMTP(postfix.host, postfix.smtp_starttls_port, timeout=10) as client:
        client.starttls(context=context)
        client.login(sender, postfix.users[sender])
        assert client.send_message(message) == {}

    with IMAPClient(dovecot.host, dovecot.imap_tls_port, ssl_context=context, timeout=10) as imap:
        imap.login(recipient, dovecot.users[recipient])
        imap.select_folder("INBOX", readonly=True)
        found: list[int] = []
        while not found and time.monotonic() - sent < DELIVERY_TIMEOUT_SECONDS:
            imap.noop()
            found = imap.search(["HEADER", "Message-ID", message["Message-ID"]])
            if not found:
                time.sleep(0.1)
        assert found, f"message not in {recipient}'s INBOX after {DELIVERY_TIMEOUT_SECONDS} s"

        envelope = imap.fetch(found, ["ENVELOPE"])[found[0]][b"ENVELOPE"]
    assert envelope.subject == b"maildiag smoke test"
    assert envelope.from_[0].mailbox + b"@" + envelope.from_[0].host == sender.encode()
