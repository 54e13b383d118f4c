"""An IMAP account's folders: listing, the storage-folder check, the tree, and creation.

- `listing`: log in with imapclient and list folders, namespaces and special use (I/O);
- `model`: the plain result types;
- `analysis`: the storage-folder rules as pure functions returning findings;
- `failures` and `errors`: a failed session as a finding, and errors as named reasons;
- `tree`: the hierarchy as a tree and its plain-text drawing;
- `storage`: the entry-level check and `create_storage_folder`, which lists, checks, creates.
"""

from toolkit.folders.analysis import check_storage_folder, plan_storage_folder
from toolkit.folders.failures import listing_failure
from toolkit.folders.listing import create_folder, list_folders
from toolkit.folders.model import (
    CreateResult,
    Folder,
    FolderListing,
    ListingReason,
    Namespace,
    Namespaces,
)
from toolkit.folders.storage import (
    StorageFolderReport,
    check_entry_storage_folder,
    create_storage_folder,
)
from toolkit.folders.tree import FolderTree, render_text

__all__ = [
    "CreateResult",
    "Folder",
    "FolderListing",
    "FolderTree",
    "ListingReason",
    "Namespace",
    "Namespaces",
    "StorageFolderReport",
    "check_entry_storage_folder",
    "check_storage_folder",
    "create_folder",
    "create_storage_folder",
    "list_folders",
    "listing_failure",
    "plan_storage_folder",
    "render_text",
]
