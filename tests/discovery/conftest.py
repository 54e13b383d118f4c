"""Fixtures for the discovery tests: a local DNS server with the test zones.

Every test passes a resolver for a server on 127.0.0.1. An autouse fixture makes
building the system resolver fail, so no test can ask a real DNS server by mistake.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import toolkit.discovery.run
from toolkit.discovery.testdns import LocalDnsServer, SilentDnsServer, workshop_zones, zone_text

TEST_ZONES = {
    # MX at Google, and an SRV record for submission only: SRV wins for SMTP.
    "srv-override.test": zone_text(
        "srv-override.test",
        ["@ MX 1 aspmx.l.google.com.", "_submission._tcp SRV 0 1 587 smtp.srv-override.test."],
    ),
    # Priorities and weights across _imaps and _imap.
    "priorities.test": zone_text(
        "priorities.test",
        [
            "_imaps._tcp SRV 10 0 993 imap-late.priorities.test.",
            "_imaps._tcp SRV 5 10 993 imap-heavy.priorities.test.",
            "_imaps._tcp SRV 5 1 993 imap-light.priorities.test.",
            "_imap._tcp SRV 1 0 143 imap-first.priorities.test.",
            "_submissions._tcp SRV 0 0 465 smtp-tls.priorities.test.",
            "_submission._tcp SRV 0 0 587 smtp-starttls.priorities.test.",
        ],
    ),
    # The domain states that it offers no IMAP, though its MX is at Google.
    "no-imap.test": zone_text(
        "no-imap.test",
        ["@ MX 1 aspmx.l.google.com.", "_imaps._tcp SRV 0 0 0 .", "_imap._tcp SRV 0 0 0 ."],
    ),
    # Port 465 published under _submission: the port decides the tick.
    "port465.test": zone_text(
        "port465.test", ["_submission._tcp SRV 0 0 465 smtp.port465.test."]
    ),
    # A target that is no valid host name.
    "badtarget.test": zone_text(
        "badtarget.test", ["_imaps._tcp SRV 0 0 993 bad_name.badtarget.test."]
    ),
    # MX at a provider the toolkit does not know, and a null MX (target ".").
    "othermx.test": zone_text("othermx.test", ["@ MX 10 mx.othermx.test."]),
    "nullmx.test": zone_text("nullmx.test", ["@ MX 0 ."]),
    # SRV at a Microsoft 365 host: the provider's authentication applies.
    "o365-srv.test": zone_text(
        "o365-srv.test", ["_imaps._tcp SRV 0 0 993 outlook.office365.com."]
    ),
}


@pytest.fixture(autouse=True)
def _no_system_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that would build the system resolver."""

    def refuse(timeout: float = 0.0) -> None:
        raise AssertionError("a test asked for the system resolver; pass a local one")

    monkeypatch.setattr(toolkit.discovery.run, "system_resolver", refuse)


@pytest.fixture(scope="module")
def local_dns() -> Iterator[LocalDnsServer]:
    """A DNS server on 127.0.0.1 with the workshop zones and the test zones."""
    with LocalDnsServer({**workshop_zones(), **TEST_ZONES}) as server:
        yield server


@pytest.fixture
def silent_dns() -> Iterator[SilentDnsServer]:
    """A UDP port on 127.0.0.1 that never answers."""
    with SilentDnsServer() as server:
        yield server
