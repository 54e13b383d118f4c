"""An account with 10,000 folders: it lists, draws, renders lazily and checks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from toolkit.folders import FolderListing, FolderTree, check_storage_folder, list_folders
from toolkit.folders.tree import render_text
from toolkit.folders_view import FolderTreeWidget, folders_frame
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.settings_file import resolve_secrets

USER = "many@dovecot.sandbox.test"
FOLDER_COUNT = 10_000
# 100 parents "Team 000" to "Team 099", with 100 folders each.
NAMES = [f"Team {index // 100:03d}/Case {index:05d}" for index in range(FOLDER_COUNT)]


@pytest.fixture(scope="module")
def large_listing() -> Iterator[FolderListing]:
    """List the folders of a sandbox account that was seeded with 10,000 extra folders."""
    tenant = tenant_from_dict({"users": [
        {"address": USER, "personality": "dovecot", "folders": NAMES},
    ]})
    with Sandbox(port_base=0, tenant=tenant, authority=False) as sandbox:
        entry = next(s for s in sandbox.settings() if s.user == USER and s.protocol == "imap")
        yield list_folders(resolve_secrets(entry, sandbox.environment()))


def test_all_folders_are_listed(large_listing: FolderListing) -> None:
    assert large_listing.ok, large_listing.error
    names = {folder.name for folder in large_listing.folders}
    assert set(NAMES) <= names
    # The parents are listed too, as pymap lists every level of the hierarchy.
    assert "Team 042" in names


def test_text_tree_is_cut(large_listing: FolderListing) -> None:
    text = render_text(FolderTree(large_listing.folders), max_lines=50)
    lines = text.splitlines()
    assert len(lines) == 51
    assert "more not shown" in lines[-1]
    assert f"{len(large_listing.folders):,} folders listed" in lines[-1]


def test_widget_builds_one_page(large_listing: FolderListing) -> None:
    widget = FolderTreeWidget(large_listing, page_size=50)
    assert widget.built_rows == 50
    widget.expand("Team 000")
    assert widget.built_rows == 100


def test_table_has_every_folder(large_listing: FolderListing) -> None:
    frame = folders_frame(large_listing)
    assert len(frame) == len(large_listing.folders)
    assert frame["depth"].max() == 2


def test_check_on_large_account(large_listing: FolderListing) -> None:
    assert check_storage_folder(large_listing, "Support")[0].id == "storage-folder-ok"
    nested = check_storage_folder(large_listing, "Team 042/Case 04213")[0]
    assert nested.id == "storage-folder-nested"
    assert "'Team 042'" in nested.fix
    missing = check_storage_folder(large_listing, "Team 042/Case 04213x")[0]
    assert missing.id == "storage-folder-not-found"
    assert "'Team 042/Case 04213'" in missing.message
    assert check_storage_folder(large_listing, "Team*")[0].id == "storage-folder-not-found"
