"""A small authoritative DNS server on 127.0.0.1, for workshops and tests only.

`LocalDnsServer` answers UDP and TCP queries for the zones it is given (master-file
text, parsed with dnspython's zone tools) and replies REFUSED for every other
name, so a discovery pointed at it never reaches a real resolver. `SilentDnsServer` reads
queries and never answers, to show how a DNS timeout ends. `workshop_zones`
returns the zones that notebook 06 and the tests serve: the host names in them
are data for the discovery and are never contacted.

Neither server is meant for production use: no caching, no recursion, no
zone transfers, and at most one question per query.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import struct
import threading
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import dns.zone

from toolkit.discovery.dnsquery import DEFAULT_DNS_TIMEOUT, make_resolver

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# The largest UDP reply for a query without EDNS (RFC 1035 section 4.2.1).
_UDP_PLAIN_LIMIT = 512
# Seconds a TCP client may stay idle before the server closes the connection.
_TCP_IDLE_SECONDS = 5.0
_BIND_ATTEMPTS = 5


def zone_text(origin: str, records: Iterable[str]) -> str:
    """Return master-file text for a zone: an SOA and NS record, then `records`.

    Each record is one line relative to the origin, such as ``"@ MX 1 aspmx.l.google.com."``
    or ``"_imaps._tcp SRV 0 1 993 mail"``.
    """
    name = origin.rstrip(".")
    lines = [
        f"$ORIGIN {name}.",
        "$TTL 300",
        f"@ SOA ns.{name}. hostmaster.{name}. 1 3600 600 86400 300",
        f"@ NS ns.{name}.",
        *records,
    ]
    return "\n".join(lines) + "\n"


def workshop_zones() -> dict[str, str]:
    """Return the zones of the workshop domains, by origin.

    - ``contoso-workspace.test``: MX at a Google-like host, so Google Workspace;
    - ``fabrikam-m365.test``: MX at ``*.mail.protection.outlook.com``, so Microsoft 365;
    - ``northwind.test``: SRV records (RFC 6186) for IMAP and submission, with
      ``_imap._tcp`` set to ``.`` (not offered);
    - ``blank.test``: no MX and no SRV records.
    """
    return {
        "contoso-workspace.test": zone_text(
            "contoso-workspace.test",
            ["@ MX 1 aspmx.l.google.com.", "@ MX 5 alt1.aspmx.l.google.com."],
        ),
        "fabrikam-m365.test": zone_text(
            "fabrikam-m365.test", ["@ MX 0 fabrikam-m365-test.mail.protection.outlook.com."]
        ),
        "northwind.test": zone_text(
            "northwind.test",
            [
                "@ MX 10 mx.northwind.test.",
                "_imaps._tcp SRV 0 1 993 mail.northwind.test.",
                "_imap._tcp SRV 0 0 0 .",
                "_submission._tcp SRV 0 1 587 smtp.northwind.test.",
            ],
        ),
        "blank.test": zone_text("blank.test", ["@ A 192.0.2.10"]),
    }


class _Authority:
    """The zones and the reply logic, shared by the UDP and TCP listeners."""

    def __init__(self, zones: Mapping[str, str]) -> None:
        self.zones = [
            dns.zone.from_text(text, origin=dns.name.from_text(origin), relativize=False)
            for origin, text in zones.items()
        ]
        self.query_count = 0
        self._lock = threading.Lock()

    def answer(self, wire: bytes, *, limit: int | None) -> bytes | None:
        """Return the reply to one query, or None for bytes that are not a DNS query."""
        with self._lock:
            self.query_count += 1
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException as error:
            logger.debug("dropped a query that is not DNS: %s", error)
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
        else:
            self._fill(response, query.question[0].name, query.question[0].rdtype)
        max_size = 65535
        if limit is not None:
            # Over UDP a client with EDNS announces how large a reply it accepts.
            max_size = max(limit, query.payload) if query.edns >= 0 else limit
        try:
            return response.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            # Too big for UDP: send the header alone with TC set, so the client retries on TCP.
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()

    def _fill(
        self, response: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
    ) -> None:
        zone = self._zone_for(name)
        if zone is None or zone.origin is None:
            response.set_rcode(dns.rcode.REFUSED)
            return
        node = zone.get_node(name)
        rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype) if node is not None else None
        if rdataset is not None:
            response.answer.append(dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset)))
            return
        # No data: NXDOMAIN unless the name exists, as a node or as the parent of one.
        exists = node is not None or any(other.is_subdomain(name) for other in zone.nodes)
        if not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
        if soa is not None:
            response.authority.append(dns.rrset.from_rdata_list(zone.origin, soa.ttl, list(soa)))

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        matches = [zone for zone in self.zones if zone.origin and name.is_subdomain(zone.origin)]
        return max(matches, key=lambda zone: len(zone.origin or ()), default=None)


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        server: _UdpServer = self.server  # type: ignore[assignment]
        reply = server.authority.answer(data, limit=_UDP_PLAIN_LIMIT)
        if reply is not None:
            sock.sendto(reply, self.client_address)


class _TcpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(_TCP_IDLE_SECONDS)
        server: _TcpServer = self.server  # type: ignore[assignment]
        try:
            # RFC 1035 section 4.2.2: each message is preceded by its two-byte length.
            while header := _read_exactly(connection, 2):
                (length,) = struct.unpack("!H", header)
                data = _read_exactly(connection, length)
                if len(data) < length:
                    return
                reply = server.authority.answer(data, limit=None)
                if reply is None:
                    return
                connection.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError as error:
            logger.debug("TCP client %s: %s", self.client_address, error)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _UdpServer(socketserver.ThreadingUDPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], authority: _Authority) -> None:
        self.authority = authority
        super().__init__(address, _UdpHandler)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], authority: _Authority) -> None:
        self.authority = authority
        super().__init__(address, _TcpHandler)


class LocalDnsServer:
    """An authoritative DNS server for the given zones on one UDP and TCP port of 127.0.0.1.

    Use it as a context manager, or call `start` and `stop`. `port` 0 picks a free port.
    """

    def __init__(self, zones: Mapping[str, str], *, host: str = LOOPBACK, port: int = 0) -> None:
        self._authority = _Authority(zones)
        self._host = host
        self._requested_port = port
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []
        self.port = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """The server as ``host:port``, the form ``maildiag discover --dns-server`` takes."""
        return f"{self._host}:{self.port}"

    @property
    def query_count(self) -> int:
        """The number of queries received since the start, over UDP and TCP."""
        return self._authority.query_count

    @property
    def origins(self) -> list[str]:
        """The zones served, as domain names without the final dot."""
        return [str(zone.origin).rstrip(".") for zone in self._authority.zones]

    def resolver(self, timeout: float = DEFAULT_DNS_TIMEOUT) -> dns.resolver.Resolver:
        """Return a resolver that queries only this server."""
        return make_resolver(self._host, self.port, timeout=timeout)

    def start(self) -> None:
        """Bind UDP and TCP on the same port and serve each in a daemon thread."""
        if self._servers:
            return
        udp, tcp = self._bind()
        self.port = udp.server_address[1]
        for server in (udp, tcp):
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"maildiag-testdns-{self.port}",
                daemon=True,
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        logger.info("local DNS server on %s for %s", self.address, ", ".join(self.origins))

    def _bind(self) -> tuple[_UdpServer, _TcpServer]:
        # A free UDP port may be taken for TCP, so try a few ports before giving up.
        for attempt in range(_BIND_ATTEMPTS):
            udp = _UdpServer((self._host, self._requested_port), self._authority)
            try:
                tcp = _TcpServer((self._host, udp.server_address[1]), self._authority)
            except OSError:
                udp.server_close()
                if self._requested_port or attempt == _BIND_ATTEMPTS - 1:
                    raise
                continue
            return udp, tcp
        raise OSError("no free port for the local DNS server")  # pragma: no cover

    def stop(self) -> None:
        """Stop both listeners and close their sockets."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()
        logger.info("local DNS server on %s stopped", self.address)


class SilentDnsServer:
    """A UDP port on 127.0.0.1 that reads DNS queries and never answers them."""

    def __init__(self, *, host: str = LOOPBACK) -> None:
        self._host = host
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.port = 0
        self.query_count = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """The port as ``host:port``."""
        return f"{self._host}:{self.port}"

    def resolver(self, timeout: float = DEFAULT_DNS_TIMEOUT) -> dns.resolver.Resolver:
        """Return a resolver that queries only this silent port."""
        return make_resolver(self._host, self.port, timeout=timeout)

    def start(self) -> None:
        """Bind the UDP port and read queries in a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self._host, 0))
        sock.settimeout(0.1)
        self._socket = sock
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(
            target=self._drain, name=f"maildiag-silentdns-{self.port}", daemon=True
        )
        self._thread.start()

    def _drain(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.query_count += 1

    def stop(self) -> None:
        """Stop reading and close the port."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._socket = None
        self._thread = None
