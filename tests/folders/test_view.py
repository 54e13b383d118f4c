"""The folder table, the lazy tree widget and the storage-folder panel."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from tests.folders.conftest import entry
from tests.folders.listings import courier, dovecot
from toolkit.folders import Folder, list_folders
from toolkit.folders_view import (
    FOLDER_COLUMNS,
    FolderTreeWidget,
    StorageFolderPanel,
    folders_frame,
)
from toolkit.sandbox import Sandbox


def test_frame_has_one_row_per_folder() -> None:
    frame = folders_frame(courier())
    assert list(frame.columns) == list(FOLDER_COLUMNS)
    assert len(frame) == 7
    row = frame[frame["name"] == "INBOX.Support.Contact"].iloc[0]
    assert row["display_name"] == "Contact"
    assert row["depth"] == 3
    assert row["parent"] == "INBOX.Support"
    assert row["flags"] == "\\HasNoChildren"
    assert bool(row["selectable"]) is True


def test_frame_special_use_and_selectable() -> None:
    frame = folders_frame(dovecot().folders)
    sent = frame[frame["name"] == "Sent"].iloc[0]
    assert sent["special_use"] == "\\Sent"
    container = folders_frame([Folder("[Gmail]", "/", ("\\Noselect",))]).iloc[0]
    assert bool(container["selectable"]) is False


def test_tree_widget_builds_first_page_only() -> None:
    folders = [Folder(f"Team {i // 100:02d}/Case {i:04d}", "/") for i in range(3000)]
    tree = FolderTreeWidget(folders, page_size=10)
    assert tree.built_rows == 10
    more = [w for w in tree.body.children if isinstance(w, widgets.Button)]
    assert len(more) == 1
    assert more[0].description == "Show more (20 left)"
    more[0].click()
    assert tree.built_rows == 20
    assert len([w for w in tree.body.children if isinstance(w, widgets.Button)]) == 1


def test_tree_widget_expands_on_demand() -> None:
    tree = FolderTreeWidget(courier(), highlight="INBOX.Support")
    assert tree.built_rows == 1
    tree.expand("INBOX")
    assert tree.built_rows == 6
    tree.expand("INBOX.Support")
    assert tree.built_rows == 7
    with pytest.raises(KeyError, match="open its parent first"):
        tree.expand("Team")


def test_tree_widget_search_pages_results() -> None:
    folders = [Folder(f"Case {i}", "/") for i in range(120)]
    tree = FolderTreeWidget(folders, page_size=50)
    tree.search.value = "case 1"
    header = tree.results.children[0]
    assert isinstance(header, widgets.HTML)
    assert header.value == "31 folders match"
    labels = [w for w in tree.results.children if isinstance(w, widgets.Label)]
    assert len(labels) == 31
    tree.search.value = "case"
    assert len([w for w in tree.results.children if isinstance(w, widgets.Label)]) == 50
    tree.search.value = ""
    assert tree.results.children == ()


def test_tree_widget_rejects_zero_page() -> None:
    with pytest.raises(ValueError, match="page_size 0"):
        FolderTreeWidget(courier(), page_size=0)


def test_panel_checks_and_creates(sandbox: Sandbox) -> None:
    settings = entry(sandbox, "chris-courier-imap")
    panel = StorageFolderPanel(settings)
    assert panel.name.value == "INBOX.Support"
    assert panel.findings == ()
    panel.check_button.click()
    assert [f.id for f in panel.findings] == ["storage-folder-ok"]
    assert "storage-folder-ok" in panel.verdict.value

    panel.name.value = "Panel Test"
    panel.check_button.click()
    assert [f.id for f in panel.findings] == ["storage-folder-not-found"]
    panel.create_button.click()
    assert [f.id for f in panel.findings] == ["storage-folder-ok"]
    assert "Created &#x27;INBOX.Panel Test&#x27;" in panel.status.value
    listing = list_folders(settings)
    assert listing.folder("INBOX.Panel Test") is not None


def test_panel_reports_unusable_name(sandbox: Sandbox) -> None:
    panel = StorageFolderPanel(entry(sandbox, "dana-dovecot-imap"))
    panel.name.value = "Support/Sub"
    with pytest.raises(ValueError, match="sub-folder"):
        panel.create()
    assert "Not created" in panel.status.value
    panel.status.value = ""
    panel.create_button.click()
    assert "sub-folder" in panel.status.value
