# ruff: noqa: S105  (reason ids that name passwords and tokens, not secrets)
"""Login test results: plain data for a table row or JSON, with a fixed reason vocabulary.

A result never contains a password or token: the transcript is redacted where it
is written (`toolkit.login.transcript`) and no other field contains a credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolkit.probe.results import TranscriptLine
from toolkit.settings import AuthType, Protocol, Security


class LoginReason(StrEnum):
    """The outcome of a login test, as a stable id.

    The connection and TLS reasons have the same values as `toolkit.probe.Reason`.
    """

    OK = "ok"
    # Stopped before connecting.
    PASSWORD_MISSING = "password-missing"
    TOKEN_MISSING = "token-missing"
    PASSWORD_NOT_ENCODABLE = "password-not-encodable"
    CA_FILE_UNREADABLE = "ca-file-unreadable"
    # Connection, greeting and TLS.
    DNS_FAILED = "dns-failed"
    CONNECTION_REFUSED = "connection-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    CONNECTION_FAILED = "connection-failed"
    GREETING_TIMEOUT = "greeting-timeout"
    READ_TIMEOUT = "read-timeout"
    CONNECTION_CLOSED = "connection-closed"
    SERVICE_UNAVAILABLE = "service-unavailable"
    PROTOCOL_ERROR = "protocol-error"
    TLS_ON_PLAIN_PORT = "tls-on-plain-port"
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"
    TLS_HANDSHAKE_TIMEOUT = "tls-handshake-timeout"
    CERTIFICATE_EXPIRED = "certificate-expired"
    CERTIFICATE_NOT_YET_VALID = "certificate-not-yet-valid"
    CERTIFICATE_HOSTNAME_MISMATCH = "certificate-hostname-mismatch"
    CERTIFICATE_UNTRUSTED = "certificate-untrusted"
    STARTTLS_REJECTED = "starttls-rejected"
    # The server offers no STARTTLS, and plain-text credentials were not allowed.
    PLAINTEXT_REFUSED = "plaintext-refused"
    # Authentication.
    MECHANISM_NOT_OFFERED = "mechanism-not-offered"
    AUTH_REJECTED = "auth-rejected"
    AUTH_TEMPORARY_FAILURE = "auth-temporary-failure"
    # Logged in, but the first mailbox command failed.
    MAILBOX_UNAVAILABLE = "mailbox-unavailable"


# Reasons that end a test before any connection is made.
PRECHECK_REASONS = frozenset(
    {
        LoginReason.PASSWORD_MISSING,
        LoginReason.TOKEN_MISSING,
        LoginReason.PASSWORD_NOT_ENCODABLE,
        LoginReason.CA_FILE_UNREADABLE,
    }
)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of one login test.

    `stage` is where the test ended (``precheck``, ``connect``, ``tls``, ``greeting``,
    ``capabilities``, ``starttls``, ``authenticate``, ``mailbox`` or ``done``).
    `mechanism` is the mechanism chosen, empty when the test ended before choosing.
    `server_text` quotes the server's reply that decided the outcome. `token_error`
    is the decoded JSON challenge an XOAUTH2 or OAUTHBEARER server sent for a
    rejected token. `plaintext` is true when credentials crossed the network
    unencrypted, which happens only when the caller allowed it.
    """

    server: str
    protocol: Protocol
    host: str
    port: int
    security: Security
    auth: AuthType
    user: str
    mechanism: str
    stage: str
    reason: LoginReason
    success: bool
    server_text: str = ""
    error: str = ""
    token_error: dict[str, str] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    mechanisms_offered: tuple[str, ...] = ()
    tls_version: str = ""
    plaintext: bool = False
    credentials_sent: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    transcript: tuple[TranscriptLine, ...] = ()

    def summary(self) -> str:
        """Return one sentence: what was tried and how it ended."""
        mode = {
            Security.IMPLICIT_TLS: "implicit TLS",
            Security.STARTTLS: "STARTTLS",
            Security.NONE: "plain text",
        }[self.security]
        how = f" with {self.mechanism}" if self.mechanism else ""
        outcome = "logged in" if self.success else f"failed at {self.stage}: {self.reason.value}"
        return (
            f"{self.protocol.value.upper()} {self.host}:{self.port} ({mode}) as {self.user}"
            f"{how}: {outcome}"
        )

    def to_row(self) -> dict[str, Any]:
        """Return the main fields as one flat table row."""
        return {
            "server": self.server,
            "protocol": self.protocol.value,
            "endpoint": f"{self.host}:{self.port}",
            "security": self.security.value,
            "user": self.user,
            "mechanism": self.mechanism,
            "success": self.success,
            "reason": self.reason.value,
            "stage": self.stage,
            "server_text": self.server_text,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        data = self.to_row()
        data.update(
            host=self.host,
            port=self.port,
            auth=self.auth.value,
            error=self.error,
            token_error=dict(self.token_error),
            capabilities=list(self.capabilities),
            mechanisms_offered=list(self.mechanisms_offered),
            tls_version=self.tls_version,
            plaintext=self.plaintext,
            credentials_sent=self.credentials_sent,
            timings=dict(self.timings),
            transcript=[f"{line.direction}: {line.text}" for line in self.transcript],
        )
        return data


@dataclass(frozen=True)
class AuthReply:
    """The server's final reply to a login command or a SASL exchange.

    `temporary` marks a failure the server calls temporary (IMAP ``[UNAVAILABLE]``,
    RFC 5530; SMTP 4xx, RFC 4954 section 6). `text` is the reply without the IMAP
    tag; SMTP reply lines are joined with newlines.
    """

    accepted: bool
    text: str
    temporary: bool = False
    token_error: dict[str, str] = field(default_factory=dict)
