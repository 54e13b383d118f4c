"""The TLS versions a server accepts, each probed on its own connection.

This runs only on request, because it costs one connection per version and mail
servers limit connections per client.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from toolkit.probe.core import probe
from toolkit.probe.results import Endpoint, Reason, Timeouts

# TLS 1.0 and 1.1 are deprecated by RFC 8996; 1.2 and 1.3 are current.
VERSIONS = (
    ssl.TLSVersion.TLSv1,
    ssl.TLSVersion.TLSv1_1,
    ssl.TLSVersion.TLSv1_2,
    ssl.TLSVersion.TLSv1_3,
)
DEPRECATED = {ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1}
NAMES = {
    ssl.TLSVersion.TLSv1: "TLS 1.0",
    ssl.TLSVersion.TLSv1_1: "TLS 1.1",
    ssl.TLSVersion.TLSv1_2: "TLS 1.2",
    ssl.TLSVersion.TLSv1_3: "TLS 1.3",
}
# Reasons that mean the handshake itself succeeded. What follows it does not matter here.
_HANDSHAKE_DONE = {
    Reason.OK,
    Reason.CERTIFICATE_EXPIRED,
    Reason.CERTIFICATE_NOT_YET_VALID,
    Reason.CERTIFICATE_HOSTNAME_MISMATCH,
    Reason.CERTIFICATE_UNTRUSTED,
}


@dataclass(frozen=True)
class VersionSupport:
    """Whether one TLS version was accepted, with the probe's reason."""

    version: str
    accepted: bool
    deprecated: bool
    reason: Reason


def tls_versions(endpoint: Endpoint, timeouts: Timeouts | None = None) -> list[VersionSupport]:
    """Probe the endpoint once per TLS version and report which versions it accepts."""
    support = []
    for version in VERSIONS:
        result = probe(endpoint, timeouts, tls_version=version)
        accepted = result.reason in _HANDSHAKE_DONE or bool(result.tls_version)
        support.append(
            VersionSupport(NAMES[version], accepted, version in DEPRECATED, result.reason)
        )
    return support
