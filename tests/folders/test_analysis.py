"""The storage-folder rules on hand-built folder lists: one finding id per case."""

from __future__ import annotations

import pytest

from tests.folders.listings import HAS, HAS_NO, courier, dovecot, gmail, listing
from toolkit.findings import Severity
from toolkit.folders import (
    Folder,
    FolderListing,
    ListingReason,
    Namespace,
    check_storage_folder,
    plan_storage_folder,
)


def verdict(folders: FolderListing, name: str | None) -> tuple[str, Severity, str, str]:
    findings = check_storage_folder(folders, name)
    assert len(findings) == 1
    found = findings[0]
    assert found.field == "storage_folder" or found.id == "folder-list-failed"
    return found.id, found.severity, found.message, found.fix


def test_courier_nested_folder() -> None:
    finding_id, severity, message, fix = verdict(courier(), "INBOX.Support.Contact")
    assert finding_id == "storage-folder-nested"
    assert severity is Severity.ERROR
    assert "'INBOX.'" in message
    assert "further down" in message
    assert "'INBOX.Support'" in fix


def test_courier_folder_under_prefix_is_top_level() -> None:
    finding_id, severity, message, _ = verdict(courier(), "INBOX.Contact")
    assert finding_id == "storage-folder-ok"
    assert severity is Severity.INFO
    assert "personal namespace prefix 'INBOX.'" in message
    assert "counts as top-level" in message


def test_courier_dropped_prefix_is_not_found() -> None:
    finding_id, _, message, fix = verdict(courier(), "Contact")
    assert finding_id == "storage-folder-not-found"
    assert "folder picker" in message
    assert "The nearest existing names are 'INBOX.Contact'" in message
    assert "'INBOX.Contact'" in fix


def test_courier_slash_path_is_wrong_delimiter() -> None:
    finding_id, _, message, fix = verdict(courier(), "Support/Contact")
    assert finding_id == "storage-folder-wrong-delimiter"
    assert "separates levels with '.', not '/'" in message
    assert "'INBOX.Support.Contact'" in message
    # The corrected name is a sub-folder, so the fix points at a top-level one instead.
    assert "storage-folder-nested" in message
    assert "'INBOX.Support'" in fix


def test_courier_lower_case_inbox_prefix() -> None:
    finding_id, _, message, fix = verdict(courier(), "inbox.contact")
    assert finding_id == "storage-folder-case-mismatch"
    assert "'INBOX.Contact'" in message
    assert fix == "Enter 'INBOX.Contact' exactly as the server lists it."


def test_dovecot_upper_case_sent() -> None:
    finding_id, severity, message, fix = verdict(dovecot(), "SENT")
    assert finding_id == "storage-folder-case-mismatch"
    assert severity is Severity.ERROR
    assert "'Sent' exists with other letter case" in message
    assert "RFC 9051" in message
    # Sent is the server's \Sent folder, so correcting the case is not enough.
    assert "\\Sent" in message
    assert "'Sent'" not in fix


def test_dovecot_dot_path_is_wrong_delimiter() -> None:
    finding_id, _, message, _ = verdict(dovecot(), "Support.Contact")
    assert finding_id == "storage-folder-wrong-delimiter"
    assert "'Support/Contact'" in message


def test_dovecot_sub_folder_is_nested() -> None:
    finding_id, _, message, fix = verdict(dovecot(), "Support/Contact")
    assert finding_id == "storage-folder-nested"
    assert "delimiter is '/'" in message
    assert "'Support'" in fix


def test_dovecot_top_level_folder_is_ok() -> None:
    finding_id, _, message, fix = verdict(dovecot(), "Support")
    assert finding_id == "storage-folder-ok"
    assert "namespace" not in message
    assert fix == "Nothing to change."


@pytest.mark.parametrize("name", ["Sent", "Trash", "Drafts", "INBOX", "inbox"])
def test_special_folders_are_rejected(name: str) -> None:
    finding_id, severity, message, _ = verdict(dovecot(), name)
    assert finding_id == "storage-folder-special-use"
    assert severity is Severity.ERROR
    assert ("INBOX" in message) if name.upper() == "INBOX" else ("RFC 6154" in message)


def test_microsoft_sent_items_is_special_use() -> None:
    folders = listing([
        Folder("INBOX", "/", HAS_NO),
        Folder("Sent Items", "/", (*HAS_NO, "\\Sent"), "\\Sent"),
        Folder("Deleted Items", "/", (*HAS_NO, "\\Trash"), "\\Trash"),
        Folder("Support", "/", HAS_NO),
    ])
    finding_id, _, message, fix = verdict(folders, "Sent Items")
    assert finding_id == "storage-folder-special-use"
    assert "\\Sent" in message
    assert "'Support'" in fix


def test_courier_sent_by_name_is_a_warning() -> None:
    finding_id, severity, message, _ = verdict(courier(), "INBOX.Sent")
    assert finding_id == "storage-folder-special-use"
    assert severity is Severity.WARNING
    assert "marks no special folders" in message


def test_gmail_container_is_noselect() -> None:
    finding_id, severity, message, fix = verdict(gmail(), "[Gmail]")
    assert finding_id == "storage-folder-noselect"
    assert severity is Severity.ERROR
    assert "\\Noselect" in message
    assert "'Support'" in fix


def test_nonexistent_attribute_is_noselect() -> None:
    folders = listing([Folder("Shared", "/", ("\\NonExistent",)), Folder("Support", "/")])
    assert verdict(folders, "Shared")[0] == "storage-folder-noselect"


def test_gmail_sent_mail_is_special_use() -> None:
    assert verdict(gmail(), "[Gmail]/Sent Mail")[0] == "storage-folder-special-use"


@pytest.mark.parametrize("name", ["Überweisungen", "日本語", "Support & Sales", "A+B"])
def test_decoded_names_match_exactly(name: str) -> None:
    assert verdict(dovecot(), name)[0] == "storage-folder-ok"


def test_modified_utf7_wire_form_is_explained() -> None:
    finding_id, _, message, fix = verdict(dovecot(), "&ANw-berweisungen")
    assert finding_id == "storage-folder-not-found"
    assert "modified UTF-7" in message
    assert "'Überweisungen'" in message
    assert "'Überweisungen'" in fix


def test_ampersand_wire_form_is_explained() -> None:
    finding_id, _, message, _ = verdict(dovecot(), "Support &- Sales")
    assert finding_id == "storage-folder-not-found"
    assert "'Support & Sales'" in message


@pytest.mark.parametrize("name", ["Supp%", "*", "%", "Support*", "INBOX.*"])
def test_wildcards_never_match(name: str) -> None:
    finding_id, _, message, _ = verdict(courier(), name)
    assert finding_id == "storage-folder-not-found"
    assert "wildcards" in message


def test_folder_named_with_percent_matches_itself() -> None:
    folders = listing([Folder("Sup%", "/", HAS_NO), Folder("Support", "/", HAS_NO)])
    assert verdict(folders, "Sup%")[0] == "storage-folder-ok"
    assert verdict(folders, "Sup")[0] == "storage-folder-not-found"


def test_misspelt_name_gets_nearest_names() -> None:
    finding_id, _, message, fix = verdict(courier(), "Suport")
    assert finding_id == "storage-folder-not-found"
    assert "The nearest existing name is 'INBOX.Support'." in message
    assert "'INBOX.Support'" in fix


def test_inbox_prefix_on_server_without_prefix() -> None:
    finding_id, _, message, _ = verdict(dovecot(), "INBOX/Support")
    assert finding_id == "storage-folder-not-found"
    assert "no 'INBOX/' namespace prefix" in message
    assert "'Support'" in message


def test_unknown_name_without_similar_names() -> None:
    finding_id, _, message, fix = verdict(dovecot(), "Qwxz")
    assert finding_id == "storage-folder-not-found"
    assert "nearest" not in message
    assert "create" in fix


def test_shared_namespace_folder_is_a_warning() -> None:
    folders = listing(
        [Folder("INBOX", "/", HAS_NO), Folder("Shared", "/", ("\\Noselect", "\\HasChildren")),
         Folder("Shared/Team", "/", HAS_NO), Folder("Support", "/", HAS_NO)],
        shared=(Namespace("Shared/", "/"),),
    )
    finding_id, severity, message, fix = verdict(folders, "Shared/Team")
    assert finding_id == "storage-folder-shared-namespace"
    assert severity is Severity.WARNING
    assert "'Shared/'" in message
    assert "'Support'" in fix


def test_missing_name_is_an_error() -> None:
    for name in (None, "", "   "):
        assert verdict(dovecot(), name)[0] == "storage-folder-missing"


def test_delimiter_without_namespace_reply() -> None:
    folders = listing(
        [Folder("INBOX", ".", HAS_NO), Folder("Support", ".", HAS), Folder("Support.A", ".")],
        namespaces=False,
    )
    assert folders.delimiter == "."
    assert verdict(folders, "Support.A")[0] == "storage-folder-nested"
    assert verdict(folders, "Support/A")[0] == "storage-folder-wrong-delimiter"


def test_failed_listing_becomes_one_error() -> None:
    failed = FolderListing("test-imap", "imap.example.test", 993, "user@example.test",
                           ListingReason.LOGIN_REJECTED, "login",
                           error="the server rejected the login",
                           server_text="[AUTHENTICATIONFAILED] Authentication failed.")
    findings = check_storage_folder(failed, "Support")
    assert [f.id for f in findings] == ["folder-list-failed"]
    assert findings[0].severity is Severity.ERROR
    assert findings[0].field == "password"
    assert "login-rejected" in findings[0].message
    assert "[AUTHENTICATIONFAILED] Authentication failed." in findings[0].message


def test_server_name_defaults_to_listing() -> None:
    assert check_storage_folder(dovecot(), "Support")[0].server == "test-imap"
    assert check_storage_folder(dovecot(), "Support", server="other")[0].server == "other"


def test_plan_adds_namespace_prefix() -> None:
    assert plan_storage_folder(courier(), "Workshop") == "INBOX.Workshop"
    assert plan_storage_folder(courier(), "INBOX.Workshop") == "INBOX.Workshop"
    assert plan_storage_folder(courier(), "inbox.Workshop") == "INBOX.Workshop"
    assert plan_storage_folder(dovecot(), " Workshop ") == "Workshop"
    assert plan_storage_folder(dovecot(), "日本語 Archiv") == "日本語 Archiv"


@pytest.mark.parametrize(
    ("folders", "name", "words"),
    [
        (dovecot(), "", "empty"),
        (dovecot(), "inbox", "INBOX"),
        (dovecot(), "Team/Cases", "delimiter '/'"),
        (courier(), "Team.Cases", "delimiter '.'"),
        (courier(), "Supp%", "wildcards"),
        (dovecot(), "*", "wildcards"),
    ],
)
def test_plan_rejects_unusable_names(folders: FolderListing, name: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        plan_storage_folder(folders, name)
