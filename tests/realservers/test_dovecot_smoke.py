"""Smoke tests of the private Dovecot instance: TLS, logins, STARTTLS policy and folders."""

from __future__ import annotations

import imaplib
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.realservers import CERTIFICATE_NAMES, DOMAIN, TlsFiles, require_installed
from tests.realservers.dovecot import BINARIES, DovecotInstance, DovecotServer

pytestmark = pytest.mark.dovecot

# Dovecot treats a client on the server's own address as secured, so the
# STARTTLS requirement only shows from another loopback address.
OTHER_LOOPBACK = "127.0.0.2"

# Measured about 0.5 s per failure on Dovecot 2.3.19 with auth_failure_delay = 0;
# the default of 2 s, or anvil's penalty, would exceed this.
FAST_FAILURE_SECONDS = 1.5


class IMAP4FromAddress(imaplib.IMAP4):
    """imaplib client whose connection leaves from `source_address`."""

    def __init__(self, host: str, port: int, source_address: str) -> None:
        self.source_address = source_address
        super().__init__(host, port, timeout=10)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection(
            (self.host, self.port), timeout, source_address=(self.source_address, 0)
        )


def client_context(ca_file: Path) -> ssl.SSLContext:
    """Return a client TLS context that trusts only the sandbox authority."""
    return ssl.create_default_context(cafile=str(ca_file))


def connect_implicit_tls(server: DovecotServer) -> IMAPClient:
    """Open an IMAP session on the implicit-TLS port, trusting the sandbox authority."""
    context = client_context(server.ca_file)
    return IMAPClient(server.host, server.imap_tls_port, ssl=True, ssl_context=context, timeout=10)


def first_user(server: DovecotServer) -> tuple[str, str]:
    """Return the login name and password of the folder user."""
    return server.folder_user, server.users[server.folder_user]


def other_user(server: DovecotServer) -> str:
    """Return a user who is not the folder user."""
    return next(name for name in server.users if name != server.folder_user)


@pytest.mark.parametrize("server_name", CERTIFICATE_NAMES)
def test_certificate_matches_server_name(dovecot: DovecotServer, server_name: str) -> None:
    context = client_context(dovecot.ca_file)
    with (
        socket.create_connection((dovecot.host, dovecot.imap_tls_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}
        assert tls.recv(100).startswith(b"* OK")


def test_implicit_tls_login(dovecot: DovecotServer) -> None:
    user, password = first_user(dovecot)
    with connect_implicit_tls(dovecot) as client:
        capabilities = client.capabilities()
        assert b"AUTH=PLAIN" in capabilities
        assert b"STARTTLS" not in capabilities
        assert client.login(user, password) == b"Logged in"


def test_starttls_login(dovecot: DovecotServer) -> None:
    user, password = first_user(dovecot)
    context = client_context(dovecot.ca_file)
    with IMAPClient(dovecot.host, dovecot.imap_starttls_port, ssl=False, timeout=10) as client:
        assert b"STARTTLS" in client.capabilities()
        client.starttls(ssl_context=context)
        assert client.login(user, password) == b"Logged in"


def test_untrusted_certificate_fails(dovecot: DovecotServer) -> None:
    # A context with an empty trust store acts like a client without the sandbox authority.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(dovecot.host, dovecot.imap_tls_port, ssl_context=context, timeout=10)


def test_wrong_password_fails_fast(dovecot: DovecotServer) -> None:
    user, _ = first_user(dovecot)
    # Several failures in a row, because anvil's penalty would grow from the second on.
    for attempt in range(3):
        with connect_implicit_tls(dovecot) as client:
            started = time.monotonic()
            with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
                client.login(user, f"wrong-password-{attempt}")
            elapsed = time.monotonic() - started
        assert elapsed < FAST_FAILURE_SECONDS, f"failure {attempt + 1} took {elapsed:.2f} s"


def test_logindisabled_before_starttls(dovecot: DovecotServer) -> None:
    user, password = first_user(dovecot)
    client = IMAP4FromAddress(dovecot.host, dovecot.imap_starttls_port, OTHER_LOOPBACK)
    try:
        assert "LOGINDISABLED" in client.capabilities
        assert "STARTTLS" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error):
            client.login(user, password)

        client.starttls(ssl_context=client_context(dovecot.ca_file))
        assert "LOGINDISABLED" not in client.capabilities
        assert "AUTH=PLAIN" in client.capabilities
        assert client.login(user, password)[0] == "OK"
    finally:
        client.shutdown()


def test_same_address_counts_as_secured(dovecot: DovecotServer) -> None:
    # Pins the pitfall that OTHER_LOOPBACK works around: from the server's own
    # address Dovecot offers plain-text login without TLS.
    client = IMAP4FromAddress(dovecot.host, dovecot.imap_starttls_port, dovecot.host)
    try:
        assert "LOGINDISABLED" not in client.capabilities
        assert "AUTH=PLAIN" in client.capabilities
    finally:
        client.shutdown()


def test_list_shows_folders_with_slash(dovecot: DovecotServer) -> None:
    user, password = first_user(dovecot)
    with connect_implicit_tls(dovecot) as client:
        client.login(user, password)
        folders = {name: (flags, delimiter) for flags, delimiter, name in client.list_folders()}

    assert set(folders) == {"INBOX", "Sent", "Trash", "Support", "Support/Contact"}
    assert {delimiter for _, delimiter in folders.values()} == {b"/"}
    assert b"\\Sent" in folders["Sent"][0]
    assert b"\\Trash" in folders["Trash"][0]
    assert b"\\HasChildren" in folders["Support"][0]


def test_other_user_has_only_default_folders(dovecot: DovecotServer) -> None:
    user = other_user(dovecot)
    with connect_implicit_tls(dovecot) as client:
        client.login(user, dovecot.users[user])
        names = {name for _, _, name in client.list_folders()}

    assert names == {"INBOX", "Sent", "Trash"}


@pytest.fixture
def dovecot_with_public_namespace(
    real_servers_folder: Path, mail_tls: TlsFiles
) -> Iterator[DovecotServer]:
    """Start a second, short-lived Dovecot with a public namespace "Shared/"."""
    require_installed("Dovecot", BINARIES)
    instance = DovecotInstance(
        real_servers_folder / "dovecot-public",
        mail_tls,
        {f"dora@{DOMAIN}": secrets.token_urlsafe(12)},
        extra_folders=(),
        public_prefix="Shared",
        public_folders=("Team",),
    )
    with instance as server:
        yield server


def test_public_namespace_is_listed(dovecot_with_public_namespace: DovecotServer) -> None:
    server = dovecot_with_public_namespace
    user, password = first_user(server)
    with connect_implicit_tls(server) as client:
        client.login(user, password)
        personal, _other, shared = client.namespace()
        names = {name for _, _, name in client.list_folders()}

    assert personal[0] == ("", "/")
    assert shared[0] == ("Shared/", "/")
    assert "Shared/Team" in names
