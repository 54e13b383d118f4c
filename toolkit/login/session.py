"""Test the login of one server entry, the way the product logs in.

`attempt_login` reads as the steps of a session: check the credentials locally,
connect, start TLS (implicit, or STARTTLS per the entry's TLS tick), read the
capabilities, choose the mechanism, authenticate, open INBOX read-only (IMAP),
and log out. Every step has its own deadline (`toolkit.probe.Timeouts`) and every
failure ends in one `LoginReason`, with the server's words where it sent any.

Credentials are sent only over TLS that verified the server's certificate against
the system trust store plus the entry's CA file. When a STARTTLS entry's server
offers no STARTTLS, the test stops with ``plaintext-refused`` unless the caller
passes ``allow_plaintext=True``. With it, the credentials cross the network in
plain text and a WARNING is logged.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from toolkit.login import sasl
from toolkit.login.imap import ImapLogin
from toolkit.login.results import AuthReply, LoginReason, LoginResult
from toolkit.login.sasl import Mechanism
from toolkit.login.smtp import SmtpLogin
from toolkit.login.transcript import Transcript
from toolkit.probe.core import auth_mechanisms
from toolkit.probe.dialogs import (
    CommandReply,
    Dialog,
    DialogError,
    ImapDialog,
    ServerClosing,
    SmtpDialog,
    decode,
    looks_like_tls,
)
from toolkit.probe.results import Timeouts
from toolkit.probe.transport import Closed, HandshakeFailed, LineTooLong, TimedOut, Transport
from toolkit.settings import AuthType, Protocol, Security, ServerSettings

logger = logging.getLogger(__name__)

# A failed login can take several seconds: Dovecot delays it by 2 s by default
# (auth_failure_delay), so the read limit is longer than the probe's.
DEFAULT_TIMEOUTS = Timeouts(connect=5.0, greeting=5.0, handshake=5.0, read=15.0)
# Time allowed for LOGOUT or QUIT, which only tidies up after the result is known.
GOODBYE_SECONDS = 2.0

# OpenSSL's X509_V_ERR codes for the certificate problems that have their own reason.
_VERIFY_CODES = {
    9: LoginReason.CERTIFICATE_NOT_YET_VALID,
    10: LoginReason.CERTIFICATE_EXPIRED,
    62: LoginReason.CERTIFICATE_HOSTNAME_MISMATCH,
    64: LoginReason.CERTIFICATE_HOSTNAME_MISMATCH,
}


_T = TypeVar("_T", AuthReply, CommandReply)


class _Stop(Exception):
    """Ends a login test early with a reason; caught in `attempt_login`."""

    def __init__(self, reason: LoginReason, error: str, server_text: str = "") -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error
        self.server_text = server_text


@dataclass
class _State:
    server: ServerSettings
    timeouts: Timeouts
    transcript: Transcript
    stage: str = "precheck"
    security: Security = Security.NONE
    mechanism: Mechanism | None = None
    capabilities: tuple[str, ...] = ()
    tls_version: str = ""
    plaintext: bool = False
    credentials_sent: bool = False
    greeted: bool = False
    imap: ImapLogin | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def timed(self, stage: str, started: float) -> None:
        self.timings[stage] = round(time.monotonic() - started, 4)


def attempt_login(
    server: ServerSettings,
    *,
    allow_plaintext: bool = False,
    mechanism: Mechanism | None = None,
    timeouts: Timeouts | None = None,
    check_mailbox: bool = True,
) -> LoginResult:
    """Log in to `server` with its password or token and return what happened.

    `mechanism` overrides the default choice (`sasl.candidates`): IMAP LOGIN and
    SMTP AUTH PLAIN for Basic entries, XOAUTH2 for OAuth2 entries. `check_mailbox` opens INBOX
    read-only after an IMAP login, because Exchange Online accepts some logins
    and fails the first mailbox command. Raises ValueError when `mechanism` does
    not fit the entry's authentication type or protocol.
    """
    if mechanism is not None:
        sasl.check_choice(mechanism, server.protocol, server.auth)
    state = _State(server, timeouts or DEFAULT_TIMEOUTS, Transcript(_label(server)))
    # The mode the TLS tick selects. It becomes NONE only when plain text is allowed and used.
    state.security = server.security
    reason, error, server_text = LoginReason.OK, "", ""
    token_error: dict[str, str] = {}
    try:
        context = _precheck(state, mechanism)
        transport = _connect(state)
        try:
            reply = _session(state, transport, context, mechanism, allow_plaintext, check_mailbox)
            token_error = reply.token_error
            server_text = reply.text
        finally:
            transport.close()
    except _Stop as stop:
        reason, error, server_text = stop.reason, stop.error, stop.server_text
    except _AuthFailed as failed:
        reason, error = failed.reason, failed.error
        server_text, token_error = failed.reply.text, failed.reply.token_error
    result = LoginResult(
        server=server.name,
        protocol=server.protocol,
        host=server.host,
        port=server.port,
        security=state.security,
        auth=server.auth,
        user=server.user,
        mechanism=state.mechanism.value if state.mechanism else "",
        stage="done" if reason is LoginReason.OK else state.stage,
        reason=reason,
        success=reason is LoginReason.OK,
        server_text=server_text,
        error=error,
        token_error=token_error,
        capabilities=state.capabilities,
        mechanisms_offered=auth_mechanisms(state.capabilities),
        tls_version=state.tls_version,
        plaintext=state.plaintext,
        credentials_sent=state.credentials_sent,
        timings=dict(state.timings),
        transcript=state.transcript.lines,
    )
    logger.info("login test: %s", result.summary())
    return result


class _AuthFailed(Exception):
    def __init__(self, reason: LoginReason, error: str, reply: AuthReply) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error
        self.reply = reply


def _label(server: ServerSettings) -> str:
    return f"{server.protocol.value} {server.endpoint}"


def _precheck(state: _State, requested: Mechanism | None) -> ssl.SSLContext:
    """Check the secret, its encoding and the CA file before any connection."""
    server = state.server
    secret = _secret(server)
    if server.auth is AuthType.BASIC and not secret:
        variable = f" {server.password_env}" if server.password_env else ""
        raise _Stop(LoginReason.PASSWORD_MISSING, f"no password: the variable{variable} is not set")
    if server.auth is AuthType.OAUTH2 and not secret:
        variable = f" {server.token_env}" if server.token_env else ""
        raise _Stop(
            LoginReason.TOKEN_MISSING, f"no access token: the variable{variable} is not set"
        )
    state.transcript.protect(secret)
    planned = sasl.candidates(server.protocol, server.auth, requested)[0]
    problem = sasl.encoding_problem(planned, server.user, secret)
    if problem is not None:
        state.mechanism = planned
        raise _Stop(LoginReason.PASSWORD_NOT_ENCODABLE, problem)

    context = ssl.create_default_context()
    if server.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(server.ca_file))
        except (OSError, ssl.SSLError) as error:
            raise _Stop(
                LoginReason.CA_FILE_UNREADABLE,
                f"the CA file {server.ca_file} cannot be read as PEM certificates ({error})",
            ) from None
    return context


def _secret(server: ServerSettings) -> str:
    # The value is inspected here for its encoding and registered with the transcript's
    # scrubber; it is sent only by the authentication step.
    holder = server.token if server.auth is AuthType.OAUTH2 else server.password
    return holder.reveal() if holder is not None else ""


def _connect(state: _State) -> Transport:
    server = state.server
    state.stage = "connect"
    started = time.monotonic()
    try:
        sock = socket.create_connection((server.host, server.port), state.timeouts.connect)
    except socket.gaierror as error:
        raise _Stop(LoginReason.DNS_FAILED, f"name lookup failed: {error.strerror}") from None
    except ConnectionRefusedError:
        raise _Stop(LoginReason.CONNECTION_REFUSED, "connection refused: nothing listens") from None
    except TimeoutError:
        raise _Stop(
            LoginReason.CONNECT_TIMEOUT,
            f"no answer to the connection within {state.timeouts.connect:g} s",
        ) from None
    except OSError as error:
        raise _Stop(LoginReason.CONNECTION_FAILED, f"connection failed: {error}") from None
    state.timed("connect", started)
    return Transport(sock)


def _session(
    state: _State,
    transport: Transport,
    context: ssl.SSLContext,
    requested: Mechanism | None,
    allow_plaintext: bool,
    check_mailbox: bool,
) -> AuthReply:
    """Run the session from TLS to logout and return the accepted login's reply."""
    server = state.server
    if server.tls:
        _handshake(state, transport, context)
    dialog = _dialog(state, transport)
    try:
        greeting_capabilities = _greeting(state, transport, dialog)
        state.stage = "capabilities"
        state.capabilities = greeting_capabilities or _capabilities(state, dialog)

        if not server.tls:
            if "STARTTLS" in (capability.upper() for capability in state.capabilities):
                _starttls(state, transport, dialog, context)
            elif allow_plaintext:
                state.plaintext = True
                state.security = Security.NONE
                logger.warning(
                    "%s offers no STARTTLS: sending the credentials of %s in plain text, "
                    "because plain text was allowed",
                    server.endpoint,
                    server.user,
                )
            else:
                raise _Stop(
                    LoginReason.PLAINTEXT_REFUSED,
                    "the server offers no STARTTLS, so the credentials were not sent",
                )

        state.mechanism = _choose_mechanism(state, requested)
        reply = _authenticate(state, transport, state.mechanism)
        if server.protocol is Protocol.IMAP and check_mailbox:
            state.stage = "mailbox"
            opened = _guard(state, lambda: _imap(state, transport).examine_inbox())
            if not opened.accepted:
                raise _AuthFailed(
                    LoginReason.MAILBOX_UNAVAILABLE,
                    "the login was accepted, but INBOX could not be opened",
                    opened,
                )
        return reply
    finally:
        if state.greeted:
            _goodbye(state, transport, dialog)


def _dialog(state: _State, transport: Transport) -> Dialog:
    if state.server.protocol is Protocol.IMAP:
        return ImapDialog(transport, state.transcript.record)
    # An address literal names the client in EHLO when it has no domain (RFC 5321 4.1.3).
    address = transport.local_address()
    literal = f"[IPv6:{address}]" if ":" in address else f"[{address}]"
    return SmtpDialog(transport, state.transcript.record, client_name=literal)


def _greeting(state: _State, transport: Transport, dialog: Dialog) -> tuple[str, ...]:
    state.stage = "greeting"
    started = time.monotonic()
    deadline = started + state.timeouts.greeting
    try:
        first = transport.read_line(deadline=deadline, stage="greeting")
    except TimedOut:
        raise _Stop(
            LoginReason.GREETING_TIMEOUT, f"no greeting within {state.timeouts.greeting:g} s"
        ) from None
    except (Closed, LineTooLong) as error:
        raise _Stop(_transport_reason(error), f"greeting: {error}") from None
    state.transcript.record("S", first)
    if looks_like_tls(first):
        raise _Stop(LoginReason.PROTOCOL_ERROR, "the server sent TLS bytes instead of a greeting")
    try:
        greeting = dialog.greeting(first, time.monotonic() + state.timeouts.read)
    except DialogError as error:
        raise _Stop(LoginReason.PROTOCOL_ERROR, str(error), error.server_text) from None
    except (TimedOut, Closed, LineTooLong) as error:
        raise _Stop(_transport_reason(error), str(error), decode(first)) from None
    state.timed("greeting", started)
    if greeting.unavailable:
        raise _Stop(
            LoginReason.SERVICE_UNAVAILABLE, "the server refused the session", greeting.text
        )
    state.greeted = True
    return greeting.capabilities


def _capabilities(state: _State, dialog: Dialog) -> tuple[str, ...]:
    stage = state.stage
    reply = _guard(state, lambda: dialog.capabilities(_deadline(state), stage))
    if not reply.accepted:
        raise _Stop(
            LoginReason.PROTOCOL_ERROR, "the server rejected CAPABILITY or EHLO", reply.text
        )
    return reply.capabilities


def _starttls(state: _State, transport: Transport, dialog: Dialog, context: ssl.SSLContext) -> None:
    state.stage = "starttls"
    go = _guard(state, lambda: dialog.starttls(_deadline(state), "starttls"))
    if not go.accepted:
        raise _Stop(LoginReason.STARTTLS_REJECTED, "the server rejected STARTTLS", go.text)
    # RFC 3207 section 6: bytes received before the handshake are discarded, because
    # an attacker could have injected them into the plain-text stream.
    transport.discard_buffered()
    _handshake(state, transport, context)
    state.stage = "capabilities"
    state.capabilities = _capabilities(state, dialog)


def _handshake(state: _State, transport: Transport, context: ssl.SSLContext) -> None:
    state.stage = "tls"
    started = time.monotonic()
    deadline = started + state.timeouts.handshake
    # A connection whose handshake failed is in no state for a LOGOUT or QUIT: in plain
    # text it would reach a server that expects TLS records.
    greeted, state.greeted = state.greeted, False
    try:
        transport.start_tls(context, state.server.host, deadline=deadline, stage="tls")
    except TimedOut:
        raise _Stop(
            LoginReason.TLS_HANDSHAKE_TIMEOUT,
            f"the TLS handshake did not finish within {state.timeouts.handshake:g} s",
        ) from None
    except Closed as closed:
        raise _Stop(LoginReason.CONNECTION_CLOSED, f"{closed} during the TLS handshake") from None
    except HandshakeFailed as failed:
        raise _handshake_stop(failed) from None
    state.timed("tls", started)
    state.greeted = greeted
    tls = transport.tls_object
    state.tls_version = (tls.version() or "") if tls is not None else ""
    state.transcript.note(f"TLS started: {state.tls_version}, certificate verified")


def _handshake_stop(failed: HandshakeFailed) -> _Stop:
    error = failed.ssl_error
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = _VERIFY_CODES.get(error.verify_code, LoginReason.CERTIFICATE_UNTRUSTED)
        return _Stop(reason, f"certificate rejected: {error.verify_message}")
    if failed.raw and not looks_like_tls(failed.raw):
        text = decode(failed.raw.split(b"\n", 1)[0])
        return _Stop(
            LoginReason.TLS_ON_PLAIN_PORT,
            "the server answered the TLS handshake in plain text",
            text,
        )
    return _Stop(LoginReason.TLS_HANDSHAKE_FAILED, f"TLS handshake failed: {error}")


def _choose_mechanism(state: _State, requested: Mechanism | None) -> Mechanism:
    """Pick the mechanism: the requested one, or the product's first choice the server offers."""
    state.stage = "authenticate"
    server = state.server
    offered = auth_mechanisms(state.capabilities)
    login_disabled = any(c.upper() == "LOGINDISABLED" for c in state.capabilities)
    candidates = sasl.candidates(server.protocol, server.auth, requested)
    for candidate in candidates:
        if candidate is Mechanism.IMAP_LOGIN:
            if not login_disabled:
                return candidate
        elif candidate.value in offered:
            return candidate
    state.mechanism = candidates[0]
    listed = ", ".join(offered) or "none"
    disabled = " and LOGINDISABLED" if login_disabled else ""
    raise _Stop(
        LoginReason.MECHANISM_NOT_OFFERED,
        f"the server offers no {' or '.join(c.value for c in candidates)}: it lists the "
        f"mechanisms {listed}{disabled}",
    )


def _authenticate(state: _State, transport: Transport, mechanism: Mechanism) -> AuthReply:
    server = state.server
    secret = _secret(server)
    problem = sasl.encoding_problem(mechanism, server.user, secret)
    if problem is not None:
        raise _Stop(LoginReason.PASSWORD_NOT_ENCODABLE, problem)
    started = time.monotonic()
    state.credentials_sent = True
    if server.protocol is Protocol.IMAP:
        imap = _imap(state, transport)
        if mechanism is Mechanism.IMAP_LOGIN:
            reply = _guard(state, lambda: imap.login_command(server.user, secret))
        else:
            payload = _payload(state, mechanism, secret)
            sasl_ir = any(c.upper() == "SASL-IR" for c in state.capabilities)
            reply = _guard(state, lambda: imap.authenticate(mechanism, payload, sasl_ir=sasl_ir))
    else:
        smtp = SmtpLogin(transport, state.transcript, state.timeouts.read)
        if mechanism is Mechanism.LOGIN:
            responses = [server.user.encode("ascii"), secret.encode("ascii")]
        else:
            responses = [_payload(state, mechanism, secret)]
        reply = _guard(state, lambda: smtp.authenticate(mechanism, responses))
    state.timed("authenticate", started)
    if reply.accepted:
        return reply
    reason = LoginReason.AUTH_TEMPORARY_FAILURE if reply.temporary else LoginReason.AUTH_REJECTED
    raise _AuthFailed(reason, f"the server rejected the {mechanism.value} login", reply)


def _payload(state: _State, mechanism: Mechanism, secret: str) -> bytes:
    server = state.server
    if mechanism is Mechanism.PLAIN:
        payload = sasl.plain_response(server.user, secret)
    elif mechanism is Mechanism.XOAUTH2:
        payload = sasl.xoauth2_response(server.user, secret)
    else:
        payload = sasl.oauthbearer_response(server.user, secret, server.host, server.port)
    state.transcript.protect(payload)
    return payload


def _imap(state: _State, transport: Transport) -> ImapLogin:
    # One instance per session, so that every command gets its own tag.
    if state.imap is None:
        state.imap = ImapLogin(transport, state.transcript, state.timeouts.read)
    return state.imap


def _guard(state: _State, step: Callable[[], _T]) -> _T:
    """Run one exchange, turning transport and dialog failures into a reason."""
    try:
        return step()
    except ServerClosing as error:
        raise _Stop(
            LoginReason.SERVICE_UNAVAILABLE, f"{state.stage}: {error}", error.server_text
        ) from None
    except DialogError as error:
        raise _Stop(
            LoginReason.PROTOCOL_ERROR, f"{state.stage}: {error}", error.server_text
        ) from None
    except (TimedOut, Closed, LineTooLong) as error:
        raise _Stop(_transport_reason(error), f"{state.stage}: {error}") from None


def _goodbye(state: _State, transport: Transport, dialog: Dialog) -> None:
    """Log out politely; a failure here changes nothing in the result."""
    deadline = time.monotonic() + GOODBYE_SECONDS
    try:
        if state.server.protocol is Protocol.IMAP:
            _imap(state, transport).logout(deadline)
        else:
            SmtpLogin(transport, state.transcript, GOODBYE_SECONDS).quit(deadline)
    except (TimedOut, Closed, LineTooLong, DialogError) as error:
        logger.debug("%s: logout did not complete: %s", _label(state.server), error)


def _deadline(state: _State) -> float:
    return time.monotonic() + state.timeouts.read


def _transport_reason(error: Exception) -> LoginReason:
    if isinstance(error, TimedOut):
        return LoginReason.READ_TIMEOUT
    if isinstance(error, Closed):
        return LoginReason.CONNECTION_CLOSED
    return LoginReason.PROTOCOL_ERROR
