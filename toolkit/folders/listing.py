"""List an IMAP account's folders with imapclient: log in, NAMESPACE, LIST, log out.

A session is read-only unless `create_folder` is called: it sends CAPABILITY,
NAMESPACE (RFC 2342) and LIST, and never SELECT or EXAMINE, so no mailbox is
opened and no message flag changes. It logs in with the entry's password
(LOGIN) or, for OAuth2 entries, its token (AUTHENTICATE XOAUTH2), over implicit
TLS or STARTTLS as the entry's TLS tick selects, verifying the certificate against
the system store plus the entry's CA file.

The greeting must arrive within `Timeouts.greeting` seconds and each command's
whole reply within `Timeouts.read` seconds (see `toolkit.folders.bounded`).
Every failure ends in a `FolderListing` with a named `ListingReason` and the
server's words, not an exception. Only an SMTP entry raises ValueError. A
failure before login is classified once more by `toolkit.probe.probe`, which can
tell a silent port, a plain-text port and a bad certificate apart.
"""

from __future__ import annotations

import dataclasses
import imaplib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.imap_utf7 import encode as encode_utf7
from imapclient.imapclient import SocketTimeout
from imapclient.response_parser import parse_response

from toolkit.folders.bounded import BoundedIMAPClient, Limits
from toolkit.folders.errors import SessionFailure, classify, server_words, text
from toolkit.folders.model import (
    CreateResult,
    Folder,
    FolderListing,
    ListingReason,
    Namespace,
    Namespaces,
    special_use_of,
)
from toolkit.probe import Endpoint, ProbeResult, Reason, Timeouts, probe
from toolkit.settings import AuthType, Protocol, Security, ServerSettings

logger = logging.getLogger(__name__)

# The stages before login, where the probe can tell what went wrong with the connection.
_CONNECTION_STAGES = frozenset({"connect", "starttls"})


@dataclass
class _State:
    """The progress of a session: its step and the capabilities seen, for the result."""

    settings: ServerSettings
    timeouts: Timeouts
    stage: str = "setup"
    capabilities: tuple[str, ...] = ()


def list_folders(settings: ServerSettings, timeouts: Timeouts | None = None) -> FolderListing:
    """Log in to an IMAP entry and list every folder, with namespaces and special use.

    Raises ValueError for an SMTP entry. Every other problem, from a missing
    password to a rejected login, is returned as a listing with its reason.
    """
    return _session(settings, timeouts, _listing)


def create_folder(
    settings: ServerSettings, name: str, timeouts: Timeouts | None = None
) -> CreateResult:
    """Create a folder with exactly this full name, then list the folders again.

    Nothing is created when a folder of that name is listed already. The name is
    sent as given, encoded in modified UTF-7; `toolkit.folders.storage` chooses a
    top-level name under the personal namespace first. Raises ValueError for an
    SMTP entry.
    """
    outcome: dict[str, Any] = {"created": False, "reason": ListingReason.OK, "server_text": ""}

    def create(state: _State, client: IMAPClient) -> FolderListing:
        before = _listing(state, client)
        if before.folder(name) is not None:
            return before
        state.stage = "create"
        try:
            reply = client.create_folder(encode_utf7(name))
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            outcome.update(reason=ListingReason.CREATE_FAILED, server_text=server_words(error))
            logger.info("CREATE %r on %s failed: %s", name, settings.name, outcome["server_text"])
            return before
        outcome.update(created=True, server_text=text(reply))
        logger.info("created folder %r on %s", name, settings.name)
        return _listing(state, client)

    listing = _session(settings, timeouts, create)
    if not listing.ok:
        return CreateResult(name, False, listing.reason, listing, listing.server_text)
    return CreateResult(
        name, outcome["created"], outcome["reason"], listing, outcome["server_text"]
    )


def _session(
    settings: ServerSettings,
    timeouts: Timeouts | None,
    action: Callable[[_State, IMAPClient], FolderListing],
) -> FolderListing:
    """Open a logged-in session, run `action` on it, and turn any failure into a listing."""
    if settings.protocol is not Protocol.IMAP:
        raise ValueError(
            f"entry {settings.name!r} is {settings.protocol.value.upper()}, not IMAP: "
            "folders exist only on IMAP entries"
        )
    state = _State(settings, timeouts or Timeouts())
    started = time.monotonic()
    client: IMAPClient | None = None
    try:
        _require_secret(settings)
        context = _tls_context(settings)
        client = _connect(state, context)
        if settings.security is not Security.IMPLICIT_TLS:
            _starttls(state, client, context)
        _login(state, client)
        listing = action(state, client)
        state.stage = "logout"
        _logout(client)
        client = None
        return _timed(listing, started)
    except Exception as error:
        # Every failure becomes a named reason; `_classify` logs the unexpected ones.
        failure = classify(state.stage, state.timeouts.read, error)
        probed = None
        # A SessionFailure was raised by this package with a reason of its own, such as
        # a missing STARTTLS or an oversized literal, which a probe cannot improve on.
        if state.stage in _CONNECTION_STAGES and not isinstance(error, SessionFailure):
            probed, failure = _probe_connection(state, failure)
        logger.info(
            "folder session %s (%s) failed at %s: %s",
            settings.name,
            settings.endpoint,
            state.stage,
            failure.reason,
        )
        return FolderListing(
            server=settings.name,
            host=settings.host,
            port=settings.port,
            user=settings.user,
            reason=failure.reason,
            stage=state.stage,
            capabilities=state.capabilities,
            error=failure.error,
            server_text=failure.server_text,
            seconds=time.monotonic() - started,
            probe=probed,
        )
    finally:
        if client is not None:
            _logout(client)


def _require_secret(settings: ServerSettings) -> None:
    if settings.auth is AuthType.OAUTH2 and not settings.token:
        variable = f" (set {settings.token_env})" if settings.token_env else ""
        raise SessionFailure(
            ListingReason.TOKEN_MISSING, f"this OAuth2 entry carries no access token{variable}"
        )
    if settings.auth is AuthType.BASIC and not settings.password:
        variable = f" (set {settings.password_env})" if settings.password_env else ""
        raise SessionFailure(ListingReason.PASSWORD_MISSING,
                             f"this entry carries no password{variable}")


def _tls_context(settings: ServerSettings) -> ssl.SSLContext:
    """Return a verifying client context: the system store plus the entry's CA file."""
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(settings.ca_file))
        except (OSError, ssl.SSLError) as error:
            path = str(settings.ca_file)
            raise SessionFailure(
                ListingReason.CA_FILE_UNREADABLE, f"the CA file {path!r} cannot be read: {error}"
            ) from None
    return context


def _connect(state: _State, context: ssl.SSLContext) -> IMAPClient:
    settings = state.settings
    timeouts = state.timeouts
    # imapclient applies its connect limit to the TCP connect, the TLS handshake and
    # the greeting alike, so it gets the largest of the three.
    limit = max(timeouts.connect, timeouts.handshake, timeouts.greeting)
    implicit = settings.security is Security.IMPLICIT_TLS
    state.stage = "connect"
    client = BoundedIMAPClient(
        settings.host,
        settings.port,
        ssl=implicit,
        ssl_context=context,
        timeout=SocketTimeout(connect=limit, read=timeouts.read),
        limits=Limits(greeting=timeouts.greeting, step=timeouts.read),
    )
    # Names are decoded here rather than by imapclient, whose decoder raises on a name
    # that is not valid modified UTF-7 and so loses every other folder of the listing.
    client.folder_encode = False
    state.capabilities = _capabilities(client)
    return client


def _starttls(state: _State, client: IMAPClient, context: ssl.SSLContext) -> None:
    state.stage = "starttls"
    if "STARTTLS" not in state.capabilities:
        raise SessionFailure(
            ListingReason.STARTTLS_NOT_OFFERED,
            "the server does not list STARTTLS among its capabilities",
            " ".join(state.capabilities),
        )
    client.starttls(context)
    # RFC 3501 section 6.2.1: capabilities from before STARTTLS no longer count.
    state.capabilities = _capabilities(client)


def _login(state: _State, client: IMAPClient) -> None:
    settings = state.settings
    state.stage = "login"
    if settings.auth is AuthType.OAUTH2:
        if "AUTH=XOAUTH2" not in state.capabilities:
            raise SessionFailure(
                ListingReason.MECHANISM_NOT_OFFERED,
                "the server does not list AUTH=XOAUTH2, so it takes no OAuth2 token",
                " ".join(state.capabilities),
            )
        assert settings.token is not None
        client.oauth2_login(settings.user, settings.token.reveal())
    else:
        if "LOGINDISABLED" in state.capabilities:
            # RFC 3501 section 6.2.3: with LOGINDISABLED the server rejects LOGIN here.
            raise SessionFailure(
                ListingReason.LOGIN_DISABLED,
                "the server lists LOGINDISABLED, so it refuses a password login on this connection",
                " ".join(state.capabilities),
            )
        assert settings.password is not None
        client.login(settings.user, settings.password.reveal())
    logger.info("logged in to %s as %s", settings.endpoint, settings.user)
    state.capabilities = _capabilities(client)


def _listing(state: _State, client: IMAPClient) -> FolderListing:
    """Ask NAMESPACE and LIST on a logged-in session and build the listing."""
    settings = state.settings
    namespaces = None
    if "NAMESPACE" in state.capabilities:
        state.stage = "namespace"
        namespaces = _namespaces(client.namespace())
    state.stage = "list"
    folders, command = _list(client, state.capabilities)
    return FolderListing(
        server=settings.name,
        host=settings.host,
        port=settings.port,
        user=settings.user,
        reason=ListingReason.OK,
        stage="done",
        folders=folders,
        namespaces=namespaces,
        capabilities=state.capabilities,
        list_command=command,
    )


def _list(client: IMAPClient, capabilities: tuple[str, ...]) -> tuple[tuple[Folder, ...], str]:
    """Send one LIST (or XLIST), and a second, extended LIST only when it adds special use."""
    if "XLIST" in capabilities and "SPECIAL-USE" not in capabilities:
        # Gmail's XLIST marks special folders on servers older than RFC 6154.
        return folders_from_entries(client.xlist_folders()), "XLIST"
    folders = folders_from_entries(client.list_folders())
    if (
        "SPECIAL-USE" in capabilities
        and "LIST-EXTENDED" in capabilities
        and not any(folder.special_use for folder in folders)
    ):
        # A server may send special-use attributes only when the SPECIAL-USE return
        # option of RFC 6154 requests them, so a LIST without any is sent again with it.
        special = special_use_by_name(client)
        return with_special_use(folders, special), 'LIST "" "*" RETURN (SPECIAL-USE)'
    return folders, "LIST"


def special_use_by_name(client: IMAPClient) -> dict[str, str]:
    """Send ``LIST "" "*" RETURN (SPECIAL-USE)`` (RFC 6154) and map names to attributes.

    The client must be logged in to a server that lists LIST-EXTENDED (RFC 5258).
    """
    # NOTE: imapclient 4.1 has no call for LIST return options, so this goes through
    # its imaplib connection; parsing uses imapclient's public response parser.
    connection = client._imap
    kind, data = connection._simple_command("LIST", '""', '"*"', "RETURN", "(SPECIAL-USE)")
    if kind != "OK":
        raise imaplib.IMAP4.error(f"LIST failed: {text(data[0] if data else b'')}")
    _, data = connection._untagged_response(kind, data, "LIST")
    entries = parse_response([item for item in data if item not in (b"", None)])
    special: dict[str, str] = {}
    for index in range(0, len(entries) - 2, 3):
        flags, name = entries[index], entries[index + 2]
        attribute = special_use_of(tuple(text(flag) for flag in flags))
        if attribute is not None:
            special[_folder_name(name)] = attribute
    return special


def with_special_use(folders: tuple[Folder, ...], special: dict[str, str]) -> tuple[Folder, ...]:
    """Return the folders with the special-use attributes of a second LIST merged in."""
    merged = []
    for folder in folders:
        attribute = special.get(folder.name)
        if attribute is not None and folder.special_use is None:
            folder = Folder(folder.name, folder.delimiter, (*folder.flags, attribute), attribute)
        merged.append(folder)
    return tuple(merged)


def folders_from_entries(entries: list[tuple[Any, Any, Any]]) -> tuple[Folder, ...]:
    """Build folders from imapclient's ``(flags, delimiter, name)`` LIST or XLIST tuples."""
    folders = []
    for flags, delimiter, name in entries:
        flag_texts = tuple(text(flag) for flag in flags)
        folders.append(
            Folder(
                name=_folder_name(name),
                delimiter=text(delimiter) if delimiter else None,
                flags=flag_texts,
                special_use=special_use_of(flag_texts),
            )
        )
    return tuple(folders)


def _namespaces(reply: Any) -> Namespaces:
    def entries(items: Any) -> tuple[Namespace, ...]:
        if not items:
            return ()
        return tuple(
            Namespace(_folder_name(prefix), text(delimiter) if delimiter else None)
            for prefix, delimiter in items
        )

    return Namespaces(entries(reply.personal), entries(reply.other), entries(reply.shared))


def _folder_name(name: Any) -> str:
    # imapclient parses a name such as "2024" as a number. Bytes are modified UTF-7
    # (RFC 3501 section 5.1.3). A name that is not valid modified UTF-7 is shown as
    # received, with undecodable bytes escaped, so that the other folders still list.
    if isinstance(name, bytes):
        try:
            return str(decode_utf7(name))
        except (UnicodeDecodeError, ValueError):
            return name.decode("utf-8", errors="backslashreplace")
    return str(name)


def _capabilities(client: IMAPClient) -> tuple[str, ...]:
    return tuple(text(capability).upper() for capability in client.capabilities())


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except (imaplib.IMAP4.error, OSError, SessionFailure):
        try:
            client.shutdown()
        except OSError:
            pass


def _timed(listing: FolderListing, started: float) -> FolderListing:
    return dataclasses.replace(listing, seconds=time.monotonic() - started)


def _probe_connection(state: _State, failure: SessionFailure) -> tuple[ProbeResult, SessionFailure]:
    """Probe the entry's port once to name a connection failure, keeping ours if it finds none."""
    settings = state.settings
    endpoint = Endpoint(
        settings.host,
        settings.port,
        Protocol.IMAP,
        settings.security,
        str(settings.ca_file) if settings.ca_file else None,
    )
    result = probe(endpoint, state.timeouts)
    if result.reason is Reason.OK:
        return result, failure
    reason = ListingReason(result.reason.value)
    return result, SessionFailure(
        reason, result.error or failure.error, result.server_text or failure.server_text
    )
