"""Checks of server entries against port conventions and provider recommendations.

These checks read only the settings and the shipped provider data: no network,
no file access. They catch what is wrong before any connection is made, such
as a TLS tick that does not match the port. Each returns `Finding` objects with
stable ids (listed in `FINDING_IDS`).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from toolkit.findings import Finding, Severity
from toolkit.providers import (
    Provider,
    Recommendation,
    identify_provider,
    port_conventions,
    providers,
)
from toolkit.settings import AuthType, Protocol, Security, ServerSettings

FINDING_IDS = (
    "tls-tick-port-mismatch",
    "port-protocol-mismatch",
    "relay-port",
    "non-standard-port",
    "unknown-provider",
    "auth-not-supported-by-provider",
    "not-recommended-host",
    "not-recommended-port",
    "storage-folder-missing",
    "storage-folder-nested",
    "storage-folder-ignored",
    "app-password-format",
    "user-not-address",
    "duplicate-name",
    "imap-without-smtp-same-user",
)

# A practical address shape: one '@', a local part, and a domain with a dot.
# Full RFC 5322 syntax is wider, but logins that need an address use this form.
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
# Hierarchy delimiters used by common servers: '/' (Dovecot, Gmail, Exchange) and '.' (Courier).
_DELIMITERS = ("/", ".")


def check_server(settings: ServerSettings) -> list[Finding]:
    """Check one entry and return its findings, in the order the fields appear in the form."""
    provider = identify_provider(settings)
    findings: list[Finding] = []
    if settings.provider is not None and provider is None:
        known = ", ".join(sorted(providers()))
        findings.append(
            _finding(
                settings,
                "unknown-provider",
                Severity.WARNING,
                "provider",
                f"The provider {settings.provider!r} is not one the toolkit knows, so its "
                "recommendations cannot be checked.",
                f"Use one of {known}, or leave provider out for a custom server.",
            )
        )
    findings += _check_port(settings, provider)
    if provider is not None:
        findings += _check_provider(settings, provider)
    findings += _check_storage_folder(settings)
    return findings


def check_file(servers: Sequence[ServerSettings]) -> list[Finding]:
    """Check every entry of a settings file, then the file as a whole."""
    findings: list[Finding] = []
    for server in servers:
        findings += check_server(server)

    counts = Counter(server.name for server in servers)
    for name, count in counts.items():
        if count > 1:
            findings.append(
                Finding(
                    "duplicate-name",
                    Severity.ERROR,
                    "name",
                    f"The short name {name!r} is used by {count} entries, so the product and the "
                    "reports cannot tell them apart.",
                    "Give each entry its own short name.",
                    name,
                )
            )

    smtp_users = {server.user.casefold() for server in servers if server.protocol is Protocol.SMTP}
    for server in servers:
        if server.protocol is Protocol.IMAP and server.user.casefold() not in smtp_users:
            findings.append(
                _finding(
                    server,
                    "imap-without-smtp-same-user",
                    Severity.INFO,
                    "user",
                    f"No SMTP entry logs in as {server.user}, so replies to mail fetched by "
                    f"{server.name} are sent through another account, and customers may see "
                    "another From address.",
                    f"Add an SMTP entry for {server.user} if replies must come from that address, "
                    "or see what customers will see with maildiag from-table.",
                )
            )
    return findings


def _finding(
    settings: ServerSettings,
    finding_id: str,
    severity: Severity,
    field: str,
    message: str,
    fix: str,
) -> Finding:
    return Finding(finding_id, severity, field, message, fix, settings.name)


def _mode_words(tls: bool) -> str:
    return "TLS ticked (implicit TLS)" if tls else "TLS unticked (STARTTLS)"


def _check_port(settings: ServerSettings, provider: Provider | None) -> list[Finding]:
    conventions = port_conventions()
    convention = conventions.get((settings.protocol, settings.port))
    if convention is None:
        other = Protocol.SMTP if settings.protocol is Protocol.IMAP else Protocol.IMAP
        if (other, settings.port) in conventions:
            return [
                _finding(
                    settings,
                    "port-protocol-mismatch",
                    Severity.ERROR,
                    "port",
                    f"Port {settings.port} is an {other.value.upper()} port, but this entry is "
                    f"{settings.protocol.value.upper()}.",
                    _standard_ports_fix(settings.protocol),
                )
            ]
        return [
            _finding(
                settings,
                "non-standard-port",
                Severity.INFO,
                "port",
                f"Port {settings.port} is not a standard {settings.protocol.value.upper()} "
                "port, so "
                "the TLS tick cannot be checked against it.",
                f"Ask the mail server's administrator which mode port {settings.port} speaks, or "
                f"test both: {_openssl_commands(settings)}.",
            )
        ]

    findings: list[Finding] = []
    if convention.relay_only:
        findings.append(
            _finding(
                settings,
                "relay-port",
                Severity.WARNING,
                "port",
                f"Port {settings.port} carries mail between servers ({convention.source}). Many "
                "providers and networks block or restrict client submission there.",
                "Use port 587 with TLS unticked (STARTTLS), or port 465 with TLS ticked.",
            )
        )

    port_is_implicit_tls = convention.security is Security.IMPLICIT_TLS
    if settings.tls == port_is_implicit_tls:
        return findings
    if port_is_implicit_tls:
        plain_port = 143 if settings.protocol is Protocol.IMAP else 587
        findings.append(
            _finding(
                settings,
                "tls-tick-port-mismatch",
                Severity.ERROR,
                "tls",
                f"Port {settings.port} speaks implicit TLS ({convention.source}): the server waits "
                "for a TLS handshake, but with TLS unticked the product starts in plain text and "
                "waits for a greeting that never comes, so the connection times out.",
                f"Tick TLS for port {settings.port}, or keep TLS unticked and use port "
                f"{plain_port}.",
            )
        )
        return findings

    tls_port = 993 if settings.protocol is Protocol.IMAP else 465
    how_to_find_out = (
        f"To find out what the server accepts, test both modes: {_openssl_commands(settings)}."
    )
    recommendation = provider.recommended.get(settings.protocol) if provider else None
    if (
        provider is not None
        and provider.product_ticks_tls_on_starttls_port
        and recommendation is not None
        and (recommendation.host, recommendation.port) == (settings.host, settings.port)
        and recommendation.tls
    ):
        findings.append(
            _finding(
                settings,
                "tls-tick-port-mismatch",
                Severity.WARNING,
                "tls",
                f"The product's {provider.label} recommendation ticks TLS on port {settings.port}, "
                f"but port {settings.port} speaks STARTTLS ({convention.source}): the session "
                "starts in plain text and is upgraded before login. A client that really starts "
                "with a TLS handshake there fails with 'wrong version number' or a timeout.",
                "Keep the recommended setting if sending works. If it fails at the handshake, "
                f"untick TLS for port {settings.port}. {how_to_find_out}",
            )
        )
        return findings
    findings.append(
        _finding(
            settings,
            "tls-tick-port-mismatch",
            Severity.ERROR,
            "tls",
            f"Port {settings.port} speaks STARTTLS ({convention.source}): the server greets in "
            "plain text, but with TLS ticked the product starts with a TLS handshake, which fails "
            "with 'wrong version number' or a timeout.",
            f"Untick TLS for port {settings.port} (STARTTLS), or keep TLS ticked and use port "
            f"{tls_port}. {how_to_find_out}",
        )
    )
    return findings


def _openssl_commands(settings: ServerSettings) -> str:
    # NOTE: these name openssl until the toolkit's own probe command exists.
    return (
        f"'openssl s_client -connect {settings.endpoint} -starttls {settings.protocol.value}' "
        f"succeeds on a STARTTLS port, 'openssl s_client -connect {settings.endpoint}' on an "
        "implicit-TLS port"
    )


def _standard_ports_fix(protocol: Protocol) -> str:
    if protocol is Protocol.IMAP:
        return "For IMAP use port 993 with TLS ticked, or port 143 with TLS unticked."
    return "For SMTP use port 587 with TLS unticked, or port 465 with TLS ticked."


def _check_provider(settings: ServerSettings, provider: Provider) -> list[Finding]:
    findings: list[Finding] = []
    if settings.auth not in provider.auth:
        supported = " or ".join(_auth_words(auth) for auth in provider.auth)
        if settings.auth is AuthType.OAUTH2 and provider.oauth2_note:
            findings.append(
                _finding(
                    settings,
                    "auth-not-supported-by-provider",
                    Severity.WARNING,
                    "auth",
                    f"{provider.oauth2_note}.",
                    f"Choose {supported} for {provider.label}.",
                )
            )
        else:
            findings.append(
                _finding(
                    settings,
                    "auth-not-supported-by-provider",
                    Severity.ERROR,
                    "auth",
                    f"{provider.label} supports {supported} only ({provider.auth_source}); "
                    f"{_auth_words(settings.auth)} is rejected at login.",
                    f"Choose {supported} for {provider.label}.",
                )
            )

    recommendation = provider.recommended.get(settings.protocol)
    # A loopback host is a local stand-in (a sandbox or a tunnel), so the provider's
    # host and port do not apply to it.
    if recommendation is not None and not _is_loopback(settings.host):
        findings += _check_recommendation(settings, provider, recommendation)

    if provider.user_is_address and not _ADDRESS.match(settings.user):
        findings.append(
            _finding(
                settings,
                "user-not-address",
                Severity.ERROR,
                "user",
                f"{provider.label} logs in with the full email address, but the user "
                f"{settings.user!r} is not an address.",
                "Enter the full address of the mailbox, such as support@example.com.",
            )
        )

    letters = provider.app_password_letters
    if letters and settings.auth is AuthType.BASIC and settings.password:
        compact = "".join(settings.password.reveal().split())
        if not (len(compact) == letters and compact.isascii() and compact.isalpha()):
            # The message must not reveal anything about the password beyond its shape.
            findings.append(
                _finding(
                    settings,
                    "app-password-format",
                    Severity.WARNING,
                    "password",
                    f"{provider.label} app passwords are {letters} letters, shown in groups of "
                    "four (spaces do not matter), and the password entered is not. An account "
                    f"password is rejected by {provider.label} with 'Application-specific "
                    "password required'.",
                    f"Create an app password in the {provider.label} account's security settings "
                    "(2-Step Verification must be on) and enter it here.",
                )
            )
    return findings


def _check_recommendation(
    settings: ServerSettings, provider: Provider, recommendation: Recommendation
) -> list[Finding]:
    findings: list[Finding] = []
    source = recommendation.source
    if settings.host != recommendation.host:
        other_hosts = {
            r.host
            for protocol, r in provider.recommended.items()
            if protocol is not settings.protocol
        }
        severity = Severity.ERROR if settings.host in other_hosts else Severity.WARNING
        reason = (
            f"{settings.host} is {provider.label}'s server for the other protocol"
            if severity is Severity.ERROR
            else f"{settings.host} is not the host {provider.label} recommends"
        )
        findings.append(
            _finding(
                settings,
                "not-recommended-host",
                severity,
                "host",
                f"{reason} for {settings.protocol.value.upper()} ({source}).",
                f"Use {recommendation.host}.",
            )
        )
    if settings.port != recommendation.port:
        mode = _mode_words(recommendation.tls)
        findings.append(
            _finding(
                settings,
                "not-recommended-port",
                Severity.WARNING,
                "port",
                f"{provider.label} recommends port {recommendation.port} for "
                f"{settings.protocol.value.upper()}, with {mode} ({source}).",
                f"Use port {recommendation.port} with {mode}.",
            )
        )
    return findings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auth_words(auth: AuthType) -> str:
    return "Basic (password or app password)" if auth is AuthType.BASIC else "OAuth2"


def _check_storage_folder(settings: ServerSettings) -> list[Finding]:
    folder = settings.storage_folder
    if settings.protocol is Protocol.SMTP:
        if folder:
            return [
                _finding(
                    settings,
                    "storage-folder-ignored",
                    Severity.INFO,
                    "storage_folder",
                    "A storage folder is set on an SMTP entry; only IMAP entries use one.",
                    "Leave the storage folder empty on SMTP entries.",
                )
            ]
        return []
    if not folder:
        return [
            _finding(
                settings,
                "storage-folder-missing",
                Severity.ERROR,
                "storage_folder",
                "This IMAP entry has no storage folder, so the product has nowhere to keep "
                "fetched mail.",
                "Enter the name of a top-level folder that exists in the mailbox, exactly as the "
                "server shows it, such as Support.",
            )
        ]
    upper = folder.upper()
    starts_with_inbox = upper.startswith("INBOX/") or upper.startswith("INBOX.")
    delimiters = [d for d in _DELIMITERS if d in folder]
    if starts_with_inbox or delimiters:
        shown_delimiters = " and ".join(repr(d) for d in delimiters)
        reason = (
            f"{folder!r} starts with INBOX and a hierarchy delimiter"
            if starts_with_inbox
            else f"{folder!r} contains {shown_delimiters}, a hierarchy delimiter on many servers"
        )
        return [
            _finding(
                settings,
                "storage-folder-nested",
                Severity.WARNING,
                "storage_folder",
                f"{reason}, so it may name a sub-folder, and the storage folder must be top-level. "
                "The server's own delimiter and namespace decide: on Courier-style servers every "
                "folder is under 'INBOX.', and a folder directly under it counts as top-level.",
                "Choose a top-level folder. To confirm, look up the server's delimiter and "
                "namespace in its folder list (IMAP LIST and NAMESPACE replies).",
            )
        ]
    return []


def describe_findings(findings: Iterable[Finding]) -> list[str]:
    """Return one line per finding, for logs and plain-text output."""
    return [
        f"{finding.severity.value}: {finding.server or '-'}: {finding.id}: {finding.message} "
        f"Fix: {finding.fix}"
        for finding in findings
    ]
