"""Findings from a login test: the named reason, the explanation of the server's reply, the token.

These are pure functions over a `LoginResult` and the entry's settings: they do
no I/O. The finding ids are stable; the reason ids of `LoginReason` become finding
ids as they are, except ``ok`` (``login-ok``), ``auth-rejected`` (``login-rejected``)
and ``auth-temporary-failure`` (``login-temporary-failure``).
"""

from __future__ import annotations

import dataclasses

from toolkit.explain import explain_findings
from toolkit.findings import Finding, Severity
from toolkit.login.results import LoginReason, LoginResult
from toolkit.oauth.claims import diagnose_token, expected_tenant
from toolkit.probe.results import Reason
from toolkit.providers import identify_provider
from toolkit.settings import AuthType, Protocol, ServerSettings
from toolkit.verdicts import CERTIFICATE_WORDS

_CERTIFICATE_REASONS = {
    LoginReason.CERTIFICATE_EXPIRED,
    LoginReason.CERTIFICATE_NOT_YET_VALID,
    LoginReason.CERTIFICATE_HOSTNAME_MISMATCH,
    LoginReason.CERTIFICATE_UNTRUSTED,
}
# The field and fix for reasons that need no more than a sentence.
_SIMPLE: dict[LoginReason, tuple[str, str]] = {
    LoginReason.DNS_FAILED: ("host", "Check the host name for typing errors."),
    LoginReason.CONNECTION_REFUSED: (
        "port",
        "Check the port: nothing listens there. `maildiag probe` tries the usual ports.",
    ),
    LoginReason.CONNECT_TIMEOUT: (
        "host",
        "Check that a firewall lets this machine reach the server on this port.",
    ),
    LoginReason.CONNECTION_FAILED: ("host", "Check the host, the port and the network."),
    LoginReason.GREETING_TIMEOUT: (
        "tls",
        "The server sent no greeting; if the port speaks implicit TLS, tick TLS. "
        "`maildiag probe` tells the modes apart.",
    ),
    LoginReason.READ_TIMEOUT: ("host", "The server stopped answering; try again later."),
    LoginReason.CONNECTION_CLOSED: ("host", "The server closed the connection; try again later."),
    LoginReason.SERVICE_UNAVAILABLE: (
        "host",
        "The server refused the session (busy or closed); try again later.",
    ),
    LoginReason.PROTOCOL_ERROR: (
        "protocol",
        "Check that the port belongs to this protocol; `maildiag probe` shows the greeting.",
    ),
    LoginReason.TLS_ON_PLAIN_PORT: (
        "tls",
        "The port speaks plain text first: untick TLS (STARTTLS), or use the implicit-TLS port.",
    ),
    LoginReason.TLS_HANDSHAKE_FAILED: (
        "tls",
        "Run `maildiag probe` on the port to see the TLS versions the server accepts.",
    ),
    LoginReason.TLS_HANDSHAKE_TIMEOUT: (
        "tls",
        "The port did not answer TLS: untick TLS if it speaks STARTTLS.",
    ),
    LoginReason.STARTTLS_REJECTED: ("tls", "Ask the server's administrator why STARTTLS fails."),
    LoginReason.MAILBOX_UNAVAILABLE: (
        "user",
        "Check the mailbox: the explanation below names the likely causes.",
    ),
}


def login_findings(result: LoginResult, server: ServerSettings | None = None) -> list[Finding]:
    """Return the findings of a login test: its reason, explanations, token checks, plain text.

    With `server`, an OAuth2 entry's token is decoded and checked against the
    protocol, the user and the tenant of the settings.
    """
    reason = _reason_finding(result, server)
    protocol = result.protocol.value
    texts = [result.server_text] if not result.success else []
    explained = explain_findings(texts, protocol=protocol, server=result.server)
    if reason.id == "login-rejected":
        # Point at the explanation when there is one. Otherwise keep the generic advice.
        fix = (
            f"Follow the fix of {explained[0].id} below, which explains this reply."
            if explained
            else reason.fix
        )
        reason = dataclasses.replace(reason, fix=fix)
    findings = [reason, *explained]
    if server is not None and server.auth is AuthType.OAUTH2 and server.token:
        findings += token_findings(server)
    if result.plaintext:
        findings.append(
            Finding(
                "plaintext-credentials",
                Severity.WARNING,
                "tls",
                f"The credentials of {result.user} crossed the network unencrypted, because "
                f"{result.host}:{result.port} offers no STARTTLS and plain text was allowed.",
                "Use a port with TLS, and change the password if the network was not trusted.",
                result.server,
            )
        )
    return findings


def token_findings(server: ServerSettings) -> list[Finding]:
    """Decode an OAuth2 entry's token and check it against the entry, without the network."""
    if server.token is None:
        return []
    provider = identify_provider(server)
    oauth = server.oauth
    diagnosis = diagnose_token(
        # The token is read here to decode its claims; it is not sent anywhere.
        server.token.reveal(),
        protocol=server.protocol,
        user=server.user,
        tenant=expected_tenant(oauth.authority, oauth.tenant) if oauth else None,
        provider=provider.key if provider else None,
        client_id=oauth.client_id if oauth else None,
        server=server.name,
    )
    return list(diagnosis.findings)


def _reason_finding(result: LoginResult, server: ServerSettings | None) -> Finding:
    reason = result.reason
    name = result.server
    if reason is LoginReason.OK:
        over = f" over {result.tls_version}" if result.tls_version else " in plain text"
        return Finding(
            "login-ok",
            Severity.INFO,
            "auth",
            f"Logged in to {result.host}:{result.port} as {result.user} with "
            f"{result.mechanism}{over}.",
            "Nothing to change.",
            name,
        )

    if reason is LoginReason.PASSWORD_MISSING:
        variable = server.password_env if server and server.password_env else "password_env"
        return Finding(
            "password-missing",
            Severity.ERROR,
            "password",
            f"There is no password: {result.error}.",
            f"Set the environment variable {variable}, or enter the password when asked.",
            name,
        )

    if reason is LoginReason.TOKEN_MISSING:
        variable = server.token_env if server and server.token_env else "token_env"
        return Finding(
            "token-missing",
            Severity.ERROR,
            "token",
            f"There is no access token: {result.error}.",
            f"Set the environment variable {variable}, or get a token with "
            "`maildiag login --device-code`.",
            name,
        )

    if reason is LoginReason.PASSWORD_NOT_ENCODABLE:
        return _not_encodable(result)

    if reason is LoginReason.CA_FILE_UNREADABLE:
        return Finding(
            "ca-file-unreadable",
            Severity.ERROR,
            "ca_file",
            f"{result.error}.",
            "Give the path of the PEM file of the server's certificate authority.",
            name,
        )

    if reason is LoginReason.PLAINTEXT_REFUSED:
        return Finding(
            "plaintext-refused",
            Severity.ERROR,
            "tls",
            f"{result.host}:{result.port} offers no STARTTLS, so the login test did not send the "
            "credentials: they would have crossed the network unencrypted.",
            "Tick TLS and use the implicit-TLS port (993 or 465), or ask the administrator to "
            "offer STARTTLS. To test anyway on a trusted network, allow plain text "
            "(--allow-plaintext).",
            name,
        )

    if reason is LoginReason.MECHANISM_NOT_OFFERED:
        return _not_offered(result)

    if reason in (LoginReason.AUTH_REJECTED, LoginReason.AUTH_TEMPORARY_FAILURE):
        return _rejected(result)

    if reason in _CERTIFICATE_REASONS:
        words = CERTIFICATE_WORDS[Reason(reason.value)]
        return Finding(
            reason.value,
            Severity.ERROR,
            "certificate",
            f"The login test did not send the credentials, because the certificate of "
            f"{result.host} was rejected: {result.error}.",
            words.split(". ", 1)[-1],
            name,
        )

    field, fix = _SIMPLE.get(reason, ("host", "Run `maildiag probe` on the port."))
    quoted = f" The server said: {result.server_text}" if result.server_text else ""
    return Finding(
        reason.value,
        Severity.ERROR,
        field,
        f"The login test stopped at {result.stage}: {result.error}.{quoted}",
        fix,
        name,
    )


def _not_encodable(result: LoginResult) -> Finding:
    if result.protocol is Protocol.IMAP:
        fix = (
            "Log in with AUTHENTICATE PLAIN, which carries UTF-8 (RFC 4616), where the server "
            "lists AUTH=PLAIN (`maildiag login --mechanism plain`; `maildiag probe` shows the "
            "mechanisms). Otherwise use a password of ASCII letters, digits and punctuation."
        )
    else:
        fix = (
            "Log in with AUTH PLAIN, which carries UTF-8 (RFC 4616), where the server offers it "
            "(`maildiag login --mechanism plain`). Otherwise use an ASCII password."
        )
    return Finding(
        "password-not-encodable",
        Severity.ERROR,
        "password",
        f"The login method cannot send this password: {result.error}. This is a limit of the "
        "client side, not a wrong password; nothing was sent to the server.",
        fix,
        result.server,
    )


def _not_offered(result: LoginResult) -> Finding:
    if result.auth is AuthType.OAUTH2:
        fix = 'This server takes no OAuth2 tokens on this port: use auth = "basic" for it.'
    elif "XOAUTH2" in result.mechanisms_offered:
        fix = 'The server takes OAuth2 tokens: switch the entry to auth = "oauth2".'
    else:
        fix = "Choose a mechanism the server lists (--mechanism), or ask its administrator."
    return Finding(
        "mechanism-not-offered", Severity.ERROR, "auth", f"{result.error}.", fix, result.server
    )


def _rejected(result: LoginResult) -> Finding:
    temporary = result.reason is LoginReason.AUTH_TEMPORARY_FAILURE
    detail = ""
    if result.token_error:
        pairs = ", ".join(f"{key} {value}" for key, value in result.token_error.items())
        detail = f" Its token error said: {pairs}."
    message = (
        f"The server rejected the {result.mechanism} login of {result.user}: "
        f"{result.server_text.rstrip('.') or '(no text)'}.{detail}"
    )
    if temporary:
        return Finding(
            "login-temporary-failure",
            Severity.WARNING,
            "auth",
            message,
            "The server calls the failure temporary: try again in a few minutes.",
            result.server,
        )
    what = "token" if result.auth is AuthType.OAUTH2 else "user name and password"
    return Finding(
        "login-rejected",
        Severity.ERROR,
        "auth",
        message,
        f"Check the {what}: the toolkit knows no explanation for this reply.",
        result.server,
    )
