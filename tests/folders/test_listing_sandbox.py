"""Listing, checking and creating folders against the sandbox personalities."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from tests.folders.conftest import DANA_FOLDERS, entry
from toolkit.findings import Severity
from toolkit.folders import (
    ListingReason,
    check_entry_storage_folder,
    check_storage_folder,
    create_storage_folder,
    list_folders,
)
from toolkit.probe import Reason, Timeouts
from toolkit.sandbox import Sandbox
from toolkit.settings import AuthType

FAST = Timeouts(connect=2, greeting=1, handshake=2, read=2)


def names(sandbox: Sandbox, entry_name: str) -> list[str]:
    listing = list_folders(entry(sandbox, entry_name))
    assert listing.ok, listing.error
    return [folder.name for folder in listing.folders]


def test_courier_namespace_and_delimiter(sandbox: Sandbox) -> None:
    listing = list_folders(entry(sandbox, "chris-courier-imap"))
    assert listing.reason is ListingReason.OK
    assert listing.personal is not None
    assert (listing.personal.prefix, listing.personal.delimiter) == ("INBOX.", ".")
    assert listing.delimiter == "."
    assert listing.list_command == "LIST"
    assert "INBOX.Support.Contact" in [folder.name for folder in listing.folders]
    assert listing.folder("INBOX.Support") is not None
    assert listing.folder("inbox") is not None


def test_courier_storage_folder_cases(sandbox: Sandbox) -> None:
    listing = list_folders(entry(sandbox, "chris-courier-imap"))
    cases = {
        "INBOX.Support.Contact": "storage-folder-nested",
        "INBOX.Contact": "storage-folder-ok",
        "Contact": "storage-folder-not-found",
        "Support/Contact": "storage-folder-wrong-delimiter",
        "Archive/2024": "storage-folder-wrong-delimiter",
        "Supp%": "storage-folder-not-found",
        "*": "storage-folder-not-found",
    }
    for name, expected in cases.items():
        findings = check_storage_folder(listing, name)
        assert [f.id for f in findings] == [expected], name
    not_found = check_storage_folder(listing, "Contact")[0]
    assert "'INBOX.Contact'" in not_found.message


def test_gmail_container_and_special_use(sandbox: Sandbox) -> None:
    listing = list_folders(entry(sandbox, "gina-gmail-imap"))
    container = listing.folder("[Gmail]")
    assert container is not None
    assert not container.selectable
    sent = listing.folder("[Gmail]/Sent Mail")
    assert sent is not None
    assert sent.special_use == "\\Sent"
    assert check_storage_folder(listing, "[Gmail]")[0].id == "storage-folder-noselect"
    assert check_storage_folder(listing, "Support")[0].id == "storage-folder-ok"


def test_microsoft_oauth2_login_lists_sent_items(sandbox: Sandbox) -> None:
    settings = entry(sandbox, "alice-m365-imap")
    assert settings.auth is AuthType.OAUTH2
    listing = list_folders(settings)
    assert listing.ok, listing.error
    items = listing.folder("Sent Items")
    assert items is not None
    assert items.special_use == "\\Sent"
    assert listing.folder("Deleted Items") is not None
    finding = check_storage_folder(listing, "Sent Items")[0]
    assert finding.id == "storage-folder-special-use"


def test_dovecot_case_mismatch_and_non_ascii(sandbox: Sandbox) -> None:
    listing = list_folders(entry(sandbox, "dana-dovecot-imap"))
    assert set(DANA_FOLDERS) <= {folder.name for folder in listing.folders}
    assert check_storage_folder(listing, "SENT")[0].id == "storage-folder-case-mismatch"
    for name in DANA_FOLDERS:
        assert check_storage_folder(listing, name)[0].id == "storage-folder-ok", name
    assert check_storage_folder(listing, "Supp%")[0].id == "storage-folder-not-found"


def test_entry_check_uses_storage_folder(sandbox: Sandbox) -> None:
    report = check_entry_storage_folder(entry(sandbox, "chris-courier-imap"))
    assert report.folder == "INBOX.Support"
    assert [f.id for f in report.findings] == ["storage-folder-ok"]
    assert report.creation is None


def test_checks_change_no_folder(sandbox: Sandbox) -> None:
    for entry_name in ("chris-courier-imap", "dana-dovecot-imap", "gina-gmail-imap"):
        before = names(sandbox, entry_name)
        for name in ("INBOX.Support.Contact", "Contact", "Supp%", "*", "[Gmail]", "SENT"):
            check_entry_storage_folder(entry(sandbox, entry_name), name)
        assert names(sandbox, entry_name) == before


def test_create_on_courier_adds_prefix(sandbox: Sandbox) -> None:
    settings = entry(sandbox, "chris-courier-imap")
    report = create_storage_folder(settings, "Überweisungen")
    assert report.folder == "INBOX.Überweisungen"
    assert report.creation is not None
    assert report.creation.created
    assert [f.id for f in report.findings] == ["storage-folder-ok"]
    assert "INBOX.Überweisungen" in names(sandbox, "chris-courier-imap")

    again = create_storage_folder(settings, "INBOX.Überweisungen")
    assert again.creation is not None
    assert again.creation.existed
    assert [f.id for f in again.findings] == ["storage-folder-ok"]


def test_create_non_ascii_on_dovecot(sandbox: Sandbox) -> None:
    report = create_storage_folder(entry(sandbox, "dana-dovecot-imap"), "日本語 Archiv")
    assert report.creation is not None
    assert report.creation.created
    assert report.folder == "日本語 Archiv"
    assert [f.id for f in report.findings] == ["storage-folder-ok"]


def test_create_rejects_sub_folder_name(sandbox: Sandbox) -> None:
    settings = entry(sandbox, "dana-dovecot-imap")
    before = names(sandbox, "dana-dovecot-imap")
    with pytest.raises(ValueError, match="sub-folder"):
        create_storage_folder(settings, "Support/New")
    assert names(sandbox, "dana-dovecot-imap") == before


def test_smtp_entry_is_rejected(sandbox: Sandbox) -> None:
    smtp = next(s for s in sandbox.settings() if s.name == "chris-courier-smtp")
    with pytest.raises(ValueError, match="not IMAP"):
        list_folders(smtp)


def test_wrong_password_keeps_server_words(sandbox: Sandbox) -> None:
    settings = entry(sandbox, "chris-courier-imap").with_secrets(password="wrong-password")
    listing = list_folders(settings)
    assert listing.reason is ListingReason.LOGIN_REJECTED
    assert listing.stage == "login"
    assert listing.server_text == "Login failed."
    finding = check_storage_folder(listing, "INBOX.Support")[0]
    assert finding.id == "folder-list-failed"
    assert finding.severity is Severity.ERROR
    assert "Login failed." in finding.message


def test_missing_password_connects_nowhere(sandbox: Sandbox) -> None:
    settings = dataclasses.replace(entry(sandbox, "chris-courier-imap"), password=None)
    listing = list_folders(settings)
    assert listing.reason is ListingReason.PASSWORD_MISSING
    assert listing.stage == "setup"
    assert listing.probe is None
    assert settings.password_env is not None
    assert settings.password_env in listing.error


def test_missing_token(sandbox: Sandbox) -> None:
    settings = dataclasses.replace(entry(sandbox, "alice-m365-imap"), token=None)
    assert list_folders(settings).reason is ListingReason.TOKEN_MISSING


def test_unreadable_ca_file(sandbox: Sandbox) -> None:
    settings = dataclasses.replace(entry(sandbox, "chris-courier-imap"),
                                   ca_file=sandbox.folder / "missing.pem")
    listing = list_folders(settings)
    assert listing.reason is ListingReason.CA_FILE_UNREADABLE
    assert listing.probe is None
    assert "missing.pem" in listing.error


@pytest.mark.parametrize(
    ("endpoint_name", "reason"),
    [
        ("imap-expired-certificate", ListingReason.CERTIFICATE_EXPIRED),
        ("imap-wrong-host-certificate", ListingReason.CERTIFICATE_HOSTNAME_MISMATCH),
        ("imap-busy", ListingReason.SERVICE_UNAVAILABLE),
        ("imap-no-starttls", ListingReason.STARTTLS_NOT_OFFERED),
        ("imap-silent", ListingReason.GREETING_TIMEOUT),
    ],
)
def test_behaviour_endpoints_have_named_reasons(
    sandbox: Sandbox, endpoint_name: str, reason: ListingReason
) -> None:
    endpoint = sandbox.endpoint(endpoint_name)
    settings = dataclasses.replace(entry(sandbox, "dana-dovecot-imap"), port=endpoint.port,
                                   tls=endpoint.security.value == "implicit-tls")
    listing = list_folders(settings, FAST)
    assert listing.reason is reason
    assert listing.stage in ("connect", "starttls")
    assert listing.folders == ()


def test_busy_server_words_and_probe(sandbox: Sandbox) -> None:
    endpoint = sandbox.endpoint("imap-busy")
    settings = dataclasses.replace(entry(sandbox, "dana-dovecot-imap"), port=endpoint.port,
                                   tls=False)
    listing = list_folders(settings, FAST)
    assert "Too many connections" in listing.server_text
    assert listing.probe is not None
    assert listing.probe.reason is Reason.SERVICE_UNAVAILABLE


def test_tls_tick_on_starttls_port(sandbox: Sandbox) -> None:
    port = sandbox.endpoint("imap-starttls").port
    settings = dataclasses.replace(entry(sandbox, "dana-dovecot-imap"), port=port, tls=True)
    assert list_folders(settings, FAST).reason is ListingReason.TLS_ON_PLAIN_PORT


def test_starttls_entry_lists(sandbox: Sandbox) -> None:
    port = sandbox.endpoint("imap-starttls").port
    settings = dataclasses.replace(entry(sandbox, "dana-dovecot-imap"), port=port, tls=False)
    listing = list_folders(settings, FAST)
    assert listing.ok, listing.error
    assert "STARTTLS" not in listing.capabilities


def test_closed_port_is_refused(sandbox: Sandbox) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings = dataclasses.replace(entry(sandbox, "dana-dovecot-imap"), port=port)
    assert list_folders(settings, FAST).reason is ListingReason.CONNECTION_REFUSED


def test_listing_reasons_cover_probe_reasons() -> None:
    for reason in Reason:
        assert ListingReason(reason.value).value == reason.value


def test_listing_json_has_folders(sandbox: Sandbox) -> None:
    data = list_folders(entry(sandbox, "chris-courier-imap")).to_dict()
    assert data["reason"] == "ok"
    assert data["namespaces"]["personal"] == [{"prefix": "INBOX.", "delimiter": "."}]
    contact = next(f for f in data["folders"] if f["name"] == "INBOX.Support.Contact")
    assert contact == {
        "name": "INBOX.Support.Contact", "display_name": "Contact", "depth": 3,
        "parent": "INBOX.Support", "delimiter": ".", "flags": ["\\HasNoChildren"],
        "special_use": None, "selectable": True,
    }
