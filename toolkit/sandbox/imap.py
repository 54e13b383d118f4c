"""The sandbox IMAP server: pymap with provider personalities.

pymap 0.36 gives the IMAP protocol, STARTTLS and the in-memory backend. What it
lacks, this module adds by subclassing:

- NAMESPACE (RFC 2342), answered with the personality's personal namespace;
- special-use attributes (RFC 6154) in LIST replies;
- logins decided by `Authenticator`, with each provider's reply text, and the
  XOAUTH2 and OAUTHBEARER mechanisms;
- a per-listener choice of whether STARTTLS is offered and whether a login is
  allowed before it. pymap itself allows plain-text login on loopback before
  STARTTLS, which would hide ``LOGINDISABLED`` from every sandbox client.

Several listeners share one `SandboxLogin`, so a user sees the same mailboxes on
every port.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from argparse import Namespace
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass
from typing import Final, cast

from proxyprotocol.reader import ProxyProtocolReader
from proxyprotocol.sock import SocketInfo
from pymap.backend.dict import Config, Identity, Login, Session
from pymap.concurrent import Subsystem
from pymap.config import BackendCapability
from pymap.context import connection_exit
from pymap.exceptions import AuthorizationFailure, ResponseError
from pymap.imap import IMAPConnection, IMAPServer
from pymap.imap.state import ConnectionState
from pymap.interfaces.login import IdentityInterface
from pymap.parsing.command import CommandAuth, CommandNoArgs
from pymap.parsing.command.nonauth import AuthenticateCommand, LoginCommand
from pymap.parsing.commands import Commands
from pymap.parsing.response import (
    CommandResponse,
    ResponseCode,
    ResponseNo,
    ResponseOk,
    UntaggedResponse,
)
from pymap.parsing.specials import ObjectId
from pymap.selected import SelectedMailbox
from pymap.user import UserMetadata
from pysasl import SASLAuth
from pysasl.creds.plain import PlainCredentials
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import BuiltinHash

from toolkit.sandbox.auth import AuthDecision, Authenticator
from toolkit.sandbox.connections import ConnectionRegistry
from toolkit.sandbox.mailstore import Mailstore, UserMailboxes
from toolkit.sandbox.personalities import Profile
from toolkit.sandbox.sasl import BearerTokenCredentials, bearer_mechanisms
from toolkit.secret import Secret
from toolkit.settings import Protocol

_log = logging.getLogger(__name__)

GREETING = b"maildiag sandbox IMAP4rev1 service ready"


class NamespaceCommand(CommandNoArgs, CommandAuth):
    """The ``NAMESPACE`` command of RFC 2342, which pymap does not implement."""

    command = b"NAMESPACE"


class SandboxConfig(Config):
    """pymap settings shared by every sandbox IMAP listener."""

    def __init__(self, *, ssl_context: ssl.SSLContext) -> None:
        super().__init__(
            Namespace(passlib_cfg=None, proxy_protocol=None),
            host=None,
            port=0,
            ssl_context=ssl_context,
            tls_enabled=True,
            demo_data=False,
            demo_user="",
            demo_password="",
            # pymap's default runs password checks in a thread pool that is
            # never shut down. The sandbox compares passwords itself, on the loop.
            cpu_subsystem=Subsystem.for_asyncio(),
            hash_context=BuiltinHash(),
            invalid_user_sleep=0.0,
            reject_dnsbl=False,
        )
        self._mechanisms = [*SASLAuth.named([b"PLAIN", b"LOGIN"]).server_mechanisms,
                            *bearer_mechanisms()]

    @property
    def backend_capability(self) -> BackendCapability:
        return BackendCapability(idle=True, object_id=True, multi_append=True,
                                 custom=[b"SPECIAL-USE"])

    @property
    def initial_capability(self) -> Sequence[bytes]:
        return [*super().initial_capability, b"NAMESPACE"]

    @property
    def tls_auth(self) -> SASLAuth:
        return SASLAuth(self._mechanisms)

    @property
    def commands(self) -> Commands:
        commands = Commands()
        commands.register(NamespaceCommand)
        return commands

    @property
    def greeting(self) -> bytes:
        # A fixed text: pymap's default calls socket.getfqdn() on every connection.
        return GREETING


class LoginRejected(ResponseError):
    """A failed login, carrying the decision that picks the provider's reply."""

    def __init__(self, decision: AuthDecision) -> None:
        super().__init__(decision.outcome.value)
        self.decision = decision

    def get_response(self, tag: bytes) -> ResponseNo:
        return ResponseNo(tag, self.decision.imap_text("AUTHENTICATE"))


class _PasswordCapture:
    """A pysasl identity that receives the password from `PlainCredentials.verify`.

    pysasl hands the password only to an identity's ``compare_secret``; it has no
    public accessor. The sandbox needs the password itself because the
    personality, not a stored hash, decides whether it logs in.
    """

    __slots__ = ("password",)

    def __init__(self) -> None:
        self.password = Secret("")

    @property
    def authcid(self) -> str:
        return ""

    def compare_authcid(self, authcid: str) -> bool:
        return True

    def compare_secret(self, secret: str) -> bool:
        self.password = Secret(secret)
        return True

    def get_clear_secret(self) -> str | None:
        return None


class SandboxSession(Session):
    """A pymap session that adds special-use attributes and keeps Courier's namespace."""

    def __init__(self, owner: str, config: Config, mailboxes: UserMailboxes) -> None:
        super().__init__(owner, config, mailboxes.mailbox_set, mailboxes.filter_set)
        self.profile: Final[Profile] = mailboxes.profile

    async def list_mailboxes(
        self, ref_name: str, filter_: str, subscribed: bool = False,
        selected: SelectedMailbox | None = None,
    ) -> tuple[Iterable[tuple[str, str | None, Sequence[bytes]]], SelectedMailbox | None]:
        entries, updates = await super().list_mailboxes(ref_name, filter_, subscribed, selected)
        listed = []
        for name, delimiter, attributes in entries:
            special_use = self.profile.special_use(name)
            if special_use is not None:
                attributes = [*attributes, special_use.encode("ascii")]
            listed.append((name, delimiter, attributes))
        return listed, updates

    async def create_mailbox(
        self, name: str, selected: SelectedMailbox | None = None
    ) -> tuple[ObjectId, SelectedMailbox | None]:
        self._check_namespace(name)
        return await super().create_mailbox(name, selected)

    async def rename_mailbox(
        self, before: str, after: str, selected: SelectedMailbox | None = None
    ) -> SelectedMailbox | None:
        self._check_namespace(after)
        return await super().rename_mailbox(before, after, selected)

    def _check_namespace(self, name: str) -> None:
        prefix = self.profile.namespace_prefix
        if prefix and not name.upper().startswith(prefix.upper()):
            raise InvalidMailboxName(name, prefix)


class InvalidMailboxName(ResponseError):
    """A folder name outside the personal namespace, which Courier-IMAP refuses to create."""

    def __init__(self, name: str, prefix: str) -> None:
        super().__init__(name)
        self.prefix = prefix

    def get_response(self, tag: bytes) -> ResponseNo:
        text = f"Invalid mailbox name: folders must start with {self.prefix}".encode()
        return ResponseNo(tag, text, ResponseCode.of(b"CANNOT"))


class SandboxIdentity(Identity):
    """A signed-in user, whose sessions open the user's mailboxes in the shared mailstore."""

    def __init__(self, name: str, login: SandboxLogin) -> None:
        super().__init__(name, login, None, frozenset())
        self.mailstore = login.mailstore

    @asynccontextmanager
    async def new_session(self) -> AsyncIterator[SandboxSession]:
        yield SandboxSession(self.name, self.config, self.mailstore.mailboxes(self.name))


class SandboxLogin(Login):
    """Checks IMAP logins with the sandbox `Authenticator` instead of stored password hashes."""

    def __init__(self, config: SandboxConfig, authenticator: Authenticator,
                 mailstore: Mailstore) -> None:
        super().__init__(config)
        self.authenticator = authenticator
        self.mailstore = mailstore
        # pymap's Identity.get() needs metadata for each user; the password stays
        # out of it because the authenticator checks logins.
        for user in authenticator.tenant.users:
            self.users_dict[user.address] = UserMetadata(config, user.address)

    async def authenticate(self, credentials: ServerCredentials) -> SandboxIdentity:
        if isinstance(credentials, BearerTokenCredentials):
            bearer = credentials.bearer
            decision = self.authenticator.check_token(
                bearer.user, bearer.token.reveal(), Protocol.IMAP
            )
        elif isinstance(credentials, PlainCredentials):
            capture = _PasswordCapture()
            credentials.verify(capture)
            decision = self.authenticator.check_password(
                credentials.authcid, capture.password.reveal(), Protocol.IMAP
            )
        else:
            raise AuthorizationFailure("Unsupported credentials.")
        if not decision.ok or decision.user is None:
            raise LoginRejected(decision)
        return SandboxIdentity(decision.user.address, self)

    async def authorize(self, authenticated: IdentityInterface, authzid: str) -> SandboxIdentity:
        # Sharing a mailbox through a SASL authorization identity is not offered.
        if not isinstance(authenticated, SandboxIdentity) or (
            authzid and authzid.strip().lower() != authenticated.name
        ):
            raise AuthorizationFailure()
        return authenticated


@dataclass(frozen=True)
class ImapMode:
    """The offers of one IMAP listener before TLS.

    `offer_starttls` advertises STARTTLS. `login_before_tls` allows LOGIN and
    AUTHENTICATE on the unencrypted connection. An implicit-TLS listener sets it,
    because its connections are encrypted from the first byte.
    """

    offer_starttls: bool
    login_before_tls: bool


class SandboxConnectionState(ConnectionState):
    """One IMAP connection: the listener's mode, the provider replies and NAMESPACE."""

    def __init__(self, login: SandboxLogin, config: SandboxConfig, mode: ImapMode) -> None:
        super().__init__(login, config)
        self._capability = [c for c in self._capability if c != b"STARTTLS"]
        if mode.offer_starttls:
            self._capability.append(b"STARTTLS")
        self.auth = config.tls_auth if mode.login_before_tls else SASLAuth([])

    async def do_greeting(self) -> CommandResponse:
        # Replaces pymap's greeting, which enables login on loopback before STARTTLS.
        return ResponseOk(b"*", self.config.greeting, self.capability)

    async def do_login(
        self, cmd: LoginCommand
    ) -> tuple[CommandResponse, SelectedMailbox | None]:
        if b"LOGINDISABLED" in self.capability:
            # RFC 5530 section 3: PRIVACYREQUIRED names the missing encryption.
            text = b"Plaintext authentication is disabled until STARTTLS."
            return ResponseNo(cmd.tag, text, ResponseCode.of(b"PRIVACYREQUIRED")), None
        return await super().do_login(cmd)

    async def do_authenticate(
        self, cmd: AuthenticateCommand | LoginCommand, creds: ServerCredentials | None
    ) -> CommandResponse:
        try:
            return await super().do_authenticate(cmd, creds)
        except LoginRejected as rejected:
            command = "LOGIN" if isinstance(cmd, LoginCommand) else "AUTHENTICATE"
            return ResponseNo(cmd.tag, rejected.decision.imap_text(command))

    async def do_namespace(self, cmd: NamespaceCommand) -> tuple[CommandResponse, None]:
        session = self.session
        assert isinstance(session, SandboxSession)
        response = ResponseOk(cmd.tag, b"NAMESPACE completed.")
        response.add_untagged(UntaggedResponse(namespace_reply(session.profile)))
        return response, None


def namespace_reply(profile: Profile) -> bytes:
    """Return the untagged NAMESPACE data: one personal namespace, no other or shared ones."""
    prefix = _quoted(profile.namespace_prefix)
    delimiter = _quoted(profile.delimiter)
    return b"NAMESPACE ((" + prefix + b" " + delimiter + b")) NIL NIL"


def _quoted(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return b'"' + escaped.encode("utf-8") + b'"'


class ResponseBuffer:
    """A stand-in for pymap's StreamWriter that sends each response in one write.

    pymap writes a response in pieces and calls ``drain`` when it is complete.
    With TCP_NODELAY every piece would leave as its own segment, and clients that
    read without blocking, such as imapclient's ``idle_check``, then parse half a
    line. Real servers like Dovecot also send a response as a whole.
    """

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._pending = bytearray()

    @property
    def transport(self) -> asyncio.WriteTransport:
        """The transport of the wrapped writer."""
        return self._writer.transport

    def write(self, data: bytes) -> None:
        """Add data to the pending response."""
        self._pending += data

    async def drain(self) -> None:
        """Send the pending response and wait until the transport accepts more."""
        self._flush()
        await self._writer.drain()

    async def start_tls(self, ssl_context: ssl.SSLContext) -> None:
        """Send what is pending, then upgrade the connection to TLS."""
        self._flush()
        await self._writer.start_tls(ssl_context)

    def get_extra_info(self, name: str, default: object = None) -> object:
        """Return transport information from the wrapped writer."""
        return self._writer.get_extra_info(name, default)

    def close(self) -> None:
        """Send what is pending and close the connection."""
        self._flush()
        self._writer.close()

    def _flush(self) -> None:
        if self._pending and not self._writer.is_closing():
            self._writer.write(bytes(self._pending))
        self._pending.clear()


class SandboxIMAPServer(IMAPServer):
    """pymap's connection handler with a listener mode and connection bookkeeping."""

    def __init__(self, login: SandboxLogin, config: SandboxConfig, mode: ImapMode,
                 registry: ConnectionRegistry) -> None:
        super().__init__(login, config)
        self._sandbox_login = login
        self._sandbox_config = config
        self._mode = mode
        self._registry = registry

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       sock_info: SocketInfo) -> None:
        transport = writer.transport
        self._registry.add(transport)
        peer = writer.get_extra_info("peername")
        _log.info("IMAP connection from %s", peer)
        try:
            buffered = cast(asyncio.StreamWriter, ResponseBuffer(writer))
            conn = IMAPConnection(self.commands, self._sandbox_config, reader, buffered,
                                  sock_info)
            state = SandboxConnectionState(self._sandbox_login, self._sandbox_config, self._mode)
            async with AsyncExitStack() as stack:
                connection_exit.set(stack)
                stack.enter_context(closing(conn))
                await conn.run(state)
        except (AttributeError, ConnectionError) as error:
            # pymap 0.36 describes the socket when a session starts, and a TLS transport
            # whose client already left has no socket any more: the session is over anyway.
            _log.info("IMAP connection from %s ended early: %r", peer, error)
        finally:
            self._registry.discard(transport)
            _log.info("IMAP connection from %s closed", peer)


async def start_imap_listener(
    sock: socket.socket, login: SandboxLogin, config: SandboxConfig, mode: ImapMode,
    registry: ConnectionRegistry, *, ssl_context: ssl.SSLContext | None = None,
) -> asyncio.Server:
    """Serve IMAP on a bound socket, with implicit TLS when `ssl_context` is given."""
    handler = SandboxIMAPServer(login, config, mode, registry)
    callback = ProxyProtocolReader(config.proxy_protocol).get_callback(handler)
    return await asyncio.start_server(callback, sock=sock, ssl=ssl_context)
