"""Client helpers for the sandbox tests: logins, messages and readback."""

from __future__ import annotations

import imaplib
import smtplib
import uuid
from email.message import EmailMessage

from imapclient import IMAPClient

from toolkit.sandbox import Sandbox
from toolkit.sandbox.personalities import BasicAuth

DANA = "dana@dovecot.sandbox.test"
CHRIS = "chris@courier.sandbox.test"
GINA = "gina@gmail.sandbox.test"
ALICE = "alice@m365.sandbox.test"
BOB = "bob@m365.sandbox.test"
CAROL = "carol@m365.sandbox.test"
SUPPORT = "support@m365.sandbox.test"


def imap_login(sandbox: Sandbox, address: str) -> IMAPClient:
    """Open an implicit-TLS IMAP session as a user, with the login that user's personality takes."""
    client = IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port,
                        ssl_context=sandbox.client_context(), timeout=5)
    user = sandbox.user(address)
    try:
        if user.profile.basic_auth is BasicAuth.DISABLED:
            client.oauth2_login(address, sandbox.access_token(address).reveal())
        elif user.app_password is not None:
            client.login(address, user.app_password.reveal())
        else:
            client.login(address, user.password.reveal())
    except BaseException:
        client.shutdown()
        raise
    return client


def smtp_login(sandbox: Sandbox, address: str) -> smtplib.SMTP_SSL:
    """Open an implicit-TLS SMTP session, authenticated as the user's personality requires."""
    client = smtplib.SMTP_SSL(sandbox.host, sandbox.endpoint("smtp-tls").port,
                              context=sandbox.client_context(), timeout=5)
    user = sandbox.user(address)
    try:
        client.ehlo()  # smtplib's auth() does not send EHLO by itself
        if user.profile.basic_auth is BasicAuth.DISABLED:
            token = sandbox.access_token(address).reveal()
            client.auth("XOAUTH2", lambda challenge=None: xoauth2(address, token))
        elif user.app_password is not None:
            client.login(address, user.app_password.reveal())
        else:
            client.login(address, user.password.reveal())
    except BaseException:
        client.close()
        raise
    return client


def xoauth2(address: str, token: str) -> str:
    """Return the XOAUTH2 initial client response for a user and token."""
    return f"user={address}\x01auth=Bearer {token}\x01\x01"


def new_message(sender: str, to: str, *, sender_name: str = "") -> EmailMessage:
    """Return a message with a unique subject, so that a test finds its own copy."""
    message = EmailMessage()
    message["From"] = f"{sender_name} <{sender}>" if sender_name else sender
    message["To"] = to
    message["Subject"] = f"sandbox test {uuid.uuid4().hex}"
    message.set_content("Hello from the sandbox tests.\n")
    return message


def fetch_by_subject(sandbox: Sandbox, address: str, subject: str,
                     folder: str = "INBOX") -> list[bytes]:
    """Return the raw messages in a user's folder whose Subject is `subject`."""
    client = imap_login(sandbox, address)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search(["SUBJECT", subject])
        if not uids:
            return []
        return [data[b"RFC822"] for data in client.fetch(uids, ["RFC822"]).values()]
    finally:
        client.logout()


def imap_plain(sandbox: Sandbox, endpoint: str) -> imaplib.IMAP4:
    """Connect to an IMAP endpoint without TLS."""
    return imaplib.IMAP4(sandbox.host, sandbox.endpoint(endpoint).port, timeout=5)
