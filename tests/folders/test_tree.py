"""The folder tree: implied parents, order, and the plain-text drawing with its line limit."""

from __future__ import annotations

from tests.folders.listings import courier, gmail
from toolkit.folders import Folder, FolderTree, render_text
from toolkit.folders.listing import folders_from_entries


def test_courier_tree_drawing() -> None:
    text = render_text(FolderTree(courier().folders), highlight="INBOX.Support")
    assert text.splitlines() == [
        "└── INBOX",
        "    ├── Contact",
        "    ├── Drafts",
        "    ├── Sent",
        "    ├── Support  <- storage folder",
        "    │   └── Contact",
        "    └── Trash",
    ]


def test_gmail_container_and_special_use_notes() -> None:
    text = render_text(FolderTree(gmail().folders))
    assert "├── [Gmail]  [cannot hold mail]" in text
    assert "│   ├── Sent Mail  [\\Sent]" in text
    assert text.splitlines()[0] == "├── INBOX"


def test_unlisted_parents_are_implied() -> None:
    tree = FolderTree([Folder("Team/2024/Cases", "/")])
    assert tree.roots == ["Team"]
    assert not tree.node("Team").listed
    assert tree.children("Team") == ["Team/2024"]
    assert tree.node("Team/2024/Cases").listed
    assert tree.descendant_count("Team") == 2
    assert "Team  [not listed]" in render_text(tree)


def test_parent_listed_after_child() -> None:
    tree = FolderTree([Folder("A/B", "/"), Folder("A", "/", ("\\HasChildren",))])
    assert tree.node("A").listed
    assert tree.children("A") == ["A/B"]


def test_inbox_first_then_without_case() -> None:
    tree = FolderTree([Folder(name, "/") for name in ("zeta", "Alpha", "INBOX", "beta")])
    assert tree.roots == ["INBOX", "Alpha", "beta", "zeta"]


def test_flat_names_without_delimiter() -> None:
    tree = FolderTree([Folder("a.b", None), Folder("c", None)])
    assert tree.roots == ["a.b", "c"]


def test_long_tree_is_cut_with_a_count() -> None:
    folders = [Folder(f"Team {i // 10}/Case {i}", "/") for i in range(1000)]
    tree = FolderTree(folders)
    lines = render_text(tree, max_lines=25).splitlines()
    assert len(lines) == 26
    assert lines[-1] == "... 1,075 more not shown (1,100 in all; 1,000 folders listed)"


def test_empty_tree() -> None:
    assert render_text(FolderTree([])) == "(no folders)"


def test_xlist_attributes_become_special_use() -> None:
    # Recorded XLIST entries as imapclient returns them from Gmail's older command.
    entries = [
        ((b"\\HasNoChildren", b"\\Inbox"), b"/", "Inbox"),
        ((b"\\Noselect", b"\\HasChildren"), b"/", "[Gmail]"),
        ((b"\\HasNoChildren", b"\\AllMail"), b"/", "[Gmail]/All Mail"),
        ((b"\\HasNoChildren", b"\\Spam"), b"/", "[Gmail]/Spam"),
        ((b"\\HasNoChildren", b"\\Starred"), b"/", "[Gmail]/Starred"),
        ((b"\\HasNoChildren", b"\\Sent"), b"/", "[Gmail]/Sent Mail"),
        ((b"\\HasNoChildren",), None, 2024),
    ]
    folders = {folder.name: folder for folder in folders_from_entries(entries)}
    assert folders["[Gmail]/All Mail"].special_use == "\\All"
    assert folders["[Gmail]/Spam"].special_use == "\\Junk"
    assert folders["[Gmail]/Starred"].special_use == "\\Flagged"
    assert folders["[Gmail]/Sent Mail"].special_use == "\\Sent"
    assert folders["Inbox"].special_use is None
    assert not folders["[Gmail]"].selectable
    assert folders["2024"].delimiter is None
