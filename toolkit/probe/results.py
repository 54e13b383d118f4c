"""Probe results: plain data that becomes a table row or JSON, with a fixed reason vocabulary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from toolkit.settings import Protocol, Security


class Reason(StrEnum):
    """The outcome of one probe, as a stable id."""

    OK = "ok"
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


@dataclass(frozen=True)
class Timeouts:
    """Per-stage time limits in seconds. Every default is at most 10 s."""

    connect: float = 5.0
    greeting: float = 5.0
    handshake: float = 5.0
    read: float = 5.0

    def __post_init__(self) -> None:
        for name in ("connect", "greeting", "handshake", "read"):
            value = getattr(self, name)
            if not 0 < value <= 300:
                raise ValueError(f"timeout {name}={value!r} must be more than 0 and at most 300 s")


@dataclass(frozen=True)
class Endpoint:
    """One port to probe in one mode. `ca_file` adds a private CA to the system trust store."""

    host: str
    port: int
    protocol: Protocol
    security: Security
    ca_file: str | None = None


@dataclass(frozen=True)
class CertificateFacts:
    """Facts from the server's certificate, and whether a client would accept it."""

    subject: str
    issuer: str
    san_dns: tuple[str, ...]
    san_ip: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    days_left: int
    hostname_matches: bool
    chain_verified: bool | None
    verified_against: str
    verify_error: str
    self_signed: bool
    missing_intermediate: bool | None
    chain_length: int
    key_type: str
    signature_algorithm: str

    def to_dict(self) -> dict[str, Any]:
        """Return the facts as JSON-ready data, with dates in ISO 8601."""
        data = asdict(self)
        data["not_before"] = self.not_before.isoformat()
        data["not_after"] = self.not_after.isoformat()
        data["san_dns"] = list(self.san_dns)
        data["san_ip"] = list(self.san_ip)
        return data


@dataclass(frozen=True)
class TranscriptLine:
    """One line of the conversation: ``C`` for the client, ``S`` for the server."""

    direction: str
    text: str


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of probing one endpoint: what happened at each stage and why it stopped."""

    endpoint: Endpoint
    reason: Reason
    connected: bool
    stage: str
    timings: dict[str, float]
    greeting: str = ""
    capabilities_before: tuple[str, ...] = ()
    capabilities_after: tuple[str, ...] = ()
    auth_before: tuple[str, ...] = ()
    auth_after: tuple[str, ...] = ()
    login_disabled_before: bool | None = None
    starttls_offered: bool | None = None
    tls_version: str = ""
    cipher: str = ""
    certificate: CertificateFacts | None = None
    error: str = ""
    server_text: str = ""
    plaintext_after_starttls: bool = False
    transcript: tuple[TranscriptLine, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the probe reached its end with nothing a client would reject."""
        return self.reason is Reason.OK

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {
            "host": self.endpoint.host,
            "port": self.endpoint.port,
            "protocol": self.endpoint.protocol.value,
            "security": self.endpoint.security.value,
            "ok": self.ok,
            "reason": self.reason.value,
            "connected": self.connected,
            "stage": self.stage,
            "timings": dict(self.timings),
            "greeting": self.greeting,
            "capabilities_before": list(self.capabilities_before),
            "capabilities_after": list(self.capabilities_after),
            "auth_before": list(self.auth_before),
            "auth_after": list(self.auth_after),
            "login_disabled_before": self.login_disabled_before,
            "starttls_offered": self.starttls_offered,
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "certificate": self.certificate.to_dict() if self.certificate else None,
            "error": self.error,
            "server_text": self.server_text,
            "plaintext_after_starttls": self.plaintext_after_starttls,
            "transcript": [f"{line.direction}: {line.text}" for line in self.transcript],
        }
