"""The sandbox SMTP submission server: aiosmtpd with provider personalities and delivery.

aiosmtpd 1.4 gives the SMTP protocol, STARTTLS and AUTH PLAIN and LOGIN. This
module adds what a submission server of each provider does:

- logins decided by `Authenticator`, with each provider's reply text, and the
  XOAUTH2 and OAUTHBEARER mechanisms;
- authentication required before MAIL, as RFC 6409 requires of a submission
  server. The check is here because aiosmtpd's own ``auth_required`` warns on
  every implicit-TLS connection;
- the sender rules of `sending.py` at MAIL FROM and after DATA;
- delivery into the recipients' INBOX in the shared `Mailstore`, and a copy in
  the sender's sent folder where the provider keeps one.

Each listener is built with ``loop.create_server`` on a bound socket, because
aiosmtpd's ``Controller`` cannot listen on port 0 and starts its own thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import logging
import socket
import ssl
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from toolkit.sandbox.auth import AuthDecision, Authenticator
from toolkit.sandbox.connections import ConnectionRegistry
from toolkit.sandbox.mailstore import Mailstore
from toolkit.sandbox.sasl import BearerCredentials, parse_oauthbearer, parse_xoauth2
from toolkit.sandbox.sending import (
    FromAction,
    apply_headers,
    check_envelope_sender,
    decide_headers,
    envelope_sender,
    header_from_address,
    prepend_trace,
)
from toolkit.sandbox.tenant import SandboxUser
from toolkit.settings import Protocol

_log = logging.getLogger(__name__)

HOSTNAME = "smtp.sandbox.test"
AUTH_LINE_LIMIT = 12288
IDENT = "maildiag sandbox ESMTP"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
UNKNOWN_RECIPIENT = (
    "550 5.1.1 <{address}>: Recipient address rejected: not a sandbox mailbox; "
    "the sandbox delivers only to its own users"
)


class SubmissionHandler:
    """aiosmtpd handler hooks: OAuth2 mechanisms, sender rules and delivery."""

    def __init__(self, authenticator: Authenticator, mailstore: Mailstore) -> None:
        self.authenticator = authenticator
        self.mailstore = mailstore

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                     mechanism: str, auth_data: Any) -> AuthResult:
        """Decide AUTH PLAIN and LOGIN; aiosmtpd calls this as its ``authenticator``."""
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        decision = self.authenticator.check_password(
            auth_data.login.decode("utf-8", "replace"),
            auth_data.password.decode("utf-8", "replace"),
            Protocol.SMTP,
        )
        return _auth_result(decision)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """Handle ``AUTH XOAUTH2``, with or without the initial response on the command line."""
        return await self._bearer_auth(server, args, parse_xoauth2)

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        """Handle ``AUTH OAUTHBEARER`` (RFC 7628)."""
        return await self._bearer_auth(server, args, parse_oauthbearer)

    async def _bearer_auth(self, server: SMTP, args: list[str], parse: Any) -> AuthResult:
        if len(args) > 1:
            try:
                data: bytes = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False,
                                  message="501 5.5.2 Can't decode base64")
        else:
            # RFC 4954 section 4: the server sends an empty challenge to request the
            # client response.
            response = await server.challenge_auth("", encode_to_b64=False)
            if not isinstance(response, bytes):
                return AuthResult(success=False, handled=True)  # aiosmtpd has replied
            data = response
        try:
            bearer: BearerCredentials = parse(data)
        except (ValueError, UnicodeDecodeError) as error:
            return AuthResult(success=False, handled=False,
                              message=f"501 5.5.2 Malformed {args[0].upper()} response: {error}")
        decision = self.authenticator.check_token(bearer.user, bearer.token.reveal(), Protocol.SMTP)
        return _auth_result(decision)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        """Require AUTH, then check the envelope sender against the user's sender rule."""
        user = self._signed_in_user(session)
        if user is None:
            return AUTH_REQUIRED
        rejection = check_envelope_sender(user, address)
        if rejection is not None:
            _log.info("MAIL FROM <%s> by %s rejected", address, user.address)
            return rejection
        envelope.mail_from = envelope_sender(user, address)
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        """Accept only recipients that are sandbox mailboxes, so nothing is relayed."""
        if self.authenticator.tenant.user(address) is None:
            return UNKNOWN_RECIPIENT.format(address=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Apply the From rule, then deliver to each recipient's INBOX."""
        user = self._signed_in_user(session)
        if user is None:
            return AUTH_REQUIRED
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        decision = decide_headers(user, header_from_address(content))
        if decision.reply is not None:
            _log.info("message from %s rejected: header From not permitted", user.address)
            return decision.reply
        message = apply_headers(content, decision)
        queue_id = uuid.uuid4().hex[:12].upper()
        # RFC 3848: ESMTPSA is authenticated SMTP over TLS, ESMTPA without TLS.
        with_tls = server.transport is not None and server.transport.get_extra_info("ssl_object")
        protocol = "ESMTPSA" if with_tls else "ESMTPA"
        peer = session.peer[0] if isinstance(session.peer, tuple) else "unknown"
        received = (f"from {session.host_name or 'unknown'} ({peer}) by {HOSTNAME} "
                    f"with {protocol} id {queue_id}; {format_datetime(datetime.now(UTC))}")
        delivered = prepend_trace(message, envelope.mail_from or "", received)
        for recipient in envelope.rcpt_tos:
            await self.mailstore.append(recipient, delivered)
        sent_folder = user.profile.sent_folder
        if user.profile.saves_sent_copy and sent_folder is not None:
            await self.mailstore.append(user.address, message, folder=sent_folder, seen=True)
        if decision.action != FromAction.KEPT:
            _log.info("message from %s: header From %s", user.address, decision.action)
        _log.info("message %s from %s delivered to %d recipients", queue_id, user.address,
                  len(envelope.rcpt_tos))
        return f"250 2.0.0 OK queued as {queue_id}"

    def _signed_in_user(self, session: Session) -> SandboxUser | None:
        if not session.authenticated or not isinstance(session.auth_data, str):
            return None
        return self.authenticator.tenant.user(session.auth_data)


def _auth_result(decision: AuthDecision) -> AuthResult:
    if decision.ok and decision.user is not None:
        return AuthResult(success=True, auth_data=decision.user.address)
    return AuthResult(success=False, handled=False, message=decision.smtp_reply())


class SandboxSMTP(SMTP):
    """aiosmtpd's SMTP protocol with longer AUTH lines and connection bookkeeping."""

    # RFC 4954 section 4 allows an AUTH command line of 12288 octets, which an
    # XOAUTH2 initial response with a JWT access token needs. aiosmtpd allows 512.
    # NOTE: aiosmtpd applies the same line limit to DATA. Message lines longer
    # than RFC 5321's 1000 octets are therefore accepted too.
    line_length_limit = AUTH_LINE_LIMIT + 2

    def __init__(self, handler: SubmissionHandler, registry: ConnectionRegistry,
                 **options: Any) -> None:
        super().__init__(handler, **options)
        # An instance dict: aiosmtpd's class-level one grows at every EHLO.
        self.command_size_limits = collections.defaultdict(
            lambda: SMTP.command_size_limit, {"AUTH": AUTH_LINE_LIMIT}
        )
        self._registry = registry
        self._raw_transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again with the TLS transport after STARTTLS; record the socket's own.
        if self._raw_transport is None and isinstance(transport, asyncio.WriteTransport):
            self._raw_transport = transport
            self._registry.add(transport)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        if self._raw_transport is not None:
            self._registry.discard(self._raw_transport)


async def start_smtp_listener(
    sock: socket.socket,
    handler: SubmissionHandler,
    registry: ConnectionRegistry,
    *,
    starttls_context: ssl.SSLContext | None = None,
    implicit_tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
) -> asyncio.AbstractServer:
    """Serve SMTP submission on a bound socket.

    With `starttls_context`, STARTTLS is offered and AUTH only after it. With
    `implicit_tls_context`, the connection is TLS from the start and AUTH is
    offered at once. With neither, AUTH is offered on the plain connection.
    `require_starttls` rejects every command except EHLO, NOOP, STARTTLS and QUIT
    with 530 until STARTTLS (RFC 3207 section 4).
    """
    loop = asyncio.get_running_loop()
    # aiosmtpd requires TLS for AUTH by looking at its own STARTTLS state only, so
    # a listener without STARTTLS must lift that to offer AUTH at all.
    auth_require_tls = starttls_context is not None

    def build_protocol() -> SandboxSMTP:
        return SandboxSMTP(
            handler, registry,
            hostname=HOSTNAME, ident=IDENT, loop=loop,
            tls_context=starttls_context, require_starttls=require_starttls,
            auth_require_tls=auth_require_tls, authenticator=handler.authenticate,
        )

    return await loop.create_server(build_protocol, sock=sock, ssl=implicit_tls_context)
