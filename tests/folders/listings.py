"""Folder listings built by hand, as the sandbox personalities and Dovecot return them."""

from __future__ import annotations

from toolkit.folders import Folder, FolderListing, ListingReason, Namespace, Namespaces

HAS_NO = ("\\HasNoChildren",)
HAS = ("\\HasChildren",)


def listing(
    folders: list[Folder],
    *,
    prefix: str = "",
    delimiter: str = "/",
    shared: tuple[Namespace, ...] = (),
    namespaces: bool = True,
) -> FolderListing:
    """Return a complete listing of `folders` with one personal namespace."""
    spaces = Namespaces((Namespace(prefix, delimiter),), (), shared) if namespaces else None
    return FolderListing("test-imap", "imap.example.test", 993, "user@example.test",
                         ListingReason.OK, "done", tuple(folders), spaces)


def courier() -> FolderListing:
    """Return the Courier-like layout: everything under 'INBOX.' with '.'."""
    names = ["INBOX.Contact", "INBOX.Drafts", "INBOX.Sent", "INBOX.Support.Contact",
             "INBOX.Trash"]
    folders = [Folder("INBOX", ".", HAS), Folder("INBOX.Support", ".", HAS)]
    folders += [Folder(name, ".", HAS_NO) for name in names]
    return listing(folders, prefix="INBOX.", delimiter=".")


def dovecot() -> FolderListing:
    """Return the Dovecot-like layout with special-use attributes and non-ASCII names."""
    return listing([
        Folder("INBOX", "/", HAS_NO),
        Folder("Drafts", "/", (*HAS_NO, "\\Drafts"), "\\Drafts"),
        Folder("Sent", "/", (*HAS_NO, "\\Sent"), "\\Sent"),
        Folder("Support", "/", HAS),
        Folder("Support/Contact", "/", HAS_NO),
        Folder("Trash", "/", (*HAS_NO, "\\Trash"), "\\Trash"),
        Folder("Überweisungen", "/", HAS_NO),
        Folder("日本語", "/", HAS_NO),
        Folder("Support & Sales", "/", HAS_NO),
        Folder("A+B", "/", HAS_NO),
    ])


def gmail() -> FolderListing:
    """Return the Gmail-like layout with the '[Gmail]' container."""
    return listing([
        Folder("INBOX", "/", HAS_NO),
        Folder("[Gmail]", "/", ("\\Noselect", "\\HasChildren")),
        Folder("[Gmail]/All Mail", "/", (*HAS_NO, "\\All"), "\\All"),
        Folder("[Gmail]/Sent Mail", "/", (*HAS_NO, "\\Sent"), "\\Sent"),
        Folder("[Gmail]/Trash", "/", (*HAS_NO, "\\Trash"), "\\Trash"),
        Folder("Support", "/", HAS_NO),
    ])
