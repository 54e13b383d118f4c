"""Probe one endpoint: connect, read the greeting, ask capabilities, upgrade, ask again.

Every failure ends in one named `Reason`, with the stage it happened at, the raw
error and, the server's own words where it sent any. A probe opens one
connection, sends no credentials and changes nothing on the server.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from toolkit.probe.certificates import analyse, peer_chain
from toolkit.probe.dialogs import (
    CommandReply,
    Dialog,
    DialogError,
    ImapDialog,
    ServerClosing,
    SmtpDialog,
    decode,
    looks_like_tls,
    other_protocol_name,
)
from toolkit.probe.results import (
    CertificateFacts,
    Endpoint,
    ProbeResult,
    Reason,
    Timeouts,
    TranscriptLine,
)
from toolkit.probe.transport import Closed, HandshakeFailed, LineTooLong, TimedOut, Transport
from toolkit.settings import Protocol, Security

logger = logging.getLogger(__name__)

# Lines kept per transcript, and characters per line, so a hostile server cannot fill memory.
MAX_TRANSCRIPT_LINES = 200
MAX_TRANSCRIPT_CHARS = 300
# Time allowed for a server that sent no greeting to complete a TLS handshake. A TLS port
# replies to a ClientHello at once, so a short limit keeps a silent server's cost low.
DETECT_TIMEOUT = 2.0
# OpenSSL's reasons for a failed handshake where the two sides share no TLS version.
_VERSION_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION",
    "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH",
}
# OpenSSL's reasons when the bytes it received were not a TLS record at all.
_NOT_TLS_REASONS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "UNKNOWN_PROTOCOL",
}


class _Stop(Exception):
    """Ends a probe early with a reason; caught in `probe`."""

    def __init__(self, reason: Reason, error: str = "", server_text: str = "") -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error
        self.server_text = server_text


@dataclass
class _State:
    endpoint: Endpoint
    timeouts: Timeouts
    context: ssl.SSLContext
    stage: str = "dns"
    stage_started: float = field(default_factory=time.monotonic)
    connected: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    transcript: list[TranscriptLine] = field(default_factory=list)
    greeting: str = ""
    capabilities_before: tuple[str, ...] = ()
    capabilities_after: tuple[str, ...] = ()
    starttls_offered: bool | None = None
    tls_version: str = ""
    cipher: str = ""
    certificate: CertificateFacts | None = None
    certificate_problem: Reason | None = None
    plaintext_after_starttls: bool = False

    def record(self, direction: str, line: bytes) -> None:
        if len(self.transcript) < MAX_TRANSCRIPT_LINES:
            text = decode(line)[:MAX_TRANSCRIPT_CHARS]
            self.transcript.append(TranscriptLine(direction, text))

    def enter(self, stage: str) -> None:
        """Start a stage, so a failure in it can be timed too."""
        self.stage = stage
        self.stage_started = time.monotonic()

    def time_failed_stage(self) -> None:
        """Record how long the stage that failed ran, unless it was recorded already."""
        key = self.stage.replace("-", "_")
        self.timings.setdefault(key, round(time.monotonic() - self.stage_started, 4))

    def timed(self, stage: str, started: float) -> None:
        self.timings[stage] = round(time.monotonic() - started, 4)


@cache
def probe_context() -> ssl.SSLContext:
    """Return the TLS context of a probe: modern versions, no verification during the handshake.

    Verification happens afterwards in `toolkit.probe.certificates`, so that a bad
    certificate is described rather than only refused. A probe never sends credentials.
    The context is shared, because creating one costs about 0.25 ms and it is not
    changed after this function returns.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@cache
def version_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """Return a probe context that offers exactly one TLS version, old ones included.

    OpenSSL's default security level rejects TLS 1.0 and 1.1. Level 0 lets the probe
    offer them, because the point is to learn whether the server still accepts them.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Python deprecates the old versions, which this context offers on purpose.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    return context


def probe(
    endpoint: Endpoint,
    timeouts: Timeouts | None = None,
    *,
    tls_version: ssl.TLSVersion | None = None,
) -> ProbeResult:
    """Probe one endpoint in its security mode and return what happened.

    `tls_version` restricts the handshake to that one version, to learn which
    versions the server accepts; by default the client offers the modern ones.
    """
    context = probe_context() if tls_version is None else version_context(tls_version)
    state = _State(endpoint, timeouts or Timeouts(), context)
    transport: Transport | None = None
    reason = Reason.OK
    error = ""
    server_text = ""
    try:
        transport = _connect(state)
        dialog = _dialog(state, transport)
        _run(state, transport, dialog)
        if state.certificate_problem is not None:
            reason = state.certificate_problem
    except _Stop as stop:
        reason, error, server_text = stop.reason, stop.error, stop.server_text
        state.time_failed_stage()
    finally:
        if transport is not None:
            transport.close()
    logger.info(
        "probe %s:%s %s %s: %s",
        endpoint.host,
        endpoint.port,
        endpoint.protocol,
        endpoint.security,
        reason,
    )
    return _result(state, reason, error, server_text)


def _connect(state: _State) -> Transport:
    endpoint = state.endpoint
    started = time.monotonic()
    try:
        addresses = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise _Stop(Reason.DNS_FAILED, f"name lookup failed: {error.strerror}") from None
    except UnicodeError as error:
        raise _Stop(Reason.DNS_FAILED, f"invalid host name: {error}") from None
    state.timed("dns", started)

    state.enter("connect")
    started = time.monotonic()
    deadline = started + state.timeouts.connect
    last: Exception | None = None
    for family, kind, proto, _, address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            last = error
            continue
        state.timed("connect", started)
        state.connected = True
        return Transport(sock)
    if isinstance(last, ConnectionRefusedError):
        raise _Stop(Reason.CONNECTION_REFUSED, "connection refused: nothing listens on this port")
    if last is None or isinstance(last, TimeoutError):
        raise _Stop(
            Reason.CONNECT_TIMEOUT,
            f"no answer to the connection within {state.timeouts.connect:g} s",
        )
    raise _Stop(Reason.CONNECTION_FAILED, f"connection failed: {last}")


def _dialog(state: _State, transport: Transport) -> Dialog:
    if state.endpoint.protocol is Protocol.IMAP:
        return ImapDialog(transport, state.record)
    # An address literal names the client in EHLO when it has no domain (RFC 5321 4.1.3).
    address = transport.local_address()
    literal = f"[IPv6:{address}]" if ":" in address else f"[{address}]"
    return SmtpDialog(transport, state.record, client_name=literal)


def _run(state: _State, transport: Transport, dialog: Dialog) -> None:
    endpoint = state.endpoint
    timeouts = state.timeouts
    if endpoint.security is Security.IMPLICIT_TLS:
        _handshake(state, transport, "tls-handshake")

    greeting_caps = _greeting(state, transport, dialog)

    # An IMAP greeting may list the capabilities (RFC 9051 section 7.1), which saves a round trip.
    state.enter("capabilities")
    reply_text = state.greeting
    if greeting_caps:
        state.capabilities_before = greeting_caps
    else:
        started = time.monotonic()
        reply = _guard(
            state,
            lambda: dialog.capabilities(time.monotonic() + timeouts.read, "capabilities"),
        )
        state.timed("capabilities", started)
        state.capabilities_before = reply.capabilities
        reply_text = reply.text
    state.starttls_offered = any(cap.upper() == "STARTTLS" for cap in state.capabilities_before)

    if endpoint.security is Security.STARTTLS:
        if not state.starttls_offered:
            raise _Stop(
                Reason.STARTTLS_NOT_OFFERED,
                "the server does not list STARTTLS among its capabilities",
                reply_text,
            )
        state.enter("starttls")
        started = time.monotonic()
        go = _guard(state, lambda: dialog.starttls(time.monotonic() + timeouts.read, "starttls"))
        state.timed("starttls", started)
        if not go.accepted:
            raise _Stop(Reason.STARTTLS_REJECTED, "the server rejected STARTTLS", go.text)
        if transport.buffered:
            # RFC 3207 section 6: bytes sent before the handshake must be discarded,
            # because an attacker could have injected them into the plain-text stream.
            state.plaintext_after_starttls = True
            transport.discard_buffered()
        _handshake(state, transport, "tls-handshake")
        state.enter("capabilities-after")
        started = time.monotonic()
        after = _guard(
            state,
            lambda: dialog.capabilities(time.monotonic() + timeouts.read, "capabilities-after"),
        )
        state.timed("capabilities_after", started)
        state.capabilities_after = after.capabilities
    elif endpoint.security is Security.IMPLICIT_TLS:
        state.capabilities_after = state.capabilities_before

    state.enter("goodbye")
    try:
        dialog.goodbye(time.monotonic() + 1.0)
    except (Closed, TimedOut):
        pass
    state.enter("done")


def _greeting(state: _State, transport: Transport, dialog: Dialog) -> tuple[str, ...]:
    state.enter("greeting")
    started = time.monotonic()
    deadline = started + state.timeouts.greeting
    try:
        if state.endpoint.security is not Security.IMPLICIT_TLS and looks_like_tls(
            transport.peek(deadline=deadline, stage="greeting")
        ):
            raise _Stop(
                Reason.PLAIN_ON_TLS_PORT,
                "the server sent TLS bytes where a text greeting was expected",
            )
        first = transport.read_line(deadline=deadline, stage="greeting")
    except TimedOut:
        if state.endpoint.security is Security.IMPLICIT_TLS:
            raise _Stop(
                Reason.GREETING_TIMEOUT,
                f"no greeting within {state.timeouts.greeting:g} s after the handshake",
            ) from None
        _detect_silent_tls_port(state, transport)
        raise AssertionError("unreachable") from None
    except Closed as closed:
        raise _Stop(
            Reason.CONNECTION_CLOSED, f"{closed} before the greeting", decode(transport.buffered)
        ) from None
    except LineTooLong as error:
        raise _Stop(Reason.PROTOCOL_ERROR, f"greeting: {error}") from None
    state.timed("greeting", started)
    state.record("S", first)
    state.greeting = decode(first)

    other = other_protocol_name(first, state.endpoint.protocol.value)
    if other is not None:
        raise _Stop(
            Reason.WRONG_PROTOCOL,
            f"this port speaks {other}, not {state.endpoint.protocol.value.upper()}",
            state.greeting,
        )
    try:
        greeting = dialog.greeting(first, time.monotonic() + state.timeouts.read)
    except DialogError as error:
        raise _Stop(Reason.PROTOCOL_ERROR, str(error), error.server_text) from None
    except (TimedOut, Closed, LineTooLong) as error:
        raise _Stop(_reason_for_transport(error), str(error), state.greeting) from None
    state.greeting = greeting.text
    if greeting.unavailable:
        raise _Stop(
            Reason.SERVICE_UNAVAILABLE,
            "the server refused the session at the greeting",
            greeting.text,
        )
    return greeting.capabilities


def _detect_silent_tls_port(state: _State, transport: Transport) -> None:
    """Tell a silent implicit-TLS port from a silent server, on the same connection.

    An implicit-TLS port waits for the client's handshake, so a text client sees
    no greeting. Starting a handshake on the same socket settles it without a
    second connection: a server that completes it speaks implicit TLS.
    """
    state.enter("greeting")
    silent = f"no greeting within {state.timeouts.greeting:g} s"
    try:
        _handshake(state, transport, "tls-detect", min(state.timeouts.handshake, DETECT_TIMEOUT))
    except _Stop:
        raise _Stop(Reason.GREETING_TIMEOUT, silent) from None
    raise _Stop(
        Reason.PLAIN_ON_TLS_PORT,
        f"{silent}, but the server completed a TLS handshake: this port speaks implicit TLS",
    )


def _handshake(
    state: _State, transport: Transport, stage: str, timeout: float | None = None
) -> None:
    state.enter(stage)
    started = time.monotonic()
    deadline = started + (timeout or state.timeouts.handshake)
    server_name = state.endpoint.host
    try:
        transport.start_tls(state.context, server_name, deadline=deadline, stage=stage)
    except TimedOut:
        raise _Stop(
            Reason.TLS_HANDSHAKE_TIMEOUT,
            f"the TLS handshake did not finish within {state.timeouts.handshake:g} s",
        ) from None
    except Closed as closed:
        raise _Stop(
            Reason.CONNECTION_CLOSED,
            f"{closed} during the TLS handshake",
            decode(bytes(transport.raw_received[:200])),
        ) from None
    except HandshakeFailed as failed:
        raise _classify_handshake(failed) from None
    state.timed("tls_handshake" if stage != "tls-detect" else "tls_detect", started)
    tls = transport.tls_object
    assert tls is not None
    state.tls_version = tls.version() or ""
    cipher = tls.cipher()
    state.cipher = cipher[0] if cipher else ""
    chain = peer_chain(tls)
    if chain:
        try:
            state.certificate, state.certificate_problem = analyse(
                chain, state.endpoint.host, state.endpoint.ca_file
            )
        except ValueError as error:
            logger.warning("certificate of %s could not be parsed: %s", state.endpoint.host, error)


def _classify_handshake(failed: HandshakeFailed) -> _Stop:
    reason_code = getattr(failed.ssl_error, "reason", None) or ""
    raw = failed.raw
    server_text = decode(raw.split(b"\n", 1)[0]) if raw else ""
    if reason_code in _NOT_TLS_REASONS or (raw and not looks_like_tls(raw)):
        return _Stop(
            Reason.TLS_ON_PLAIN_PORT,
            f"the server answered the TLS handshake in plain text ({reason_code or failed})",
            server_text,
        )
    if reason_code in _VERSION_REASONS:
        return _Stop(
            Reason.TLS_VERSION_MISMATCH, f"client and server share no TLS version ({reason_code})"
        )
    return _Stop(Reason.TLS_HANDSHAKE_FAILED, f"TLS handshake failed: {failed}")


def _guard(state: _State, step: Callable[[], CommandReply]) -> CommandReply:
    """Run one command exchange, turning transport and dialog failures into a reason."""
    try:
        return step()
    except ServerClosing as error:
        raise _Stop(
            Reason.SERVICE_UNAVAILABLE, f"{state.stage}: {error}", error.server_text
        ) from None
    except DialogError as error:
        raise _Stop(Reason.PROTOCOL_ERROR, f"{state.stage}: {error}", error.server_text) from None
    except (TimedOut, Closed, LineTooLong) as error:
        raise _Stop(_reason_for_transport(error), f"{state.stage}: {error}") from None


def _reason_for_transport(error: Exception) -> Reason:
    if isinstance(error, TimedOut):
        return Reason.READ_TIMEOUT
    if isinstance(error, Closed):
        return Reason.CONNECTION_CLOSED
    return Reason.PROTOCOL_ERROR


def _result(state: _State, reason: Reason, error: str, server_text: str) -> ProbeResult:
    before = state.capabilities_before
    after = state.capabilities_after
    login_disabled = None
    if state.endpoint.protocol is Protocol.IMAP and before:
        login_disabled = any(cap.upper() == "LOGINDISABLED" for cap in before)
    return ProbeResult(
        endpoint=state.endpoint,
        reason=reason,
        connected=state.connected,
        stage=state.stage,
        timings=dict(state.timings),
        greeting=state.greeting,
        capabilities_before=before,
        capabilities_after=after,
        auth_before=auth_mechanisms(before),
        auth_after=auth_mechanisms(after),
        login_disabled_before=login_disabled,
        starttls_offered=state.starttls_offered,
        tls_version=state.tls_version,
        cipher=state.cipher,
        certificate=state.certificate,
        error=error,
        server_text=server_text,
        plaintext_after_starttls=state.plaintext_after_starttls,
        transcript=tuple(state.transcript),
    )


def auth_mechanisms(capabilities: tuple[str, ...]) -> tuple[str, ...]:
    """Pick the SASL mechanisms out of IMAP ``AUTH=X`` capabilities or an SMTP ``AUTH X Y`` line."""
    mechanisms: list[str] = []
    for capability in capabilities:
        upper = capability.upper()
        if upper.startswith(("AUTH=", "AUTH ")):
            mechanisms += upper[5:].split()
    return tuple(dict.fromkeys(mechanisms))
