"""Check an entry's storage folder on its server, and create one on request.

This composes the listing (network) with the storage-folder rules (pure), as
`toolkit.tls_check` does for ports. Creating happens only in
`create_storage_folder`; checking never changes the mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.findings import Finding, Severity
from toolkit.folders.analysis import check_storage_folder, plan_storage_folder
from toolkit.folders.failures import listing_failure
from toolkit.folders.listing import create_folder, list_folders
from toolkit.folders.model import CreateResult, FolderListing, ListingReason
from toolkit.probe import Timeouts
from toolkit.settings import ServerSettings


@dataclass(frozen=True)
class StorageFolderReport:
    """The folder list of an entry, the name checked, and the findings about it.

    `creation` is the CREATE outcome, set only by `create_storage_folder`.
    """

    listing: FolderListing
    folder: str | None
    findings: tuple[Finding, ...]
    creation: CreateResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data for JSON, without any secret."""
        return {
            "folder": self.folder,
            "findings": [finding.to_dict() for finding in self.findings],
            "creation": self.creation.to_dict() if self.creation else None,
            "listing": self.listing.to_dict(),
        }


def check_entry_storage_folder(
    settings: ServerSettings, folder: str | None = None, timeouts: Timeouts | None = None
) -> StorageFolderReport:
    """List the entry's folders and check `folder`, or the entry's own storage folder.

    Read-only: one session with CAPABILITY, NAMESPACE and LIST.
    """
    name = folder if folder is not None else settings.storage_folder
    listing = list_folders(settings, timeouts)
    findings = check_storage_folder(listing, name, server=settings.name)
    return StorageFolderReport(listing, name, tuple(findings))


def create_storage_folder(
    settings: ServerSettings, folder: str | None = None, timeouts: Timeouts | None = None
) -> StorageFolderReport:
    """Create a top-level storage folder, then check it on the new folder list.

    `folder` defaults to the entry's storage folder. The personal namespace
    prefix is added where the server has one, so ``Workshop`` becomes
    ``INBOX.Workshop`` on a Courier-style server. The report's `folder` is the
    full name to enter in the entry. Nothing is created when the folder exists.
    Raises ValueError when the name cannot be a top-level folder (see
    `plan_storage_folder`) or the entry is not IMAP.
    """
    name = folder if folder is not None else settings.storage_folder
    if name is None:
        raise ValueError(
            "no folder name given and the entry has no storage folder: "
            "give the name of the folder to create"
        )
    listing = list_folders(settings, timeouts)
    if not listing.ok:
        return StorageFolderReport(listing, name, (listing_failure(listing, server=settings.name),))
    full_name = plan_storage_folder(listing, name)
    creation = create_folder(settings, full_name, timeouts)
    findings = check_storage_folder(creation.listing, full_name, server=settings.name)
    if creation.reason is ListingReason.CREATE_FAILED:
        findings = [_create_failed(creation, settings.name), *findings]
    return StorageFolderReport(creation.listing, full_name, tuple(findings), creation)


def _create_failed(creation: CreateResult, server: str) -> Finding:
    return Finding(
        "storage-folder-create-failed",
        Severity.ERROR,
        "storage_folder",
        f"The server refused to create {creation.name!r}: {creation.server_text}",
        "Create the folder in the provider's web mail or ask the mail administrator, "
        "then check again.",
        server,
    )
