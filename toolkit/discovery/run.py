"""Propose IMAP and SMTP settings for an email address: provider files first, then DNS.

The order follows what mail clients do:

1. A provider file in ``data/autoconfig/`` (Thunderbird's ISPDB format) that lists
   the address's domain answers at once, with no DNS query.
2. Otherwise DNS, through the given resolver, with all lookups in parallel. The SRV
   records are those of RFC 6186 (``_imaps._tcp``, ``_imap._tcp``,
   ``_submission._tcp``) and ``_submissions._tcp`` from RFC 8314 section 5.1. The
   MX host may belong to a known provider: ``*.google.com`` for Google Workspace,
   ``*.mail.protection.outlook.com`` for Microsoft 365. SRV records come first,
   because the domain publishes them for clients, while MX only shows where mail
   arrives.

Every proposal then goes through `check_server`, and what could not be proposed
becomes a finding with the fix.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

import dns.resolver

from toolkit.discovery.dnsquery import (
    DEFAULT_DNS_TIMEOUT,
    DnsLookup,
    DnsOutcome,
    MxRecord,
    SrvRecord,
    describe_resolver,
    lookup_all,
    system_resolver,
)
from toolkit.discovery.ispdb import provider_for_domain, provider_for_mx_host
from toolkit.discovery.proposals import (
    Confidence,
    Entry,
    Proposal,
    ispdb_proposals,
    srv_proposals,
)
from toolkit.findings import Finding, Severity, has_errors, ranked
from toolkit.settings import FieldError, Protocol, ServerSettings, SettingsError, parse_host, shown

logger = logging.getLogger(__name__)

# Service labels per protocol, implicit TLS first: RFC 6186 sections 3.1 and 3.2,
# and RFC 8314 section 5.1 for _submissions.
SRV_LABELS = {
    Protocol.IMAP: ("_imaps._tcp", "_imap._tcp"),
    Protocol.SMTP: ("_submissions._tcp", "_submission._tcp"),
}

DISCOVERY_FINDING_IDS = (
    "no-proposal",
    "domain-not-found",
    "dns-timeout",
    "dns-failed",
    "service-not-offered",
    "srv-target-invalid",
)


@dataclass(frozen=True)
class Discovery:
    """The proposals for one address, the findings about the discovery, and the DNS lookups made.

    `proposals` contains the IMAP proposals, then the SMTP ones, each protocol's best
    first. `lookups` is empty when a provider file answered without DNS.
    """

    address: str
    domain: str
    proposals: tuple[Proposal, ...]
    findings: tuple[Finding, ...] = ()
    lookups: tuple[DnsLookup, ...] = ()
    dns_server: str = ""

    def best(self, protocol: Protocol) -> Proposal | None:
        """Return the proposal to use for a protocol, or None when there is none."""
        return next((p for p in self.proposals if p.protocol is protocol), None)

    def best_settings(self) -> list[ServerSettings]:
        """Return the best IMAP and SMTP entries, ready for a settings file."""
        return [p.settings for protocol in Protocol if (p := self.best(protocol)) is not None]

    def all_findings(self) -> list[Finding]:
        """Return the discovery's findings and those of the best proposals, errors first."""
        best = [p for protocol in Protocol if (p := self.best(protocol)) is not None]
        return ranked([*self.findings, *(f for p in best for f in p.findings)])

    def has_errors(self) -> bool:
        """Return whether the discovery or a best proposal has an error finding."""
        return has_errors(self.all_findings())

    def to_dict(self) -> dict[str, Any]:
        """Return the discovery as JSON-ready data, without any secret."""
        best = {id(p) for protocol in Protocol if (p := self.best(protocol)) is not None}
        return {
            "address": self.address,
            "domain": self.domain,
            "dns_server": self.dns_server,
            "proposals": [
                {**proposal.to_dict(), "best": id(proposal) in best}
                for proposal in self.proposals
            ],
            "findings": [finding.to_dict() for finding in self.findings],
            "lookups": [item.to_dict() for item in self.lookups],
        }


def parse_address(address: str) -> tuple[str, str]:
    """Return the address with its domain in IDNA form, and the domain.

    Raises `SettingsError` naming the ``address`` field for anything that is not
    ``local-part@domain``.
    """
    fix = "enter the full email address, such as support@example.com"
    text = address.strip() if isinstance(address, str) else ""
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local:
        raise SettingsError([FieldError("address", shown(address), "is not an email address", fix)])
    if any(character.isspace() or ord(character) < 32 for character in local):
        raise SettingsError(
            [FieldError("address", shown(address), "contains a space or control character", fix)]
        )
    try:
        parsed = parse_host(domain)
    except SettingsError as error:
        problems = "; ".join(e.problem for e in error.errors)
        raise SettingsError(
            [FieldError("address", shown(address), f"has an invalid domain ({problems})", fix)]
        ) from None
    if parsed.port is not None or _is_ip_address(parsed.host):
        raise SettingsError(
            [FieldError("address", shown(address), "has no domain name after the @", fix)]
        )
    return f"{local}@{parsed.host}", parsed.host


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def discover(
    address: str,
    *,
    resolver: dns.resolver.Resolver | None = None,
    timeout: float = DEFAULT_DNS_TIMEOUT,
    storage_folder: str | None = None,
) -> Discovery:
    """Propose settings for an address from the provider files, else from DNS.

    `resolver` is the DNS resolver to ask; without one, the system's resolver is
    built, and only when no provider file lists the domain. Each DNS lookup may
    take `timeout` seconds, and they run in parallel. `storage_folder` fills the
    IMAP proposals' storage folder, which no source can tell. Raises `SettingsError`
    for an address that cannot be used.
    """
    normalized, domain = parse_address(address)
    entry = Entry(normalized, storage_folder)

    match = provider_for_domain(domain)
    if match is not None:
        provider, listed = match
        logger.info("%s: provider file %s lists %s; no DNS needed", domain, provider.file, listed)
        parent = "" if listed == domain else f", the parent domain of {domain}"
        source = f"ISPDB file {provider.file} (domain {listed}{parent})"
        from_file = ispdb_proposals(provider, entry, source, Confidence.HIGH)
        return Discovery(normalized, domain, tuple(from_file), _missing(from_file, domain, ()))

    resolver = resolver if resolver is not None else system_resolver(timeout)
    server = describe_resolver(resolver)
    queries = [(domain, "MX")] + [
        (f"{label}.{domain}", "SRV") for labels in SRV_LABELS.values() for label in labels
    ]
    lookups = lookup_all(resolver, queries, timeout)
    findings = _dns_findings(lookups, domain, server, timeout)
    if any(f.id == "domain-not-found" for f in findings):
        return Discovery(normalized, domain, (), tuple(findings), tuple(lookups), server)

    mx_lookup = lookups[0]
    mx_proposals = _mx_proposals(mx_lookup, domain, entry)
    srv_by_label = {item.name.removesuffix(f".{domain}"): item for item in lookups[1:]}
    proposals: list[Proposal] = []
    for protocol, labels in SRV_LABELS.items():
        offered = [
            (label, record)
            for label in labels
            for record in srv_by_label[label].records
            if isinstance(record, SrvRecord) and record.offered
        ]
        refused = [
            label
            for label in labels
            if any(isinstance(r, SrvRecord) and not r.offered for r in srv_by_label[label].records)
        ]
        from_srv, srv_findings = srv_proposals(protocol, offered, domain, entry)
        findings += srv_findings
        from_mx = [p for p in mx_proposals if p.protocol is protocol]
        if refused:
            findings.append(_not_offered(protocol, refused, domain, bool(offered), bool(from_mx)))
            if not offered:
                from_mx = []
        if from_srv:
            # SRV records win, so a provider guessed from MX stays as a low-confidence alternative.
            from_mx = [_with_confidence(p, Confidence.LOW) for p in from_mx]
        proposals += from_srv + from_mx

    dns_failed = any(
        item.outcome in (DnsOutcome.TIMEOUT, DnsOutcome.SERVER_FAILED, DnsOutcome.ERROR)
        for item in lookups
    )
    mx_hosts = tuple(r.host for r in mx_lookup.records if isinstance(r, MxRecord))
    findings += _missing(proposals, domain, mx_hosts, dns_failed=dns_failed)
    return Discovery(normalized, domain, tuple(proposals), tuple(findings), tuple(lookups), server)


def _mx_proposals(mx_lookup: DnsLookup, domain: str, entry: Entry) -> list[Proposal]:
    """Propose entries from the most preferred MX host of a known provider, if any."""
    records = sorted(
        (r for r in mx_lookup.records if isinstance(r, MxRecord)), key=lambda r: r.preference
    )
    for record in records:
        match = provider_for_mx_host(record.host)
        if match is None:
            continue
        provider, matched = match
        label = provider.mx_label or provider.display_name
        source = (
            f"MX record {domain}. {record} (under {matched}, so {label}) "
            f"-> ISPDB file {provider.file}"
        )
        note = (
            f"The MX record only says that mail for {domain} arrives at {label}; the mailboxes "
            "are most likely there too. Confirm with the domain's administrator."
        )
        proposals = ispdb_proposals(provider, entry, source, Confidence.MEDIUM)
        return [
            Proposal(p.settings, p.source, p.confidence, (note, *p.notes), p.findings)
            for p in proposals
        ]
    return []


def _with_confidence(proposal: Proposal, confidence: Confidence) -> Proposal:
    return Proposal(
        proposal.settings, proposal.source, confidence, proposal.notes, proposal.findings
    )


def _dns_findings(
    lookups: list[DnsLookup], domain: str, server: str, timeout: float
) -> list[Finding]:
    findings: list[Finding] = []
    timed_out = [item for item in lookups if item.outcome is DnsOutcome.TIMEOUT]
    failed = [
        item for item in lookups if item.outcome in (DnsOutcome.SERVER_FAILED, DnsOutcome.ERROR)
    ]
    if timed_out:
        names = ", ".join(f"{item.name} {item.rdtype}" for item in timed_out)
        findings.append(
            Finding(
                "dns-timeout",
                Severity.ERROR,
                "dns",
                f"The DNS server {server} did not answer within {timeout:g} s ({names}).",
                "Check the DNS server's address and port (--dns-server IP:PORT) and that it "
                "answers, then run the discovery again.",
            )
        )
    if failed:
        names = ", ".join(f"{item.name} {item.rdtype}" for item in failed)
        findings.append(
            Finding(
                "dns-failed",
                Severity.ERROR,
                "dns",
                f"The DNS server {server} could not answer {len(failed)} queries for {domain} "
                f"({names}). The first error: {failed[0].error}.",
                "Check that this DNS server resolves the domain (a local test server answers "
                "only for its own zones), or use another with --dns-server IP:PORT.",
            )
        )
    if lookups and lookups[0].outcome is DnsOutcome.NXDOMAIN:
        findings.append(
            Finding(
                "domain-not-found",
                Severity.ERROR,
                "address",
                f"The domain {domain} does not exist in DNS (NXDOMAIN from {server}).",
                "Check the spelling of the address's domain.",
            )
        )
    return findings


def _not_offered(
    protocol: Protocol, labels: list[str], domain: str, other_offered: bool, had_mx: bool
) -> Finding:
    records = ", ".join(f"{label}.{domain}." for label in labels)
    words = protocol.value.upper()
    if other_offered:
        return Finding(
            "service-not-offered",
            Severity.INFO,
            protocol.value,
            f"The SRV records {records} have the target '.', so the domain does not offer "
            f"{words} that way (RFC 6186 section 3.4).",
            f"Nothing to change: the {words} proposal uses the service the domain does offer.",
        )
    dropped = " The provider guessed from the MX record is left out." if had_mx else ""
    return Finding(
        "service-not-offered",
        Severity.WARNING,
        protocol.value,
        f"The SRV records {records} have the target '.', so the domain states that it offers "
        f"no {words} service (RFC 6186 section 3.4).{dropped}",
        f"Ask the domain's administrator how clients reach the mailbox over {words}; the "
        "product needs an IMAP and an SMTP entry.",
    )


def _missing(
    proposals: list[Proposal],
    domain: str,
    mx_hosts: tuple[str, ...],
    *,
    dns_failed: bool = False,
) -> tuple[Finding, ...]:
    """Return a ``no-proposal`` finding for each protocol that has no proposal."""
    findings = []
    for protocol in Protocol:
        if any(p.protocol is protocol for p in proposals):
            continue
        words = protocol.value.upper()
        labels = " or ".join(f"{label}.{domain}" for label in SRV_LABELS[protocol])
        if dns_failed:
            why = "DNS did not answer every query, so the SRV and MX records are not known"
        else:
            named = [host for host in mx_hosts if host != "."]
            if named:
                mx = (
                    f"its MX record points at {', '.join(named)}, which is no provider the "
                    "toolkit knows"
                )
            elif mx_hosts:
                mx = "its MX record has the target '.', so the domain receives no mail"
            else:
                mx = "it has no MX record"
            why = f"no provider file lists {domain}, DNS has no SRV record {labels}, and {mx}"
        findings.append(
            Finding(
                "no-proposal",
                Severity.ERROR,
                protocol.value,
                f"No {words} settings can be proposed for {domain}: {why}.",
                f"Ask the mail provider or the domain's administrator for the {words} host, port "
                f"and TLS mode and enter them by hand, or have them publish an SRV record "
                f"{SRV_LABELS[protocol][0]}.{domain} (RFC 6186).",
            )
        )
    return tuple(findings)
