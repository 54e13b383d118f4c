"""MX and SRV lookups through an injected dnspython resolver, each ending in a named outcome.

The resolver is a parameter everywhere, so that tests and workshops point it at a
local DNS server (`toolkit.discovery.testdns`) and nothing queries a public resolver.
Every lookup has a lifetime: a server that never answers ends as ``timeout`` after
that many seconds, and the lookups of one discovery run in parallel, so the whole
discovery waits at most about one lifetime.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.rdatatype
import dns.resolver

logger = logging.getLogger(__name__)

# Seconds each lookup may take, all retries included.
DEFAULT_DNS_TIMEOUT = 3.0
DNS_PORT = 53


class DnsOutcome(StrEnum):
    """The outcome of one lookup."""

    OK = "ok"
    NO_RECORDS = "no-records"
    NXDOMAIN = "nxdomain"
    TIMEOUT = "timeout"
    SERVER_FAILED = "server-failed"
    ERROR = "error"


@dataclass(frozen=True)
class MxRecord:
    """One MX record: the preference (lower is tried first) and the mail exchanger's name."""

    preference: int
    host: str

    def __str__(self) -> str:
        return f"MX {self.preference} {self.host}."


@dataclass(frozen=True)
class SrvRecord:
    """One SRV record (RFC 2782): priority, weight, port and target.

    A target of ``.`` means the service is not offered at this domain (RFC 6186
    section 3.4).
    """

    priority: int
    weight: int
    port: int
    target: str

    @property
    def offered(self) -> bool:
        """Whether the record names a server, rather than ``.`` for "not offered"."""
        return self.target != "."

    def __str__(self) -> str:
        target = "." if not self.offered else f"{self.target}."
        return f"SRV {self.priority} {self.weight} {self.port} {target}"


@dataclass(frozen=True)
class DnsLookup:
    """One query and its outcome: the records, or the resolver's error message."""

    name: str
    rdtype: str
    outcome: DnsOutcome
    records: tuple[MxRecord | SrvRecord, ...] = ()
    error: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Return the lookup as JSON-ready data."""
        return {
            "name": self.name,
            "type": self.rdtype,
            "outcome": self.outcome.value,
            "records": [str(record) for record in self.records],
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


def make_resolver(
    host: str, port: int = DNS_PORT, *, timeout: float = DEFAULT_DNS_TIMEOUT
) -> dns.resolver.Resolver:
    """Build a resolver that queries only the DNS server at `host` and `port`.

    It reads no system configuration (``configure=False``). Raises ValueError when
    `host` is not an IP address.
    """
    address = ipaddress.ip_address(host)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [str(address)]
    resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def system_resolver(timeout: float = DEFAULT_DNS_TIMEOUT) -> dns.resolver.Resolver:
    """Build a resolver from the system configuration (``/etc/resolv.conf`` on Linux)."""
    resolver = dns.resolver.Resolver()
    resolver.timeout = timeout
    resolver.lifetime = timeout
    return resolver


def describe_resolver(resolver: dns.resolver.Resolver) -> str:
    """Return the servers a resolver queries, as ``address:port`` text for messages."""
    servers = []
    for nameserver in resolver.nameservers:
        text = str(nameserver)
        port = resolver.nameserver_ports.get(text, resolver.port)
        servers.append(f"[{text}]:{port}" if ":" in text else f"{text}:{port}")
    return ", ".join(servers) or "(no DNS server configured)"


def lookup(
    resolver: dns.resolver.Resolver, name: str, rdtype: str, timeout: float
) -> DnsLookup:
    """Query the MX or SRV records of a name. A DNS failure becomes an outcome, not an exception."""
    started = time.monotonic()
    query_name = name if name.endswith(".") else name + "."
    try:
        answer = resolver.resolve(
            query_name, rdtype, lifetime=timeout, raise_on_no_answer=False, search=False
        )
    except dns.resolver.NXDOMAIN:
        return _failed(name, rdtype, DnsOutcome.NXDOMAIN, "the name does not exist", started)
    except dns.exception.Timeout as error:
        return _failed(name, rdtype, DnsOutcome.TIMEOUT, str(error), started)
    except dns.resolver.NoNameservers as error:
        return _failed(name, rdtype, DnsOutcome.SERVER_FAILED, str(error), started)
    except dns.exception.DNSException as error:
        return _failed(name, rdtype, DnsOutcome.ERROR, f"{type(error).__name__}: {error}", started)

    records: list[MxRecord | SrvRecord] = []
    if answer.rrset is not None:
        for rdata in answer.rrset:
            if rdata.rdtype == dns.rdatatype.MX:
                records.append(MxRecord(int(rdata.preference), _host(rdata.exchange)))
            elif rdata.rdtype == dns.rdatatype.SRV:
                records.append(
                    SrvRecord(
                        int(rdata.priority), int(rdata.weight), int(rdata.port),
                        _host(rdata.target),
                    )
                )
    outcome = DnsOutcome.OK if records else DnsOutcome.NO_RECORDS
    seconds = time.monotonic() - started
    logger.debug("%s %s: %s, %d records in %.3f s", name, rdtype, outcome, len(records), seconds)
    return DnsLookup(name, rdtype, outcome, tuple(records), "", seconds)


def lookup_all(
    resolver: dns.resolver.Resolver,
    queries: Sequence[tuple[str, str]],
    timeout: float = DEFAULT_DNS_TIMEOUT,
) -> list[DnsLookup]:
    """Run `(name, rdtype)` lookups in parallel and return them in the order given."""
    if not queries:
        return []
    with ThreadPoolExecutor(max_workers=len(queries), thread_name_prefix="maildiag-dns") as pool:
        futures = [pool.submit(lookup, resolver, name, rdtype, timeout) for name, rdtype in queries]
        return [future.result() for future in futures]


def _host(name: object) -> str:
    """Return a DNS name as lower-case text without the final dot, or ``.`` for the root."""
    text = str(name).lower()
    return "." if text == "." else text.rstrip(".")


def _failed(
    name: str, rdtype: str, outcome: DnsOutcome, error: str, started: float
) -> DnsLookup:
    seconds = time.monotonic() - started
    logger.info("%s %s: %s after %.3f s (%s)", name, rdtype, outcome, seconds, error)
    return DnsLookup(name, rdtype, outcome, (), error, seconds)
