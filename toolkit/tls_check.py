"""Probe one server entry's port in both TLS modes and turn the two results into a verdict.

This is the step the notebooks, the command line and triage share: two
connections to the entry's port, one per mode, then `toolkit.verdicts`.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.probe.matrix import probe_many
from toolkit.probe.results import Endpoint, ProbeResult, Timeouts
from toolkit.settings import Security, ServerSettings
from toolkit.verdicts import PortVerdict, port_verdict


@dataclass(frozen=True)
class TlsCheck:
    """The verdict for an entry's port, with the two probe results behind it."""

    verdict: PortVerdict
    implicit: ProbeResult
    starttls: ProbeResult


def check_entry_tls(settings: ServerSettings, timeouts: Timeouts | None = None) -> TlsCheck:
    """Probe the entry's host and port with implicit TLS and with STARTTLS, at once.

    The verdict compares what works with the entry's TLS tick. It opens exactly
    two connections and sends no credentials.
    """
    ca_file = str(settings.ca_file) if settings.ca_file else None
    implicit, starttls = probe_many(
        [
            Endpoint(
                settings.host, settings.port, settings.protocol, Security.IMPLICIT_TLS, ca_file
            ),
            Endpoint(settings.host, settings.port, settings.protocol, Security.STARTTLS, ca_file),
        ],
        timeouts,
    )
    verdict = port_verdict(implicit, starttls, current_tick=settings.tls, server=settings.name)
    return TlsCheck(verdict, implicit, starttls)
