"""The finding for a folder listing that failed: what went wrong, the server's words, the fix."""

from __future__ import annotations

from toolkit.findings import Finding, Severity
from toolkit.folders.model import FolderListing, ListingReason
from toolkit.probe.results import Reason
from toolkit.verdicts import CERTIFICATE_WORDS

# The settings field to look at and the fix for each failed listing.
_LISTING_FIXES: dict[ListingReason, tuple[str, str]] = {
    ListingReason.PASSWORD_MISSING: (
        "password",
        "Enter the password, or set the environment variable the entry names.",
    ),
    ListingReason.TOKEN_MISSING: (
        "token_env",
        "Fetch an OAuth2 access token and set the variable token_env names.",
    ),
    ListingReason.CA_FILE_UNREADABLE: ("ca_file", "Give the path of a readable PEM file."),
    ListingReason.LOGIN_REJECTED: (
        "password",
        "Check the user and the password; Gmail needs an app password, and "
        "Microsoft 365 needs OAuth2.",
    ),
    ListingReason.LOGIN_DISABLED: (
        "tls",
        "Use TLS: tick TLS with port 993, or use STARTTLS on port 143.",
    ),
    ListingReason.MECHANISM_NOT_OFFERED: (
        "auth",
        "Use Basic authentication on this server, or a server that offers XOAUTH2.",
    ),
    ListingReason.STARTTLS_NOT_OFFERED: (
        "tls",
        "Tick TLS and use the server's implicit-TLS port, usually 993.",
    ),
    ListingReason.LIST_FAILED: (
        "user",
        "Ask the mail administrator why the account may not list its folders.",
    ),
}
_CERTIFICATE_REASONS = {
    ListingReason.CERTIFICATE_EXPIRED,
    ListingReason.CERTIFICATE_NOT_YET_VALID,
    ListingReason.CERTIFICATE_HOSTNAME_MISMATCH,
    ListingReason.CERTIFICATE_UNTRUSTED,
}


def listing_failure(listing: FolderListing, *, server: str = "") -> Finding:
    """Describe a failed folder listing as a ``folder-list-failed`` error with the fix."""
    field, fix = _LISTING_FIXES.get(listing.reason, ("host", _generic_fix(listing.reason)))
    said = f" The server replied: {listing.server_text}" if listing.server_text else ""
    return Finding(
        "folder-list-failed",
        Severity.ERROR,
        field,
        f"The folders of {listing.user} on {listing.host}:{listing.port} could not be listed "
        f"({listing.reason.value} at {listing.stage}): {listing.error}.{said}",
        fix,
        server or listing.server,
    )


def _generic_fix(reason: ListingReason) -> str:
    if reason in _CERTIFICATE_REASONS:
        # The probe's verdicts word each certificate problem with its own fix.
        words = CERTIFICATE_WORDS[Reason(reason.value)]
        return f"{words.split('. ', 1)[-1]} Run maildiag probe on the host and port for details."
    return (
        "Check the host, the port and the TLS tick: run maildiag probe on them to see what "
        "the port speaks."
    )
