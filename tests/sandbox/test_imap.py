"""The sandbox IMAP server: TLS modes, personalities, login replies and OAuth2."""

from __future__ import annotations

import base64
import imaplib
import socket
import ssl

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import DRAFTS, JUNK, SENT, TRASH
from sandbox_helpers import ALICE, CHRIS, DANA, GINA, SUPPORT, imap_login, imap_plain

from toolkit.sandbox import Sandbox


def test_implicit_tls_login_and_list(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    user = sandbox.user(DANA)
    with IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port, ssl_context=tls,
                    timeout=5) as client:
        assert b"STARTTLS" not in client.capabilities()
        client.login(DANA, user.password.reveal())
        names = [name for _, _, name in client.list_folders()]
    assert "INBOX" in names


def test_starttls_login_only_after_upgrade(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    client = imap_plain(sandbox, "imap-starttls")
    try:
        assert "STARTTLS" in client.capabilities
        assert "LOGINDISABLED" in client.capabilities
        assert not any(cap.startswith("AUTH=") for cap in client.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            client.login(DANA, sandbox.user(DANA).password.reveal())
        client.starttls(ssl_context=tls)
        assert "LOGINDISABLED" not in client.capabilities
        assert "AUTH=PLAIN" in client.capabilities
        assert "AUTH=XOAUTH2" in client.capabilities
        assert "AUTH=OAUTHBEARER" in client.capabilities
        status, _ = client.login(DANA, sandbox.user(DANA).password.reveal())
        assert status == "OK"
    finally:
        client.logout()


def test_starttls_with_imapclient(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    with IMAPClient(sandbox.host, port=sandbox.endpoint("imap-starttls").port, ssl=False,
                    timeout=5) as client:
        client.starttls(ssl_context=tls)
        client.login(CHRIS, sandbox.user(CHRIS).password.reveal())
        assert client.folder_exists("INBOX.Sent")


def test_untrusted_client_fails_certificate_check(sandbox: Sandbox) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts no CA at all
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port, ssl_context=context,
                   timeout=5)


def test_gmail_folders_and_special_use(sandbox: Sandbox) -> None:
    client = imap_login(sandbox, GINA)
    try:
        listed = {name: (flags, delimiter) for flags, delimiter, name in client.list_folders()}
        assert listed["[Gmail]"][0] == (b"\\Noselect", b"\\HasChildren")
        assert b"\\Sent" in listed["[Gmail]/Sent Mail"][0]
        assert b"\\All" in listed["[Gmail]/All Mail"][0]
        assert b"\\Junk" in listed["[Gmail]/Spam"][0]
        assert listed["[Gmail]/Sent Mail"][1] == b"/"
        assert client.find_special_folder(SENT) == "[Gmail]/Sent Mail"
        assert client.find_special_folder(TRASH) == "[Gmail]/Trash"
        assert client.find_special_folder(DRAFTS) == "[Gmail]/Drafts"
        assert client.namespace().personal == (("", "/"),)
        with pytest.raises(IMAPClientError):
            client.select_folder("[Gmail]")
    finally:
        client.logout()


def test_microsoft365_folders(sandbox: Sandbox) -> None:
    client = imap_login(sandbox, ALICE)
    try:
        assert client.find_special_folder(SENT) == "Sent Items"
        assert client.find_special_folder(TRASH) == "Deleted Items"
        assert client.find_special_folder(JUNK) == "Junk Email"
        names = {name for _, _, name in client.list_folders()}
        assert {"Archive", "Drafts"} <= names
        assert client.namespace().personal == (("", "/"),)
    finally:
        client.logout()


def test_courier_list_and_namespace(sandbox: Sandbox) -> None:
    client = imap_login(sandbox, CHRIS)
    try:
        listed = {name: (flags, delimiter) for flags, delimiter, name in client.list_folders()}
        assert set(listed) == {"INBOX", "INBOX.Contact", "INBOX.Drafts", "INBOX.Sent",
                               "INBOX.Support", "INBOX.Support.Contact", "INBOX.Trash"}
        assert all(delimiter == b"." for _, delimiter in listed.values())
        assert b"\\HasChildren" in listed["INBOX"][0]
        assert b"\\HasChildren" in listed["INBOX.Support"][0]
        assert client.namespace().personal == (("INBOX.", "."),)
        assert client.find_special_folder(SENT) == "INBOX.Sent"  # found by name, not by flag
    finally:
        client.logout()


def test_courier_rejects_folder_outside_namespace(sandbox: Sandbox) -> None:
    client = imap_login(sandbox, CHRIS)
    try:
        with pytest.raises(IMAPClientError, match="must start with INBOX"):
            client.create_folder("Support2")
        client.create_folder("INBOX.Support2")
        assert client.folder_exists("INBOX.Support2")
        with pytest.raises(IMAPClientError):
            client.select_folder("Sent")
    finally:
        client.logout()


def test_dovecot_list_and_namespace(sandbox: Sandbox) -> None:
    client = imap_login(sandbox, DANA)
    try:
        listed = {name: flags for flags, _, name in client.list_folders()}
        assert set(listed) >= {"Sent", "Drafts", "Trash", "Junk", "Support", "Support/Contact"}
        assert b"\\Sent" in listed["Sent"]
        assert b"\\HasChildren" in listed["Support"]
        assert client.namespace().personal == (("", "/"),)
    finally:
        client.logout()


def test_namespace_raw_reply(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    client = imaplib.IMAP4_SSL(sandbox.host, sandbox.endpoint("imap-tls").port, ssl_context=tls,
                               timeout=5)
    try:
        client.login(CHRIS, sandbox.user(CHRIS).password.reveal())
        assert "NAMESPACE" in client.capabilities
        status, _ = client._simple_command("NAMESPACE")
        assert status == "OK"
        assert client.untagged_responses["NAMESPACE"] == [b'(("INBOX." ".")) NIL NIL']
    finally:
        client.logout()


def test_namespace_needs_login(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    # imaplib checks the state itself, so the command goes over a raw TLS socket.
    with socket.create_connection((sandbox.host, sandbox.endpoint("imap-tls").port),
                                  timeout=5) as raw, tls.wrap_socket(
                                      raw, server_hostname=sandbox.host) as conn:
        reader = conn.makefile("rb")
        assert reader.readline().startswith(b"* OK ")
        conn.sendall(b"a1 NAMESPACE\r\n")
        assert reader.readline() == b"a1 BAD NAMESPACE: Must authenticate first.\r\n"


def test_gmail_account_password_needs_app_password(sandbox: Sandbox) -> None:
    gina = sandbox.user(GINA)
    assert gina.app_password is not None
    with IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port,
                    ssl_context=sandbox.client_context(), timeout=5) as client:
        with pytest.raises(LoginError) as error:
            client.login(GINA, gina.password.reveal())
        assert str(error.value) == (
            "b'[ALERT] Application-specific password required: "
            "https://support.google.com/accounts/answer/185833 (Failure)'"
        )
        with pytest.raises(LoginError, match=r"\[AUTHENTICATIONFAILED\] Invalid credentials"):
            client.login(GINA, "wrong password")
        grouped = " ".join(gina.app_password.reveal()[i:i + 4] for i in range(0, 16, 4))
        client.login(GINA, grouped)  # Google shows app passwords in groups of four


def test_gmail_app_password_over_authenticate_plain(sandbox: Sandbox,
                                                    tls: ssl.SSLContext) -> None:
    gina = sandbox.user(GINA)
    assert gina.app_password is not None
    client = imaplib.IMAP4_SSL(sandbox.host, sandbox.endpoint("imap-tls").port, ssl_context=tls,
                               timeout=5)
    try:
        plain = f"\0{GINA}\0{gina.password.reveal()}".encode()
        with pytest.raises(imaplib.IMAP4.error, match="Application-specific password required"):
            client.authenticate("PLAIN", lambda _: plain)
        plain = f"\0{GINA}\0{gina.app_password.reveal()}".encode()
        status, _ = client.authenticate("PLAIN", lambda _: plain)
        assert status == "OK"
    finally:
        client.logout()


def test_microsoft365_basic_login_refused(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    alice = sandbox.user(ALICE)
    client = imaplib.IMAP4_SSL(sandbox.host, sandbox.endpoint("imap-tls").port, ssl_context=tls,
                               timeout=5)
    try:
        with pytest.raises(imaplib.IMAP4.error) as login_error:
            client.login(ALICE, alice.password.reveal())
        assert login_error.value.args[0] == b"LOGIN failed."
        plain = f"\0{ALICE}\0{alice.password.reveal()}".encode()
        with pytest.raises(imaplib.IMAP4.error) as auth_error:
            client.authenticate("PLAIN", lambda _: plain)
        assert str(auth_error.value) == "AUTHENTICATE failed."
    finally:
        client.logout()


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth2_login(sandbox: Sandbox, mechanism: str) -> None:
    token = sandbox.access_token(ALICE).reveal()
    with IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port,
                    ssl_context=sandbox.client_context(), timeout=5) as client:
        if mechanism == "XOAUTH2":
            client.oauth2_login(ALICE, token)
        else:
            client.oauthbearer_login(ALICE, token)
        assert client.find_special_folder(SENT) == "Sent Items"


def test_oauth2_bad_tokens_get_authenticate_failed(sandbox: Sandbox) -> None:
    authority = sandbox.authority
    assert authority is not None
    expired = authority.issue_token(user=ALICE, lifetime=-60)
    other_user = authority.issue_token(user=GINA)
    graph = authority.issue_token(user=ALICE, audience="https://graph.microsoft.com")
    for token in ("not-a-token", expired, other_user, graph):
        with IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port,
                        ssl_context=sandbox.client_context(), timeout=5) as client:
            with pytest.raises(LoginError) as error:
                client.oauth2_login(ALICE, token)
            assert str(error.value) == "AUTHENTICATE failed."


def test_oauth2_refused_for_shared_mailbox_and_courier(sandbox: Sandbox) -> None:
    authority = sandbox.authority
    assert authority is not None
    for address in (SUPPORT, CHRIS):
        token = authority.issue_token(user=address)
        with IMAPClient(sandbox.host, port=sandbox.endpoint("imap-tls").port,
                        ssl_context=sandbox.client_context(), timeout=5) as client:
            with pytest.raises(LoginError, match="AUTHENTICATE failed"):
                client.oauth2_login(address, token)


def test_unknown_user_and_wrong_password(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    client = imaplib.IMAP4_SSL(sandbox.host, sandbox.endpoint("imap-tls").port, ssl_context=tls,
                               timeout=5)
    try:
        with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\] Authentication"):
            client.login(DANA, "wrong")
        with pytest.raises(imaplib.IMAP4.error, match=r"^b'Login failed\.'$"):
            client.login(CHRIS, "wrong")
        with pytest.raises(imaplib.IMAP4.error, match="Invalid authentication credentials"):
            client.login("nobody@example.test", "wrong")
    finally:
        client.logout()


def test_appended_message_reads_back(sandbox: Sandbox) -> None:
    raw = b"From: a@example.test\r\nSubject: seeded\r\n\r\nseeded body\r\n"
    uid = sandbox.append_message(DANA, raw, folder="Support/Contact")
    client = imap_login(sandbox, DANA)
    try:
        client.select_folder("Support/Contact", readonly=True)
        fetched = client.fetch([uid], ["RFC822"])
    finally:
        client.logout()
    assert fetched[uid][b"RFC822"] == raw


def test_authenticate_plain_raw_exchange(sandbox: Sandbox, tls: ssl.SSLContext) -> None:
    client = imaplib.IMAP4_SSL(sandbox.host, sandbox.endpoint("imap-tls").port, ssl_context=tls,
                               timeout=5)
    try:
        tag = client._new_tag().decode()
        plain = base64.b64encode(f"\0{DANA}\0{sandbox.user(DANA).password.reveal()}".encode())
        client.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
        assert client.readline().startswith(b"+")
        client.send(plain + b"\r\n")
        reply = client.readline()
        while not reply.startswith(tag.encode()):
            reply = client.readline()
        assert reply.startswith(f"{tag} OK".encode())
    finally:
        client.shutdown()


def test_idle_reports_new_message(sandbox: Sandbox) -> None:
    client = imap_login(sandbox, DANA)
    try:
        client.select_folder("Support")
        client.idle()
        sandbox.append_message(DANA, b"Subject: idle\r\n\r\nnew\r\n", folder="Support")
        responses = client.idle_check(timeout=5)
        client.idle_done()
    finally:
        client.logout()
    assert (1, b"EXISTS") in responses
