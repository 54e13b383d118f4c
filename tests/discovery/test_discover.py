"""Discovery against the local DNS server: provider files, MX, SRV, and what fails."""

from __future__ import annotations

import json
import time

import pytest

from toolkit.discovery import Confidence, DnsOutcome, discover, parse_address
from toolkit.discovery.table import lookups_frame, proposals_frame
from toolkit.discovery.testdns import LocalDnsServer, SilentDnsServer
from toolkit.settings import AuthType, Protocol, SettingsError


def test_gmail_needs_no_dns(silent_dns: SilentDnsServer) -> None:
    started = time.monotonic()

    result = discover("support@gmail.com", resolver=silent_dns.resolver(5), timeout=5)

    assert time.monotonic() - started < 1
    assert silent_dns.query_count == 0
    assert result.lookups == ()
    imap = result.best(Protocol.IMAP)
    smtp = result.best(Protocol.SMTP)
    assert imap is not None
    assert smtp is not None
    assert (imap.settings.host, imap.settings.port, imap.settings.tls) == (
        "imap.gmail.com", 993, True,
    )
    assert (smtp.settings.host, smtp.settings.port, smtp.settings.tls) == (
        "smtp.gmail.com", 587, False,
    )
    assert imap.settings.auth is AuthType.BASIC
    assert imap.settings.user == "support@gmail.com"
    assert imap.confidence is Confidence.HIGH
    assert imap.source == (
        "ISPDB file googlemail.com.xml (domain gmail.com): imap.gmail.com:993"
    )
    assert any("lists OAuth2 and password-cleartext" in note for note in imap.notes)
    assert any("supports only basic for Gmail" in note for note in imap.notes)


def test_gmail_without_resolver_builds_none() -> None:
    # The autouse fixture fails the test if the system resolver is built.
    result = discover("someone@googlemail.com", storage_folder="Support")

    assert [s.host for s in result.best_settings()] == ["imap.gmail.com", "smtp.gmail.com"]
    assert not result.has_errors()


def test_gmail_alternative_port_is_checked() -> None:
    result = discover("support@gmail.com")

    smtp = [p for p in result.proposals if p.protocol is Protocol.SMTP]
    assert [(p.settings.port, p.confidence) for p in smtp] == [
        (587, Confidence.HIGH), (465, Confidence.MEDIUM),
    ]
    assert [f.id for f in smtp[0].findings] == []
    assert [f.id for f in smtp[1].findings] == ["not-recommended-port"]


def test_outlook_follows_product_tick() -> None:
    result = discover("someone@outlook.com", storage_folder="Support")

    imap = result.best(Protocol.IMAP)
    smtp = result.best(Protocol.SMTP)
    assert imap is not None
    assert smtp is not None
    assert imap.settings.host == "outlook.office365.com"
    assert imap.settings.auth is AuthType.OAUTH2
    assert (smtp.settings.host, smtp.settings.port, smtp.settings.tls) == (
        "smtp.office365.com", 587, True,
    )
    assert any("gives socketType STARTTLS" in note for note in smtp.notes)
    assert any("The proposal follows the product" in note for note in smtp.notes)
    assert [f.id for f in smtp.findings] == ["tls-tick-port-mismatch"]
    assert not result.has_errors()


def test_office365_maps_password_to_oauth2() -> None:
    result = discover("admin@contoso.onmicrosoft.com")

    imap = result.best(Protocol.IMAP)
    assert imap is not None
    assert imap.settings.auth is AuthType.OAUTH2
    assert "domain onmicrosoft.com, the parent domain of contoso.onmicrosoft.com" in imap.source
    assert any(
        "lists password-cleartext, but the product supports only oauth2" in note
        for note in imap.notes
    )


def test_mx_at_google_proposes_gmail(local_dns: LocalDnsServer) -> None:
    result = discover("help@contoso-workspace.test", resolver=local_dns.resolver())

    imap = result.best(Protocol.IMAP)
    smtp = result.best(Protocol.SMTP)
    assert imap is not None
    assert smtp is not None
    assert imap.settings.host == "imap.gmail.com"
    assert smtp.settings.host == "smtp.gmail.com"
    assert imap.settings.user == "help@contoso-workspace.test"
    assert imap.confidence is Confidence.MEDIUM
    assert imap.source.startswith(
        "MX record contoso-workspace.test. MX 1 aspmx.l.google.com. "
        "(under google.com, so Google Workspace) -> ISPDB file googlemail.com.xml"
    )
    assert "arrives at Google Workspace" in imap.notes[0]
    mx = result.lookups[0]
    assert (mx.name, mx.rdtype, mx.outcome) == ("contoso-workspace.test", "MX", DnsOutcome.OK)
    assert result.dns_server == local_dns.address


def test_mx_at_microsoft_proposes_m365(local_dns: LocalDnsServer) -> None:
    result = discover("help@fabrikam-m365.test", resolver=local_dns.resolver())

    imap = result.best(Protocol.IMAP)
    assert imap is not None
    assert imap.settings.host == "outlook.office365.com"
    assert imap.settings.auth is AuthType.OAUTH2
    assert "so Microsoft 365" in imap.source


def test_srv_records_propose_settings(local_dns: LocalDnsServer) -> None:
    result = discover(
        "help@northwind.test", resolver=local_dns.resolver(), storage_folder="Support"
    )

    imap = result.best(Protocol.IMAP)
    smtp = result.best(Protocol.SMTP)
    assert imap is not None
    assert smtp is not None
    assert (imap.settings.host, imap.settings.port, imap.settings.tls) == (
        "mail.northwind.test", 993, True,
    )
    assert (smtp.settings.host, smtp.settings.port, smtp.settings.tls) == (
        "smtp.northwind.test", 587, False,
    )
    assert imap.source == "SRV record _imaps._tcp.northwind.test. SRV 0 1 993 mail.northwind.test."
    assert imap.confidence is Confidence.HIGH
    (finding,) = result.findings
    assert finding.id == "service-not-offered"
    assert finding.severity.value == "info"
    assert "_imap._tcp.northwind.test." in finding.message
    assert not result.has_errors()


def test_srv_overrides_mx_guess(local_dns: LocalDnsServer) -> None:
    result = discover("help@srv-override.test", resolver=local_dns.resolver())

    smtp = [p for p in result.proposals if p.protocol is Protocol.SMTP]
    assert smtp[0].settings.host == "smtp.srv-override.test"
    assert smtp[0].confidence is Confidence.HIGH
    assert [p.settings.host for p in smtp[1:]] == ["smtp.gmail.com", "smtp.gmail.com"]
    assert {p.confidence for p in smtp[1:]} == {Confidence.LOW}
    imap = result.best(Protocol.IMAP)
    assert imap is not None
    assert imap.settings.host == "imap.gmail.com"
    assert imap.confidence is Confidence.MEDIUM


def test_srv_priority_and_weight_order(local_dns: LocalDnsServer) -> None:
    result = discover("help@priorities.test", resolver=local_dns.resolver())

    imap = [(p.settings.host, p.settings.port, p.settings.tls)
            for p in result.proposals if p.protocol is Protocol.IMAP]
    assert imap == [
        ("imap-first.priorities.test", 143, False),
        ("imap-heavy.priorities.test", 993, True),
        ("imap-light.priorities.test", 993, True),
        ("imap-late.priorities.test", 993, True),
    ]
    smtp = [p.settings.host for p in result.proposals if p.protocol is Protocol.SMTP]
    assert smtp == ["smtp-tls.priorities.test", "smtp-starttls.priorities.test"]


def test_dot_target_means_not_offered(local_dns: LocalDnsServer) -> None:
    result = discover("help@no-imap.test", resolver=local_dns.resolver())

    assert result.best(Protocol.IMAP) is None
    ids = [(f.id, f.field, f.severity.value) for f in result.findings]
    assert ("service-not-offered", "imap", "warning") in ids
    assert ("no-proposal", "imap", "error") in ids
    not_offered = next(f for f in result.findings if f.id == "service-not-offered")
    assert "The provider guessed from the MX record is left out." in not_offered.message
    smtp = result.best(Protocol.SMTP)
    assert smtp is not None
    assert smtp.settings.host == "smtp.gmail.com"


def test_port_465_under_submission(local_dns: LocalDnsServer) -> None:
    result = discover("help@port465.test", resolver=local_dns.resolver())

    smtp = result.best(Protocol.SMTP)
    assert smtp is not None
    assert (smtp.settings.port, smtp.settings.tls) == (465, True)
    assert any("so the TLS tick follows the port" in note for note in smtp.notes)


def test_invalid_srv_target(local_dns: LocalDnsServer) -> None:
    result = discover("help@badtarget.test", resolver=local_dns.resolver())

    invalid = next(f for f in result.findings if f.id == "srv-target-invalid")
    assert "bad_name.badtarget.test" in invalid.message
    assert result.best(Protocol.IMAP) is None


def test_srv_at_known_host_uses_its_auth(local_dns: LocalDnsServer) -> None:
    result = discover("help@o365-srv.test", resolver=local_dns.resolver())

    imap = result.best(Protocol.IMAP)
    assert imap is not None
    assert imap.settings.auth is AuthType.OAUTH2


def test_unknown_domain_gives_no_proposal(local_dns: LocalDnsServer) -> None:
    result = discover("help@blank.test", resolver=local_dns.resolver())

    assert result.proposals == ()
    assert result.best_settings() == []
    assert [(f.id, f.field) for f in result.findings] == [
        ("no-proposal", "imap"), ("no-proposal", "smtp"),
    ]
    imap = result.findings[0]
    assert imap.message == (
        "No IMAP settings can be proposed for blank.test: no provider file lists blank.test, "
        "DNS has no SRV record _imaps._tcp.blank.test or _imap._tcp.blank.test, and it has "
        "no MX record."
    )
    assert "enter them by hand" in imap.fix
    assert "_imaps._tcp.blank.test (RFC 6186)" in imap.fix
    assert result.has_errors()


@pytest.mark.parametrize(
    ("domain", "words"),
    [
        ("othermx.test", "its MX record points at mx.othermx.test, which is no provider"),
        ("nullmx.test", "its MX record has the target '.', so the domain receives no mail"),
    ],
)
def test_no_proposal_names_the_mx(local_dns: LocalDnsServer, domain: str, words: str) -> None:
    result = discover(f"help@{domain}", resolver=local_dns.resolver())

    assert [f.id for f in result.findings] == ["no-proposal", "no-proposal"]
    assert words in result.findings[0].message


def test_missing_domain_is_not_found(local_dns: LocalDnsServer) -> None:
    result = discover("help@missing.northwind.test", resolver=local_dns.resolver())

    assert [f.id for f in result.findings] == ["domain-not-found"]
    assert "Check the spelling" in result.findings[0].fix


def test_domain_outside_zones_fails(local_dns: LocalDnsServer) -> None:
    result = discover("help@elsewhere.test", resolver=local_dns.resolver())

    ids = [f.id for f in result.findings]
    assert ids == ["dns-failed", "no-proposal", "no-proposal"]
    assert "REFUSED" in result.findings[0].message


def test_dns_timeout_ends_in_time(silent_dns: SilentDnsServer) -> None:
    started = time.monotonic()

    result = discover("help@slow.test", resolver=silent_dns.resolver(1), timeout=1)

    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert silent_dns.query_count >= 5
    assert {item.outcome for item in result.lookups} == {DnsOutcome.TIMEOUT}
    timeout = result.findings[0]
    assert timeout.id == "dns-timeout"
    assert f"The DNS server {silent_dns.address} did not answer within 1 s" in timeout.message
    assert "--dns-server IP:PORT" in timeout.fix
    assert "DNS did not answer every query" in result.findings[1].message


def test_storage_folder_fills_imap_only(local_dns: LocalDnsServer) -> None:
    without = discover("help@northwind.test", resolver=local_dns.resolver())
    imap = without.best(Protocol.IMAP)
    assert imap is not None
    assert [f.id for f in imap.findings] == ["storage-folder-missing"]
    assert without.has_errors()

    with_folder = discover(
        "help@northwind.test", resolver=local_dns.resolver(), storage_folder="Support"
    )
    assert [s.storage_folder for s in with_folder.best_settings()] == ["Support", None]


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("support", "is not an email address"),
        ("support@", "is not an email address"),
        ("@example.com", "is not an email address"),
        ("a@b@example.com", "is not an email address"),
        ("sup port@example.com", "contains a space or control character"),
        ("a@exa mple.com", "has an invalid domain"),
        ("a@192.0.2.1", "has no domain name after the @"),
        ("a@example.com:25", "has no domain name after the @"),
    ],
)
def test_bad_address_raises(address: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_address(address)

    (error,) = raised.value.errors
    assert error.field == "address"
    assert problem in error.problem


def test_address_domain_is_normalized() -> None:
    assert parse_address(" Jo@Bücher.Example ") == (
        "Jo@xn--bcher-kva.example", "xn--bcher-kva.example",
    )


def test_result_as_json_and_tables(local_dns: LocalDnsServer) -> None:
    result = discover("help@srv-override.test", resolver=local_dns.resolver())

    data = json.loads(json.dumps(result.to_dict()))
    assert data["address"] == "help@srv-override.test"
    assert [p["best"] for p in data["proposals"]].count(True) == 2
    assert {lookup["type"] for lookup in data["lookups"]} == {"MX", "SRV"}
    frame = proposals_frame(result)
    assert frame["best"].sum() == 2
    assert list(frame[frame["best"]]["host"]) == ["imap.gmail.com", "smtp.srv-override.test"]
    assert len(lookups_frame(result)) == 5
