"""The local DNS server that tests and workshops use: answers, NXDOMAIN, REFUSED, TCP."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from toolkit.discovery.dnsquery import DnsOutcome, MxRecord, SrvRecord, lookup
from toolkit.discovery.testdns import LocalDnsServer, SilentDnsServer, zone_text


def ask(
    server: LocalDnsServer, name: str, rdtype: str, *, tcp: bool = False
) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=server.port, timeout=2)


def test_answers_with_authority(local_dns: LocalDnsServer) -> None:
    reply = ask(local_dns, "northwind.test.", "MX")

    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert [rrset.to_text() for rrset in reply.answer] == [
        "northwind.test. 300 IN MX 10 mx.northwind.test."
    ]


def test_tcp_gives_same_answer(local_dns: LocalDnsServer) -> None:
    reply = ask(local_dns, "_imaps._tcp.northwind.test.", "SRV", tcp=True)

    assert [rrset.to_text() for rrset in reply.answer] == [
        "_imaps._tcp.northwind.test. 300 IN SRV 0 1 993 mail.northwind.test."
    ]


@pytest.mark.parametrize(
    ("name", "rcode", "soa"),
    [
        ("blank.test.", dns.rcode.NOERROR, True),
        ("_tcp.northwind.test.", dns.rcode.NOERROR, True),
        ("nothing.northwind.test.", dns.rcode.NXDOMAIN, True),
        ("example.org.", dns.rcode.REFUSED, False),
    ],
)
def test_no_data_answers(local_dns: LocalDnsServer, name: str, rcode: int, soa: bool) -> None:
    reply = ask(local_dns, name, "MX")

    assert reply.rcode() == rcode
    assert reply.answer == []
    assert bool(reply.authority) is soa


def test_lookup_parses_records(local_dns: LocalDnsServer) -> None:
    resolver = local_dns.resolver()

    mx = lookup(resolver, "contoso-workspace.test", "MX", 2)
    srv = lookup(resolver, "_imap._tcp.northwind.test", "SRV", 2)

    # An RRset has no order, so compare the records as a set.
    assert set(mx.records) == {
        MxRecord(1, "aspmx.l.google.com"), MxRecord(5, "alt1.aspmx.l.google.com"),
    }
    assert srv.records == (SrvRecord(0, 0, 0, "."),)
    assert not srv.records[0].offered
    assert str(srv.records[0]) == "SRV 0 0 0 ."


def test_server_counts_queries() -> None:
    zones = {"count.test": zone_text("count.test", ["@ MX 1 mx.count.test."])}
    with LocalDnsServer(zones) as server:
        before = server.query_count
        result = lookup(server.resolver(), "count.test", "MX", 2)

        assert result.outcome is DnsOutcome.OK
        assert server.query_count == before + 1
        assert server.origins == ["count.test"]


def test_silent_server_times_out(silent_dns: SilentDnsServer) -> None:
    result = lookup(silent_dns.resolver(0.5), "x.test", "MX", 0.5)

    assert result.outcome is DnsOutcome.TIMEOUT
    assert result.seconds < 1.5
    assert silent_dns.query_count >= 1
