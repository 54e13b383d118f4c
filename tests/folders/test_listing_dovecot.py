"""Folders and the storage-folder check against real Dovecot 2.3 on 127.0.0.1."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.realservers import DOMAIN, TlsFiles, require_installed
from tests.realservers.dovecot import BINARIES, DovecotInstance, DovecotServer
from toolkit.folders import (
    Folder,
    ListingReason,
    check_storage_folder,
    create_storage_folder,
    list_folders,
)
from toolkit.folders.listing import folders_from_entries, special_use_by_name, with_special_use
from toolkit.settings import ServerSettings, build_settings

pytestmark = pytest.mark.dovecot

# Folders of the writable instance's user, besides INBOX, Sent and Trash.
EXTRA_FOLDERS = ("Support", "Support/Contact", "Überweisungen", "Support & Sales")


def _context(server: DovecotServer) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(server.ca_file))


def dovecot_entry(server: DovecotServer, user: str, *, tls: bool = True) -> ServerSettings:
    """Return an IMAP entry for a Dovecot user, with its password."""
    return build_settings(
        {
            "name": "dovecot-imap", "protocol": "imap", "host": server.host,
            "port": server.imap_tls_port if tls else server.imap_starttls_port, "tls": tls,
            "auth": "basic", "user": user, "storage_folder": "Support",
            "ca_file": str(server.ca_file),
        },
        password=server.users[user],
    )


@pytest.fixture(scope="module")
def writable_dovecot(real_servers_folder: Path, mail_tls: TlsFiles) -> Iterator[DovecotServer]:
    """Start a Dovecot of this module's own, with a public namespace, for CREATE tests.

    The session's `dovecot` stays unchanged, because other tests compare its folders.
    """
    require_installed("Dovecot", BINARIES)
    instance = DovecotInstance(
        real_servers_folder / "dovecot-folders",
        mail_tls,
        {f"fiona@{DOMAIN}": secrets.token_urlsafe(12)},
        extra_folders=EXTRA_FOLDERS,
        public_prefix="Shared",
        public_folders=("Team",),
    )
    with instance as server:
        yield server


def test_dovecot_listing(dovecot: DovecotServer) -> None:
    listing = list_folders(dovecot_entry(dovecot, dovecot.folder_user))
    assert listing.ok, listing.error
    names = {folder.name for folder in listing.folders}
    assert names == {"INBOX", "Sent", "Trash", "Support", "Support/Contact"}
    assert listing.personal is not None
    assert (listing.personal.prefix, listing.personal.delimiter) == ("", "/")
    sent = listing.folder("Sent")
    assert sent is not None
    assert sent.special_use == "\\Sent"
    assert listing.list_command == "LIST"
    assert "SPECIAL-USE" in listing.capabilities


def test_dovecot_storage_folder_cases(dovecot: DovecotServer) -> None:
    listing = list_folders(dovecot_entry(dovecot, dovecot.folder_user))
    cases = {
        "Support": "storage-folder-ok",
        "SENT": "storage-folder-case-mismatch",
        "Sent": "storage-folder-special-use",
        "Support/Contact": "storage-folder-nested",
        "Support.Contact": "storage-folder-wrong-delimiter",
        "Supp%": "storage-folder-not-found",
        "*": "storage-folder-not-found",
        "inbox": "storage-folder-special-use",
    }
    for name, expected in cases.items():
        assert [f.id for f in check_storage_folder(listing, name)] == [expected], name


def test_dovecot_starttls_entry(dovecot: DovecotServer) -> None:
    listing = list_folders(dovecot_entry(dovecot, dovecot.folder_user, tls=False))
    assert listing.ok, listing.error


def test_dovecot_rejected_login(dovecot: DovecotServer) -> None:
    entry = dovecot_entry(dovecot, dovecot.folder_user).with_secrets(password="wrong")
    listing = list_folders(entry)
    assert listing.reason is ListingReason.LOGIN_REJECTED
    assert listing.server_text == "[AUTHENTICATIONFAILED] Authentication failed."


def test_dovecot_return_special_use(dovecot: DovecotServer) -> None:
    user = dovecot.folder_user
    with IMAPClient(dovecot.host, dovecot.imap_tls_port, ssl_context=_context(dovecot),
                    timeout=10) as client:
        client.login(user, dovecot.users[user])
        special = special_use_by_name(client)
        plain = folders_from_entries(client.list_folders())
    assert special == {"Sent": "\\Sent", "Trash": "\\Trash"}
    bare = tuple(Folder(f.name, f.delimiter) for f in plain)
    merged = {f.name: f.special_use for f in with_special_use(bare, special)}
    assert merged["Sent"] == "\\Sent"
    assert merged["Support"] is None


def test_dovecot_checks_change_nothing(dovecot: DovecotServer) -> None:
    entry = dovecot_entry(dovecot, dovecot.folder_user)
    before = [f.name for f in list_folders(entry).folders]
    for name in ("SENT", "Supp%", "*", "Support/Contact"):
        check_storage_folder(list_folders(entry), name)
    assert [f.name for f in list_folders(entry).folders] == before


def test_public_namespace(writable_dovecot: DovecotServer) -> None:
    listing = list_folders(dovecot_entry(writable_dovecot, writable_dovecot.folder_user))
    assert listing.namespaces is not None
    assert [n.prefix for n in listing.namespaces.shared] == ["Shared/"]
    shared = check_storage_folder(listing, "Shared/Team")[0]
    assert shared.id == "storage-folder-shared-namespace"
    assert check_storage_folder(listing, "Shared")[0].id == "storage-folder-noselect"


def test_non_ascii_names_on_dovecot(writable_dovecot: DovecotServer) -> None:
    listing = list_folders(dovecot_entry(writable_dovecot, writable_dovecot.folder_user))
    for name in ("Überweisungen", "Support & Sales"):
        assert check_storage_folder(listing, name)[0].id == "storage-folder-ok", name
    wire = check_storage_folder(listing, "&ANw-berweisungen")[0]
    assert wire.id == "storage-folder-not-found"
    assert "'Überweisungen'" in wire.message


def test_create_on_dovecot(writable_dovecot: DovecotServer) -> None:
    entry = dovecot_entry(writable_dovecot, writable_dovecot.folder_user)
    report = create_storage_folder(entry, "日本語")
    assert report.creation is not None
    assert report.creation.created
    assert [f.id for f in report.findings] == ["storage-folder-ok"]
    with IMAPClient(writable_dovecot.host, writable_dovecot.imap_tls_port,
                    ssl_context=_context(writable_dovecot), timeout=10) as client:
        client.login(entry.user, writable_dovecot.users[entry.user])
        assert client.folder_exists("日本語")

    again = create_storage_folder(entry, "日本語")
    assert again.creation is not None
    assert again.creation.existed
