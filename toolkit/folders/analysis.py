"""The storage-folder rules, checked against a real folder list. Pure functions, no I/O.

The product keeps an account's fetched mail in its storage folder, which must
exist under its exact name, be able to hold mail, and be top-level. Top-level
means one level below the personal namespace prefix (RFC 2342): on a server
with the prefix ``INBOX.`` (Courier-IMAP and others) ``INBOX.Support`` is
top-level, and ``Support`` does not exist.

Names are compared as the server lists them after decoding modified UTF-7
(RFC 3501 section 5.1.3), character for character. Only INBOX is compared
without letter case (RFC 9051 section 5.1). A configured name is never used as
a LIST pattern, so ``%`` and ``*`` in it match nothing but a folder of exactly
that name.
"""

from __future__ import annotations

import difflib
import heapq
import itertools
from collections.abc import Iterable

from imapclient.imap_utf7 import decode as decode_utf7

from toolkit.findings import Finding, Severity
from toolkit.folders.failures import listing_failure
from toolkit.folders.model import Folder, FolderListing

FIELD = "storage_folder"
# Hierarchy delimiters in common use; the server's own comes from NAMESPACE or LIST.
COMMON_DELIMITERS = ("/", ".", "\\")
# LIST wildcards (RFC 3501 section 6.3.8): "*" matches anything, "%" anything but the delimiter.
WILDCARDS = ("*", "%")
MAX_NEAREST = 3
# Folder lists longer than this are narrowed before difflib compares names one by one.
DIFFLIB_CANDIDATES = 200
# Names that mail clients use for special folders on servers that mark none with
# RFC 6154 attributes, compared without letter case below the personal prefix.
# Sources: Courier-IMAP and Dovecot defaults, Microsoft Exchange and Gmail folder names.
SPECIAL_NAMES = {
    "sent": "\\Sent",
    "sent items": "\\Sent",
    "sent mail": "\\Sent",
    "sent messages": "\\Sent",
    "trash": "\\Trash",
    "deleted items": "\\Trash",
    "deleted messages": "\\Trash",
    "drafts": "\\Drafts",
    "junk": "\\Junk",
    "junk email": "\\Junk",
    "spam": "\\Junk",
    "archive": "\\Archive",
}

def check_storage_folder(
    listing: FolderListing, configured: str | None, *, server: str = ""
) -> list[Finding]:
    """Check a configured storage folder against the account's folder list.

    Returns one finding: ``storage-folder-ok`` (info) or the reason the name
    cannot be used, or ``folder-list-failed`` when the listing is incomplete.
    """
    server = server or listing.server
    if not listing.ok:
        return [listing_failure(listing, server=server)]
    if configured is None or not configured.strip():
        return [
            _finding(
                "storage-folder-missing",
                Severity.ERROR,
                server,
                "This IMAP entry has no storage folder, so the product has nowhere to keep "
                "fetched mail.",
                "Enter the name of a top-level folder from the list, exactly as the server "
                "shows it.",
            )
        ]
    index = _Index(listing)
    folder = index.exact(configured)
    if folder is not None:
        return [_verdict(index, folder, configured, server)]
    return [_missing(index, configured, server)]


def plan_storage_folder(listing: FolderListing, name: str) -> str:
    """Return the full name to CREATE for a new top-level storage folder called `name`.

    The personal namespace prefix is added when the server has one and `name`
    lacks it, so ``Workshop`` becomes ``INBOX.Workshop`` on a Courier-style
    server. Raises ValueError, naming the value and the fix, when `name` is
    empty, contains the hierarchy delimiter or a LIST wildcard, or is INBOX.
    """
    text = name.strip()
    delimiter = listing.delimiter
    prefix = listing.personal.prefix if listing.personal else ""
    if not text:
        raise ValueError("the folder name is empty: enter a name such as Support")
    if text.upper() == "INBOX":
        raise ValueError("INBOX cannot be the storage folder: enter another name, such as Support")
    if any(wildcard in text for wildcard in WILDCARDS):
        raise ValueError(
            f"the folder name {text!r} contains '%' or '*', which are LIST "
            "wildcards (RFC 3501 section 6.3.8): leave them out"
        )
    if prefix and _starts_with_prefix(text, prefix):
        # Written with the prefix already, perhaps as "inbox.": keep the server's spelling.
        full = prefix + text[len(prefix) :]
    else:
        full = prefix + text
    relative = full[len(prefix) :] if prefix else full
    if delimiter and delimiter in relative:
        raise ValueError(
            f"the folder name {text!r} contains the hierarchy delimiter "
            f"{delimiter!r}, so it would be a sub-folder: enter a name without it"
        )
    return full


class _Index:
    """The folder list with the lookups the check needs, built once per check."""

    def __init__(self, listing: FolderListing) -> None:
        self.listing = listing
        self.by_name = {folder.name: folder for folder in listing.folders}
        self.by_fold: dict[str, list[Folder]] = {}
        for folder in listing.folders:
            self.by_fold.setdefault(folder.name.casefold(), []).append(folder)
        personal = listing.personal
        self.prefix = personal.prefix if personal else ""
        self.delimiter = listing.delimiter
        namespaces = listing.namespaces
        self.foreign_prefixes = (
            tuple(item.prefix for item in (*namespaces.other, *namespaces.shared) if item.prefix)
            if namespaces
            else ()
        )
        self.marks_special_use = any(folder.special_use for folder in listing.folders)

    def exact(self, name: str) -> Folder | None:
        folder = self.by_name.get(name)
        if folder is None and name.upper() == "INBOX":
            folder = next((f for f in self.listing.folders if f.is_inbox), None)
        return folder

    def relative(self, name: str) -> str:
        """Return the name below the personal namespace prefix, or the name as it is."""
        if self.prefix and _starts_with_prefix(name, self.prefix):
            return name[len(self.prefix) :]
        return name

    def special_use(self, folder: Folder) -> tuple[str | None, bool]:
        """Return the folder's special use and whether the server marked it (or the name did)."""
        if folder.is_inbox:
            return "INBOX", True
        if folder.special_use:
            return folder.special_use, True
        if not self.marks_special_use:
            guessed = SPECIAL_NAMES.get(self.relative(folder.name).casefold())
            if guessed is not None:
                return guessed, False
        return None, False


def _verdict(index: _Index, folder: Folder, configured: str, server: str) -> Finding:
    """Judge a folder that exists with the configured name."""
    name = folder.name
    if not folder.selectable:
        flags = " ".join(folder.flags)
        return _finding(
            "storage-folder-noselect",
            Severity.ERROR,
            server,
            f"{name!r} exists but is a container that cannot hold mail: the server lists it "
            f"as {flags} (RFC 3501 section 7.2.2), so the product cannot store messages in it.",
            _fix_with_examples(index, "Choose a folder that can hold mail"),
        )
    special, marked = index.special_use(folder)
    if special is not None:
        return _special_use_finding(index, name, special, marked, server)
    foreign = next((p for p in index.foreign_prefixes if name.startswith(p)), None)
    if foreign is not None:
        return _finding(
            "storage-folder-shared-namespace",
            Severity.WARNING,
            server,
            f"{name!r} is in the namespace {foreign!r}, which holds other users' or shared "
            "folders (RFC 2342), not the account's own: others may see or change the mail "
            "stored there.",
            _fix_with_examples(index, "Choose a folder of the account's own"),
        )
    relative = index.relative(name)
    delimiter = folder.delimiter or index.delimiter
    if delimiter and delimiter in relative:
        return _nested(index, name, relative, delimiter, server)
    message = f"{name!r} exists with exactly this name, can hold mail and is top-level."
    if index.prefix and relative != name:
        message += (
            f" Every folder of this account is under the personal namespace prefix "
            f"{index.prefix!r} (RFC 2342), so a folder directly under it, such as this one, "
            "counts as top-level on this server."
        )
    return _finding("storage-folder-ok", Severity.INFO, server, message, "Nothing to change.")


def _special_use_finding(
    index: _Index, name: str, special: str, marked: bool, server: str
) -> Finding:
    if special == "INBOX":
        what = "the account's INBOX, where new mail arrives"
    elif marked:
        what = f"a special folder: the server marks it {special} (RFC 6154)"
    else:
        role = special.removeprefix("\\")
        what = (
            f"by its name the {role} folder of mail clients, although the server marks "
            "no special folders"
        )
    return _finding(
        "storage-folder-special-use",
        Severity.ERROR if marked else Severity.WARNING,
        server,
        f"{name!r} is {what}. Mail that the product stores there mixes with mail that the "
        "server or mail clients put there, and may be moved or deleted by them.",
        _fix_with_examples(index, "Choose a folder of its own for the product"),
    )


def _nested(index: _Index, name: str, relative: str, delimiter: str, server: str) -> Finding:
    top = (
        index.prefix + relative.split(delimiter)[0]
        if index.prefix
        else (relative.split(delimiter)[0])
    )
    message = (
        f"{name!r} is a sub-folder: the server's hierarchy delimiter is {delimiter!r}, and the "
        "storage folder must be top-level."
    )
    if index.prefix:
        message += (
            f" On this server every folder is under the personal namespace prefix "
            f"{index.prefix!r} (RFC 2342). A folder directly under it counts as top-level, "
            f"and {name!r} is further down."
        )
    return _finding(
        "storage-folder-nested",
        Severity.ERROR,
        server,
        message,
        f"Use a top-level folder, such as {top!r}, or create one.",
    )


def _missing(index: _Index, configured: str, server: str) -> Finding:
    """Explain a configured name that no folder has, most specific cause first."""
    same_letters = [f.name for f in index.by_fold.get(configured.casefold(), [])]
    if same_letters:
        real = same_letters[0]
        message = (
            f"No folder is called {configured!r}, but {_names(same_letters)} "
            f"{'exists' if len(same_letters) == 1 else 'exist'} with other letter case. "
            "IMAP compares folder names with their letter case, except INBOX "
            "(RFC 9051 section 5.1)."
        )
        note, fix = _after_correction(index, real)
        return _finding(
            "storage-folder-case-mismatch",
            Severity.ERROR,
            server,
            message + note,
            fix or f"Enter {real!r} exactly as the server lists it.",
        )

    translated = _with_server_delimiter(index, configured)
    if translated is not None:
        used = next(c for c in COMMON_DELIMITERS if c in configured and c != index.delimiter)
        message = (
            f"No folder is called {configured!r}. This server separates levels with "
            f"{index.delimiter!r}, not {used!r}, and lists {translated!r}."
        )
        note, fix = _after_correction(index, translated)
        return _finding(
            "storage-folder-wrong-delimiter",
            Severity.ERROR,
            server,
            message + note,
            fix or f"Enter {translated!r} exactly as the server lists it.",
        )

    causes, leading = _not_found_causes(index, configured)
    nearest = _nearest(index, configured, leading)
    message = f"No folder is called {configured!r}." + "".join(" " + c for c in causes)
    if len(nearest) == 1:
        message += f" The nearest existing name is {nearest[0]!r}."
    elif nearest:
        message += f" The nearest existing names are {_names(nearest)}."
    fix = (
        f"Enter an existing name exactly as the server lists it, such as {nearest[0]!r}, "
        "or create the folder."
        if nearest
        else "Enter an existing top-level folder exactly as the server lists it, or create one."
    )
    return _finding("storage-folder-not-found", Severity.ERROR, server, message, fix)


def _not_found_causes(index: _Index, configured: str) -> tuple[list[str], list[str]]:
    """Return sentences on why a name is missing, and the folders they point to."""
    causes: list[str] = []
    leading: list[str] = []
    prefix = index.prefix
    if prefix and not _starts_with_prefix(configured, prefix):
        with_prefix = _lookup(index, prefix + configured)
        if with_prefix is not None:
            causes.append(
                f"On this server every folder is under the personal namespace prefix "
                f"{prefix!r} (RFC 2342), and {with_prefix!r} exists: a folder picker that "
                "shows names without the prefix may have dropped it."
            )
            leading.append(with_prefix)
    for inbox_prefix in ("INBOX" + d for d in COMMON_DELIMITERS):
        if not prefix and configured.upper().startswith(inbox_prefix):
            without = _lookup(index, configured[len(inbox_prefix) :])
            if without is not None:
                causes.append(
                    f"This server has no {inbox_prefix!r} namespace prefix, and {without!r} "
                    "exists without it."
                )
                leading.append(without)
    decoded = _decoded_form(configured)
    if decoded is not None:
        listed = _lookup(index, decoded)
        if listed is not None:
            causes.append(
                f"{configured!r} is the modified UTF-7 form (RFC 3501 section 5.1.3) that IMAP "
                f"sends on the wire for {decoded!r}, and the folder is listed as {listed!r}."
            )
            leading.append(listed)
        else:
            causes.append(
                f"Read as modified UTF-7 (RFC 3501 section 5.1.3), the wire form of IMAP, it "
                f"means {decoded!r}, and no folder has that name either."
            )
    if any(wildcard in configured for wildcard in WILDCARDS):
        causes.append(
            "'%' and '*' are wildcards in a LIST pattern (RFC 3501 section 6.3.8). The check "
            "never uses the configured name as a pattern, so it matches only a folder with "
            "exactly this name, and there is none."
        )
    if index.delimiter and any(c in configured for c in COMMON_DELIMITERS if c != index.delimiter):
        causes.append(f"This server separates levels with {index.delimiter!r}.")
    return causes, leading


def _after_correction(index: _Index, real: str) -> tuple[str, str]:
    """Return why the corrected name fails too and its fix, or two empty strings if it is usable."""
    folder = index.exact(real)
    if folder is None:
        return "", ""
    verdict = _verdict(index, folder, real, "")
    if verdict.id == "storage-folder-ok":
        return "", ""
    note = f" That folder cannot be the storage folder either ({verdict.id}): {verdict.message}"
    return note, verdict.fix


def _with_server_delimiter(index: _Index, configured: str) -> str | None:
    """Return the listed name that `configured` means when written with another delimiter."""
    delimiter = index.delimiter
    if not delimiter:
        return None
    for other in COMMON_DELIMITERS:
        if other == delimiter or other not in configured:
            continue
        translated = configured.replace(other, delimiter)
        candidates = [translated]
        if index.prefix and not _starts_with_prefix(translated, index.prefix):
            candidates.append(index.prefix + translated)
        for candidate in candidates:
            found = _lookup(index, candidate)
            if found is not None:
                return found
    return None


def _lookup(index: _Index, name: str) -> str | None:
    """Return the listed name equal to `name`, else the one equal without letter case."""
    folder = index.exact(name)
    if folder is not None:
        return folder.name
    same = index.by_fold.get(name.casefold())
    return same[0].name if same else None


def _nearest(index: _Index, configured: str, leading: list[str]) -> list[str]:
    """Return up to `MAX_NEAREST` listed names: `leading` first, then the most similar ones."""
    selectable = [f.name for f in index.listing.folders if f.selectable]
    by_fold: dict[str, str] = {}
    for name in selectable:
        by_fold.setdefault(name.casefold(), name)
    word = configured.casefold()
    ordered = [*leading, *(by_fold[n] for n in _similar(word, list(by_fold)))]
    if index.prefix:
        # The name below the prefix also counts, so "Suport" finds "INBOX.Support".
        relative_names = {index.relative(name).casefold(): name for name in selectable}
        ordered += [relative_names[n] for n in _similar(word, list(relative_names))]
    return list(dict.fromkeys(ordered))[:MAX_NEAREST]


def _similar(word: str, candidates: list[str]) -> list[str]:
    """Return the candidates most like `word` by difflib's ratio, best first."""
    if len(candidates) > DIFFLIB_CANDIDATES:
        # difflib compares each pair in Python, which took 0.4 s for 10,000 similar
        # names. Shared letter pairs narrow the field first, in C set operations.
        # NOTE: a name with few letter pairs in common can be left out here
        # although difflib would have ranked it among the nearest.
        pairs = _letter_pairs(word)
        candidates = heapq.nlargest(
            DIFFLIB_CANDIDATES,
            candidates,
            key=lambda name: len(pairs & _letter_pairs(name)) / (len(name) + len(word) or 1),
        )
    return difflib.get_close_matches(word, candidates, n=MAX_NEAREST)


def _letter_pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _decoded_form(name: str) -> str | None:
    """Return what `name` means when read as modified UTF-7, or None if it reads the same."""
    if "&" not in name or not name.isascii():
        return None
    try:
        decoded = str(decode_utf7(name.encode("ascii")))
    except (ValueError, UnicodeError):
        return None
    return decoded if decoded != name else None


def _fix_with_examples(index: _Index, lead: str) -> str:
    usable = (
        folder.name
        for folder in index.listing.folders
        if folder.selectable
        and index.special_use(folder)[0] is None
        and not (index.delimiter and index.delimiter in index.relative(folder.name))
        and not any(folder.name.startswith(p) for p in index.foreign_prefixes)
    )
    examples = list(itertools.islice(usable, MAX_NEAREST))
    if examples:
        return f"{lead}, such as {_names(examples, 'or')}, or create one."
    return f"{lead}: create a top-level folder for it."


def _starts_with_prefix(name: str, prefix: str) -> bool:
    # INBOX is case-insensitive (RFC 9051 section 5.1), so the INBOX part of a prefix
    # such as "INBOX." is compared without letter case.
    if prefix.upper().startswith("INBOX"):
        return name.upper().startswith(prefix.upper()) and name[5:].startswith(prefix[5:])
    return name.startswith(prefix)


def _names(names: Iterable[str], conjunction: str = "and") -> str:
    quoted = [repr(name) for name in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {conjunction} " + quoted[-1]


def _finding(finding_id: str, severity: Severity, server: str, message: str, fix: str) -> Finding:
    return Finding(finding_id, severity, FIELD, message, fix, server)
