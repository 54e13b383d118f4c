"""Proposed server entries for an address, built from a provider file or from SRV records.

A `Proposal` is a `ServerSettings` entry with its source: the ISPDB file, the MX
record or the SRV record it came from. It also carries a confidence, the findings
of `check_server` for it, and notes where the product's own recommendation in
``data/providers.toml`` differs from the source. Building proposals does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from toolkit.checks import check_server
from toolkit.discovery.dnsquery import SrvRecord
from toolkit.discovery.ispdb import IspdbProvider, IspdbServer
from toolkit.findings import Finding, Severity
from toolkit.providers import Provider, port_conventions, providers
from toolkit.settings import AuthType, Protocol, Security, ServerSettings, build_settings

# ISPDB <authentication> values and the product's authentication type for each.
# password-cleartext and password-encrypted (CRAM-MD5) both mean a password: Basic.
ISPDB_AUTH = {
    "OAuth2": AuthType.OAUTH2,
    "password-cleartext": AuthType.BASIC,
    "password-encrypted": AuthType.BASIC,
    "plain": AuthType.BASIC,
}


class Confidence(StrEnum):
    """How far a proposal can be trusted before a probe or a login confirms it."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Proposal:
    """One proposed entry with its source, confidence, notes and the findings of the checks."""

    settings: ServerSettings
    source: str
    confidence: Confidence
    notes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()

    @property
    def protocol(self) -> Protocol:
        """The protocol of the proposed entry."""
        return self.settings.protocol

    def to_dict(self) -> dict[str, Any]:
        """Return the proposal as JSON-ready data, without any secret."""
        return {
            "settings": self.settings.to_dict(),
            "source": self.source,
            "confidence": self.confidence.value,
            "notes": list(self.notes),
            "findings": [finding.to_dict() for finding in self.findings],
        }


@dataclass(frozen=True)
class Entry:
    """The address and the storage folder that every proposal of one discovery shares."""

    address: str
    storage_folder: str | None = None

    @property
    def local_part(self) -> str:
        """The part of the address before the ``@``."""
        return self.address.rpartition("@")[0]

    def name(self, protocol: Protocol) -> str:
        """Return a short entry name such as ``support-imap``."""
        slug = re.sub(r"[^a-z0-9-]+", "-", self.local_part.lower()).strip("-")[:40] or "mail"
        return f"{slug}-{protocol.value}"


def checked(proposal: Proposal) -> Proposal:
    """Return the proposal with the findings of `check_server` for its entry."""
    return Proposal(
        proposal.settings,
        proposal.source,
        proposal.confidence,
        proposal.notes,
        tuple(check_server(proposal.settings)),
    )


def build_entry(
    entry: Entry,
    protocol: Protocol,
    host: str,
    port: int,
    tls: bool,
    auth: AuthType,
    user: str,
) -> ServerSettings:
    """Build a `ServerSettings` through `build_settings`, so every field is validated.

    Raises `SettingsError` for a host that is not a valid name, such as a bad SRV target.
    """
    raw: dict[str, Any] = {
        "name": entry.name(protocol),
        "protocol": protocol.value,
        "host": host,
        "port": port,
        "tls": tls,
        "auth": auth.value,
        "user": user,
    }
    if protocol is Protocol.IMAP and entry.storage_folder:
        raw["storage_folder"] = entry.storage_folder
    return build_settings(raw, source="discovery")


def ispdb_proposals(
    provider: IspdbProvider, entry: Entry, source: str, confidence: Confidence
) -> list[Proposal]:
    """Propose IMAP and SMTP entries from a provider file, mapped to the product's recommendation.

    The first proposal of each protocol is the one to use: the server that matches the
    product's recommended host and port, or else the file's first server. Other
    servers of the file follow as alternatives, one confidence level lower.
    """
    product = providers().get(provider.product_provider or "")
    proposals: list[Proposal] = []
    for protocol in Protocol:
        servers = [server for server in provider.servers_for(protocol) if server.tls is not None]
        if not servers:
            continue
        primary = _primary_server(servers, product, protocol)
        for server in [primary, *(other for other in servers if other is not primary)]:
            notes: list[str] = []
            tls = _tick(server, product, protocol, provider, notes)
            auth = _auth(server, product, provider, notes)
            settings = build_entry(
                entry, protocol, server.host, server.port, tls, auth, server.user_for(entry.address)
            )
            level = confidence if server is primary else _lower(confidence)
            proposals.append(
                checked(Proposal(settings, f"{source}: {server.host}:{server.port}", level,
                                 tuple(notes)))
            )
    return proposals


def _primary_server(
    servers: Sequence[IspdbServer], product: Provider | None, protocol: Protocol
) -> IspdbServer:
    recommendation = product.recommended.get(protocol) if product else None
    if recommendation is not None:
        for server in servers:
            if (server.host, server.port) == (recommendation.host, recommendation.port):
                return server
    return servers[0]


def _tick(
    server: IspdbServer,
    product: Provider | None,
    protocol: Protocol,
    provider: IspdbProvider,
    notes: list[str],
) -> bool:
    """Return the TLS tick: the product's for its recommended host and port, else the file's."""
    assert server.tls is not None
    recommendation = product.recommended.get(protocol) if product else None
    if (
        product is None
        or recommendation is None
        or (recommendation.host, recommendation.port) != (server.host, server.port)
        or recommendation.tls == server.tls
    ):
        return server.tls
    notes.append(
        f"The product's {product.label} recommendation has TLS "
        f"{'ticked' if recommendation.tls else 'unticked'} for {server.host}:{server.port}, "
        f"but the ISPDB file {provider.file} gives socketType {server.socket_type}, which means "
        f"{_mode_words(server.tls)}. The proposal follows the product, so probe the port to see "
        f"which setting works. Source of the recommendation: {recommendation.source}."
    )
    return recommendation.tls


def _auth(
    server: IspdbServer, product: Provider | None, provider: IspdbProvider, notes: list[str]
) -> AuthType:
    """Return the authentication type: the first of the file's that the product supports."""
    offered = [ISPDB_AUTH[value] for value in server.authentication if value in ISPDB_AUTH]
    supported = product.auth if product is not None else tuple(AuthType)
    usable = [auth for auth in offered if auth in supported]
    listed = " and ".join(server.authentication) or "no authentication"
    if usable:
        unsupported = [auth for auth in dict.fromkeys(offered) if auth not in supported]
        if product is not None and unsupported:
            reason = f" {product.oauth2_note}." if AuthType.OAUTH2 in unsupported else ""
            notes.append(
                f"The ISPDB file {provider.file} lists {listed}. The proposal uses "
                f"{usable[0].value}, because the product supports only "
                f"{' or '.join(a.value for a in product.auth)} for {product.label}.{reason}"
            )
        return usable[0]
    chosen = supported[0] if product is not None else AuthType.BASIC
    if product is not None:
        notes.append(
            f"The ISPDB file {provider.file} lists {listed}, but the product supports only "
            f"{' or '.join(a.value for a in product.auth)} for {product.label}, so the proposal "
            f"uses {chosen.value}. Source: {product.auth_source}."
        )
    return chosen


def srv_proposals(
    protocol: Protocol,
    candidates: Sequence[tuple[str, SrvRecord]],
    domain: str,
    entry: Entry,
) -> tuple[list[Proposal], list[Finding]]:
    """Propose entries of one protocol from SRV records, best first.

    `candidates` pairs each offered record with its service label, such as
    ``_imaps._tcp``. Order: lowest priority first (RFC 2782), then highest weight,
    then implicit TLS before STARTTLS, so that a tie never picks the plain-text start.
    NOTE: RFC 2782 picks among equal priorities at random by weight. A proposal
    needs one stable result, so the highest weight wins here.
    """
    ordered = sorted(
        candidates,
        key=lambda item: (item[1].priority, -item[1].weight, not _label_tls(item[0])),
    )
    proposals: list[Proposal] = []
    findings: list[Finding] = []
    for label, record in ordered:
        name = f"{label}.{domain}."
        notes: list[str] = []
        tls = _srv_tick(protocol, label, record.port, notes)
        host_provider = _provider_by_host(record.target)
        auth = host_provider.auth[0] if host_provider else AuthType.BASIC
        if host_provider is None:
            notes.append(
                "SRV records publish no authentication type: Basic (a password) is assumed, "
                "and the full address as the user name."
            )
        try:
            settings = build_entry(
                entry, protocol, record.target, record.port, tls, auth, entry.address
            )
        except ValueError as error:
            findings.append(
                Finding(
                    "srv-target-invalid",
                    Severity.WARNING,
                    "host",
                    f"The SRV record {name} {record} cannot become a server entry ({error}).",
                    "Ask the domain's administrator to correct the SRV record.",
                )
            )
            continue
        confidence = Confidence.HIGH if not proposals else Confidence.MEDIUM
        proposals.append(
            checked(Proposal(settings, f"SRV record {name} {record}", confidence, tuple(notes)))
        )
    return proposals, findings


def _label_tls(label: str) -> bool:
    # RFC 6186 section 3.2: _imaps is IMAP over implicit TLS; RFC 8314 section 5.1
    # adds _submissions for submission over implicit TLS.
    return label in ("_imaps._tcp", "_submissions._tcp")


def _srv_tick(protocol: Protocol, label: str, port: int, notes: list[str]) -> bool:
    """Return the TLS tick for an SRV record: from the port where it is standard, else the label."""
    label_tls = _label_tls(label)
    convention = port_conventions().get((protocol, port))
    if convention is None or convention.relay_only:
        return label_tls
    port_tls = convention.security is Security.IMPLICIT_TLS
    if port_tls != label_tls:
        notes.append(
            f"{label} points at port {port}, which speaks {_mode_words(port_tls)} "
            f"({convention.source}), so the TLS tick follows the port."
        )
    return port_tls


def _provider_by_host(host: str) -> Provider | None:
    for provider in providers().values():
        if host in provider.hosts:
            return provider
    return None


def _lower(confidence: Confidence) -> Confidence:
    return Confidence.MEDIUM if confidence is Confidence.HIGH else Confidence.LOW


def _mode_words(tls: bool) -> str:
    return "implicit TLS, TLS ticked" if tls else "STARTTLS, TLS unticked"
