"""Verdicts in plain words from probe results: which TLS tick works on a port, and what to change.

Pure functions: they read `ProbeResult` objects and return findings and
sentences, with no network access. The probes that feed them are in
`toolkit.probe`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.findings import Finding, Severity
from toolkit.probe.results import ProbeResult, Reason
from toolkit.probe.versions import VersionSupport
from toolkit.settings import IMPLICIT_TLS_PORTS, STARTTLS_PORTS, Protocol, Security

# Reasons after which the session itself worked in that mode: only the certificate is wrong.
_CERTIFICATE_REASONS = {
    Reason.CERTIFICATE_EXPIRED,
    Reason.CERTIFICATE_NOT_YET_VALID,
    Reason.CERTIFICATE_HOSTNAME_MISMATCH,
    Reason.CERTIFICATE_UNTRUSTED,
}
# Reasons that concern the port whatever the mode, so one failed mode says enough.
_PORT_WIDE_REASONS = {
    Reason.DNS_FAILED,
    Reason.CONNECTION_REFUSED,
    Reason.CONNECT_TIMEOUT,
    Reason.CONNECTION_FAILED,
    Reason.SERVICE_UNAVAILABLE,
    Reason.WRONG_PROTOCOL,
}
# A certificate with fewer days left than this gets a warning.
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class PortVerdict:
    """The verdict for one port: what works, in words, with the change to make and the findings."""

    host: str
    port: int
    protocol: Protocol
    works_ticked: bool | None
    works_unticked: bool | None
    sentence: str
    change: str
    findings: tuple[Finding, ...] = field(default=())
    current_tick: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as JSON-ready data."""
        return {
            "host": self.host,
            "port": self.port,
            "protocol": self.protocol.value,
            "works_ticked": self.works_ticked,
            "works_unticked": self.works_unticked,
            "sentence": self.sentence,
            "change": self.change,
            "current_tick": self.current_tick,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def mode_works(result: ProbeResult | None) -> bool | None:
    """Return whether the session worked in the result's mode, apart from the certificate.

    Returns None when the mode was not probed.
    """
    if result is None:
        return None
    return result.reason is Reason.OK or result.reason in _CERTIFICATE_REASONS


def port_verdict(
    implicit: ProbeResult | None,
    starttls: ProbeResult | None,
    *,
    current_tick: bool | None = None,
    server: str = "",
) -> PortVerdict:
    """Combine the implicit-TLS and STARTTLS probes of one port into a verdict.

    `current_tick` is the entry's TLS tick, when known, so the verdict can say
    what to change. Either result may be None when that mode was not probed.
    """
    sample = implicit or starttls
    if sample is None:
        raise ValueError("port_verdict needs at least one probe result")
    endpoint = sample.endpoint
    port = endpoint.port
    ticked = mode_works(implicit)
    unticked = mode_works(starttls)

    if ticked and unticked:
        sentence = (
            f"Port {port} accepts both implicit TLS and STARTTLS, so either setting of "
            "the TLS tick works."
        )
        wanted = current_tick
    elif ticked:
        sentence = (
            f"Port {port} speaks implicit TLS: tick TLS, or untick it and use port "
            f"{STARTTLS_PORTS[endpoint.protocol]} (STARTTLS)."
        )
        wanted = True
    elif unticked:
        sentence = (
            f"Port {port} speaks STARTTLS: untick TLS, or keep it ticked and use port "
            f"{IMPLICIT_TLS_PORTS[endpoint.protocol]} (implicit TLS)."
        )
        wanted = False
    else:
        # The sentence and the finding come from the failures, below.
        sentence = ""
        wanted = None

    if wanted is None:
        change = ""
    elif current_tick is None:
        change = "Use TLS ticked (implicit TLS)." if wanted else "Use TLS unticked (STARTTLS)."
    elif wanted == current_tick:
        change = "No change: the current TLS tick is right for this port."
    else:
        change = "Tick TLS." if wanted else "Untick TLS."

    working = [r for r in (implicit, starttls) if r is not None and mode_works(r)]
    extra = _auth_after_starttls_sentence(starttls)
    if extra:
        sentence = f"{sentence} {extra}"
    certificate_sentence = _certificate_sentence(working)
    if certificate_sentence:
        sentence = f"{sentence} {certificate_sentence}"

    findings = [
        *security_findings([r for r in (implicit, starttls) if r is not None], server),
        *certificate_findings(working, server),
    ]
    if not working:
        probed = [r for r in (implicit, starttls) if r is not None]
        if len(probed) == 1 and probed[0].reason not in _PORT_WIDE_REASONS:
            finding_id = "tls-mode-fails"
            sentence, fix = _one_mode_fails(port, probed[0])
        else:
            finding_id = "port-unusable"
            sentence, fix = _nothing_works(port, implicit, starttls)
        findings.insert(0, Finding(finding_id, Severity.ERROR, "port", sentence, fix, server))
    elif current_tick is not None and wanted is not None and wanted != current_tick:
        findings.insert(
            0,
            Finding(
                "tls-tick-wrong-for-port",
                Severity.ERROR,
                "tls",
                f"{sentence} The entry has TLS {'ticked' if current_tick else 'unticked'}.",
                change,
                server,
            ),
        )
    return PortVerdict(
        endpoint.host,
        port,
        endpoint.protocol,
        ticked,
        unticked,
        sentence,
        change,
        tuple(findings),
        current_tick,
    )


def _nothing_works(
    port: int, implicit: ProbeResult | None, starttls: ProbeResult | None
) -> tuple[str, str]:
    """Return the sentence and the fix for a port where no probed mode worked."""
    results = [r for r in (implicit, starttls) if r is not None]
    reasons = {r.reason for r in results}
    if reasons == {Reason.CONNECTION_REFUSED}:
        return (
            f"Nothing listens on port {port}: the connection was refused.",
            "Check the port number with the provider or the server's administrator.",
        )
    if reasons <= {Reason.CONNECT_TIMEOUT}:
        return (
            f"Port {port} does not answer: a firewall may drop the connection, or the host "
            "is wrong.",
            "Check the host name and the port, and that no firewall blocks the port.",
        )
    if reasons <= {Reason.GREETING_TIMEOUT, Reason.TLS_HANDSHAKE_TIMEOUT, Reason.READ_TIMEOUT}:
        return (
            f"Port {port} accepts connections but sends nothing in either mode: the server "
            "is hung, or something between passes the connection and drops the data.",
            "Try again later, or ask the server's administrator.",
        )
    if Reason.DNS_FAILED in reasons:
        return (
            "The host name does not resolve.",
            "Check the host name for typing errors.",
        )
    if Reason.SERVICE_UNAVAILABLE in reasons:
        text = next(r.server_text for r in results if r.reason is Reason.SERVICE_UNAVAILABLE)
        return (
            f"The server on port {port} refused the session ({text!r}): it is busy or limits "
            "connections.",
            "Wait and try again, and close other clients of this account.",
        )
    if Reason.WRONG_PROTOCOL in reasons:
        result = next(r for r in results if r.reason is Reason.WRONG_PROTOCOL)
        return (
            f"Port {port} is the wrong service: {result.error}.",
            "Check that the entry's protocol and port belong together.",
        )
    if starttls is not None and starttls.reason is Reason.STARTTLS_NOT_OFFERED:
        return (
            f"Port {port} speaks plain text and offers no STARTTLS, so the login could not "
            "be protected.",
            "Use the provider's TLS port (993 for IMAP, 465 or 587 for SMTP).",
        )
    if Reason.TLS_VERSION_MISMATCH in reasons:
        return (
            f"The server on port {port} and this client share no TLS version: the server "
            "may offer only TLS 1.0 or 1.1, which current clients refuse.",
            "Ask the server's administrator to enable TLS 1.2 or newer.",
        )
    words = "; ".join(f"{r.endpoint.security.value}: {r.reason.value}" for r in results)
    return (
        f"Neither implicit TLS nor STARTTLS works on port {port} ({words}).",
        "Check the host and port with the provider or the server's administrator.",
    )


def _one_mode_fails(port: int, result: ProbeResult) -> tuple[str, str]:
    """Return the sentence and the fix when the only mode probed failed on its own account."""
    mode = "Implicit TLS" if result.endpoint.security is Security.IMPLICIT_TLS else "STARTTLS"
    if result.reason is Reason.TLS_ON_PLAIN_PORT:
        return (
            f"Implicit TLS fails on port {port}: the server greets in plain text, so the port "
            "most likely speaks STARTTLS.",
            "Untick TLS, and probe both modes to confirm.",
        )
    if result.reason is Reason.PLAIN_ON_TLS_PORT:
        return (
            f"STARTTLS fails on port {port}: {result.error}.",
            "Tick TLS, and probe both modes to confirm.",
        )
    if result.reason is Reason.STARTTLS_NOT_OFFERED:
        return (
            f"STARTTLS fails on port {port}: the server does not offer STARTTLS.",
            "Probe both modes: if implicit TLS works, tick TLS. Otherwise use the provider's "
            "TLS port.",
        )
    return (
        f"{mode} fails on port {port}: {result.reason.value} ({result.error}).",
        "Probe both modes to see which one the port speaks.",
    )


def _auth_after_starttls_sentence(starttls: ProbeResult | None) -> str:
    if starttls is None or not mode_works(starttls):
        return ""
    if (
        starttls.endpoint.protocol is Protocol.SMTP
        and not starttls.auth_before
        and starttls.auth_after
    ):
        return (
            f"The server lists no AUTH before STARTTLS and AUTH "
            f"{' '.join(starttls.auth_after)} after it: STARTTLS must come first (TLS "
            "unticked on this port), and this is not a password problem."
        )
    if starttls.endpoint.protocol is Protocol.IMAP and starttls.login_disabled_before:
        return (
            "The server disables login (LOGINDISABLED) until STARTTLS: with TLS unticked the "
            "product upgrades first, so login works after the upgrade."
        )
    return ""


def _certificate_sentence(working: Sequence[ProbeResult]) -> str:
    for result in working:
        if result.reason in _CERTIFICATE_REASONS:
            return f"But clients will reject the certificate: {CERTIFICATE_WORDS[result.reason]}"
    return ""


CERTIFICATE_WORDS = {
    Reason.CERTIFICATE_EXPIRED: "it has expired. The server's administrator must renew it.",
    Reason.CERTIFICATE_NOT_YET_VALID: (
        "it is not valid yet. Check the clock of the server and of this machine."
    ),
    Reason.CERTIFICATE_HOSTNAME_MISMATCH: (
        "it was issued for another host name. Use a host name that the certificate lists."
    ),
    Reason.CERTIFICATE_UNTRUSTED: (
        "it does not chain to a trusted authority. If the server uses a private CA, give the "
        "CA file (ca_file in the settings, --ca-file on the command line)."
    ),
}


def certificate_findings(results: Sequence[ProbeResult], server: str = "") -> list[Finding]:
    """Return one finding per certificate problem, from results whose session worked."""
    findings: list[Finding] = []
    seen: set[Reason] = set()
    for result in results:
        certificate = result.certificate
        if result.reason in _CERTIFICATE_REASONS and result.reason not in seen:
            seen.add(result.reason)
            message = (
                f"The certificate of {result.endpoint.host}:{result.endpoint.port} "
                f"{_certificate_detail(result)}"
            )
            findings.append(
                Finding(
                    result.reason.value,
                    Severity.ERROR,
                    "certificate",
                    message,
                    CERTIFICATE_WORDS[result.reason].split(". ", 1)[-1],
                    server,
                )
            )
        if (
            certificate is not None
            and 0 <= certificate.days_left < EXPIRY_WARNING_DAYS
            and "certificate-expires-soon" not in {f.id for f in findings}
        ):
            findings.append(
                Finding(
                    "certificate-expires-soon",
                    Severity.WARNING,
                    "certificate",
                    f"The certificate of {result.endpoint.host} expires in {certificate.days_left} "
                    f"days, on {certificate.not_after:%Y-%m-%d}.",
                    "Ask the server's administrator to renew it before then.",
                    server,
                )
            )
    return findings


def _certificate_detail(result: ProbeResult) -> str:
    certificate = result.certificate
    if certificate is None:
        return "could not be read."
    if result.reason is Reason.CERTIFICATE_EXPIRED:
        return f"expired on {certificate.not_after:%Y-%m-%d}."
    if result.reason is Reason.CERTIFICATE_NOT_YET_VALID:
        return f"is valid only from {certificate.not_before:%Y-%m-%d}."
    if result.reason is Reason.CERTIFICATE_HOSTNAME_MISMATCH:
        names = ", ".join(certificate.san_dns + certificate.san_ip) or "no names"
        return f"lists {names}, not {result.endpoint.host}."
    detail = "self-signed" if certificate.self_signed else f"issued by {certificate.issuer}"
    if certificate.missing_intermediate:
        detail += ", and the server does not send the intermediate certificate"
    return f"is {detail} and does not verify against the {certificate.verified_against}."


def security_findings(results: Sequence[ProbeResult], server: str = "") -> list[Finding]:
    """Return findings about credentials that could travel in plain text."""
    findings: list[Finding] = []
    for result in results:
        if result.endpoint.security is not Security.STARTTLS or not result.capabilities_before:
            continue
        where = f"{result.endpoint.host}:{result.endpoint.port}"
        if result.plaintext_after_starttls:
            findings.append(
                Finding(
                    "plaintext-after-starttls",
                    Severity.WARNING,
                    "server",
                    f"{where} sent plain-text bytes after its STARTTLS go-ahead. The probe "
                    "discarded them, as RFC 3207 section 6 requires, because bytes injected at "
                    "this point are a known attack on mail clients.",
                    "Look for a proxy or firewall that tampers with STARTTLS, and report it to "
                    "the server's administrator.",
                    server,
                )
            )
        login_in_plain_text = bool(result.auth_before) or (
            result.endpoint.protocol is Protocol.IMAP and not result.login_disabled_before
        )
        if result.starttls_offered and login_in_plain_text:
            findings.append(
                Finding(
                    "starttls-not-required",
                    Severity.WARNING,
                    "server",
                    f"{where} offers STARTTLS but also accepts a login before it, so a client set "
                    "to plain text would send the password unencrypted.",
                    "Keep TLS ticked or STARTTLS in use on every client. The server's "
                    "administrator can require TLS before login.",
                    server,
                )
            )
        if result.auth_before:
            findings.append(
                Finding(
                    "auth-before-tls",
                    Severity.INFO,
                    "server",
                    f"{where} lists AUTH {' '.join(result.auth_before)} before TLS: credentials "
                    "could travel in plain text.",
                    "The product upgrades with STARTTLS before login; no change is needed in it.",
                    server,
                )
            )
        if result.endpoint.protocol is Protocol.IMAP and result.login_disabled_before is False:
            findings.append(
                Finding(
                    "no-logindisabled",
                    Severity.INFO,
                    "server",
                    f"{where} does not announce LOGINDISABLED before TLS (RFC 9051 section 6.2.3), "
                    "so it would accept a LOGIN in plain text.",
                    "The server's administrator can disable plain-text login.",
                    server,
                )
            )
    return findings


def version_findings(
    support: Sequence[VersionSupport], where: str, server: str = ""
) -> list[Finding]:
    """Return a warning when the server still accepts TLS 1.0 or 1.1 (deprecated by RFC 8996)."""
    old = [item.version for item in support if item.accepted and item.deprecated]
    if not old:
        return []
    return [
        Finding(
            "old-tls-accepted",
            Severity.WARNING,
            "server",
            f"{where} still accepts {' and '.join(old)}, which RFC 8996 deprecates.",
            "Ask the server's administrator to accept TLS 1.2 and 1.3 only.",
            server,
        )
    ]
