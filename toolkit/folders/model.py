"""Folder listings as plain data: folders, namespaces, and the outcome of a LIST session.

These types carry no I/O and no imapclient objects, so the analysis, the tree,
the tables and the command line can share them, and each turns into JSON
without secrets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolkit.probe.results import ProbeResult

# Mailbox attributes of a folder that cannot be selected and so cannot hold mail:
# \Noselect (RFC 3501 section 7.2.2) and \NonExistent, which implies \Noselect
# (RFC 5258). Attributes are compared without letter case.
NOT_SELECTABLE = frozenset({"\\noselect", "\\nonexistent"})

# The special-use attributes of RFC 6154, plus \Important (RFC 8457).
SPECIAL_USE = (
    "\\All",
    "\\Archive",
    "\\Drafts",
    "\\Flagged",
    "\\Junk",
    "\\Sent",
    "\\Trash",
    "\\Important",
)
# Gmail's older XLIST command names some of them differently.
XLIST_SPECIAL_USE = {"\\allmail": "\\All", "\\spam": "\\Junk", "\\starred": "\\Flagged"}
_SPECIAL_BY_LOWER = {attribute.lower(): attribute for attribute in SPECIAL_USE}


class ListingReason(StrEnum):
    """The outcome of a folder session, as a stable id.

    Connection and TLS failures use the same ids as `toolkit.probe.Reason`,
    because a failed connection is classified by the probe.
    """

    OK = "ok"
    PASSWORD_MISSING = "password-missing"  # noqa: S105 (a reason id, not a password)
    TOKEN_MISSING = "token-missing"  # noqa: S105 (a reason id, not a token)
    CA_FILE_UNREADABLE = "ca-file-unreadable"
    DNS_FAILED = "dns-failed"
    CONNECTION_REFUSED = "connection-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    CONNECTION_FAILED = "connection-failed"
    GREETING_TIMEOUT = "greeting-timeout"
    READ_TIMEOUT = "read-timeout"
    TLS_ON_PLAIN_PORT = "tls-on-plain-port"
    PLAIN_ON_TLS_PORT = "plain-on-tls-port"
    STARTTLS_NOT_OFFERED = "starttls-not-offered"
    STARTTLS_REJECTED = "starttls-rejected"
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"
    TLS_HANDSHAKE_TIMEOUT = "tls-handshake-timeout"
    TLS_VERSION_MISMATCH = "tls-version-mismatch"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    CERTIFICATE_HOSTNAME_MISMATCH = "certificate-hostname-mismatch"
    CERTIFICATE_UNTRUSTED = "certificate-untrusted"
    SERVICE_UNAVAILABLE = "service-unavailable"
    WRONG_PROTOCOL = "wrong-protocol"
    CONNECTION_CLOSED = "connection-closed"
    PROTOCOL_ERROR = "protocol-error"
    LOGIN_DISABLED = "login-disabled"
    MECHANISM_NOT_OFFERED = "mechanism-not-offered"
    LOGIN_REJECTED = "login-rejected"
    LIST_FAILED = "list-failed"
    CREATE_FAILED = "create-failed"


def special_use_of(flags: tuple[str, ...]) -> str | None:
    """Return the first special-use attribute in LIST or XLIST attributes, spelt as in RFC 6154."""
    for flag in flags:
        lower = flag.lower()
        if lower in _SPECIAL_BY_LOWER:
            return _SPECIAL_BY_LOWER[lower]
        if lower in XLIST_SPECIAL_USE:
            return XLIST_SPECIAL_USE[lower]
    return None


@dataclass(frozen=True)
class Folder:
    """One mailbox from a LIST reply.

    `name` is the full name decoded from modified UTF-7 (RFC 3501 section 5.1.3).
    `delimiter` is the hierarchy delimiter the server gave for it, or None when the
    server has no hierarchy (NIL). `flags` are the mailbox attributes as sent, such
    as ``\\HasNoChildren`` or ``\\Noselect``. `special_use` is the RFC 6154
    attribute, such as ``\\Sent``, or None.
    """

    name: str
    delimiter: str | None
    flags: tuple[str, ...] = ()
    special_use: str | None = None

    @property
    def selectable(self) -> bool:
        """Whether the folder can be selected, and so hold mail."""
        return not any(flag.lower() in NOT_SELECTABLE for flag in self.flags)

    @property
    def is_inbox(self) -> bool:
        """Whether this is INBOX, whose name is case-insensitive (RFC 9051 section 5.1)."""
        return self.name.upper() == "INBOX"

    @property
    def parts(self) -> tuple[str, ...]:
        """The levels of the name, split at the delimiter."""
        if not self.delimiter:
            return (self.name,)
        return tuple(self.name.split(self.delimiter))

    @property
    def depth(self) -> int:
        """The number of levels in the name: 1 for a top-level folder."""
        return len(self.parts)

    @property
    def parent(self) -> str:
        """The full name of the folder one level up, or an empty string at the top."""
        if not self.delimiter:
            return ""
        return self.delimiter.join(self.parts[:-1])

    @property
    def display_name(self) -> str:
        """The last level of the name, as a folder picker shows it."""
        return self.parts[-1]

    def to_dict(self) -> dict[str, Any]:
        """Return the folder as plain data for JSON and tables."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "depth": self.depth,
            "parent": self.parent,
            "delimiter": self.delimiter,
            "flags": list(self.flags),
            "special_use": self.special_use,
            "selectable": self.selectable,
        }


@dataclass(frozen=True)
class Namespace:
    """One namespace of a NAMESPACE reply (RFC 2342): its prefix and hierarchy delimiter."""

    prefix: str
    delimiter: str | None


@dataclass(frozen=True)
class Namespaces:
    """The personal, other users' and shared namespaces of an account (RFC 2342)."""

    personal: tuple[Namespace, ...] = ()
    other: tuple[Namespace, ...] = ()
    shared: tuple[Namespace, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the namespaces as plain data for JSON."""
        return {
            kind: [{"prefix": item.prefix, "delimiter": item.delimiter} for item in items]
            for kind, items in (
                ("personal", self.personal),
                ("other", self.other),
                ("shared", self.shared),
            )
        }


@dataclass(frozen=True)
class FolderListing:
    """The outcome of one folder session: log in, ask NAMESPACE, LIST every folder, log out.

    `reason` is `ListingReason.OK` when the list is complete. Otherwise `stage`
    names the step that failed, `error` says what happened in the toolkit's
    words and `server_text` holds the server's own reply, if it sent one. When a
    connection failed before login, `probe` holds the probe that classified it.
    `list_command` is the command that produced `folders`, such as ``LIST`` or
    ``XLIST``. `namespaces` is None when the server does not offer NAMESPACE.
    """

    server: str
    host: str
    port: int
    user: str
    reason: ListingReason
    stage: str
    folders: tuple[Folder, ...] = ()
    namespaces: Namespaces | None = None
    capabilities: tuple[str, ...] = ()
    list_command: str = ""
    error: str = ""
    server_text: str = ""
    seconds: float = 0.0
    probe: ProbeResult | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the folder list is complete."""
        return self.reason is ListingReason.OK

    @property
    def personal(self) -> Namespace | None:
        """The first personal namespace, or None when the server gave none."""
        if self.namespaces is None or not self.namespaces.personal:
            return None
        return self.namespaces.personal[0]

    @property
    def delimiter(self) -> str | None:
        """The hierarchy delimiter of the personal namespace, else the one most folders use."""
        personal = self.personal
        if personal is not None and personal.delimiter:
            return personal.delimiter
        counts: dict[str, int] = {}
        for folder in self.folders:
            if folder.delimiter:
                counts[folder.delimiter] = counts.get(folder.delimiter, 0) + 1
        return max(counts, key=lambda delimiter: counts[delimiter]) if counts else None

    def folder(self, name: str) -> Folder | None:
        """Return the folder with exactly this name (INBOX in any letter case), or None."""
        for folder in self.folders:
            if folder.name == name or (folder.is_inbox and name.upper() == "INBOX"):
                return folder
        return None

    def to_dict(self) -> dict[str, Any]:
        """Return the listing as plain data for JSON, without any secret."""
        return {
            "server": self.server,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "ok": self.ok,
            "reason": self.reason.value,
            "stage": self.stage,
            "error": self.error,
            "server_text": self.server_text,
            "list_command": self.list_command,
            "capabilities": list(self.capabilities),
            "namespaces": self.namespaces.to_dict() if self.namespaces else None,
            "seconds": round(self.seconds, 4),
            "folders": [folder.to_dict() for folder in self.folders],
        }


@dataclass(frozen=True)
class CreateResult:
    """The outcome of creating one folder: the name sent to CREATE and the LIST after it.

    `created` is false when the folder existed already or the server refused
    CREATE; `reason` is then `ListingReason.OK` or `ListingReason.CREATE_FAILED`
    with the server's reply in `server_text`. `listing` is the folder list after
    the attempt, or the failed listing when no session could be opened.
    """

    name: str
    created: bool
    reason: ListingReason
    listing: FolderListing
    server_text: str = ""

    @property
    def existed(self) -> bool:
        """Whether the folder existed before, so nothing was created."""
        return not self.created and self.reason is ListingReason.OK

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as plain data for JSON, without the folder list."""
        return {
            "name": self.name,
            "created": self.created,
            "existed": self.existed,
            "reason": self.reason.value,
            "server_text": self.server_text,
        }
