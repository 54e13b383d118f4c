"""The probe against hostile IMAP and SMTP servers: a named reason, in time, in bounded memory.

tests/probe/test_probe_scripted.py has 20 cases, and these add the rest of the
corpus. Every case checks four things. The reason must be the expected one. The
probe must end within the sum of the stage limits it went through plus 1 s. Its
peak traced memory must stay under 10 MB. The error or the server's words must
name what happened. A probe returns a result and never raises, so a traceback
fails the test by itself.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.probe.scripted import Behaviour, read_line, scripted_server, wait_for_close
from tests.reliability import servers
from tests.reliability.measure import FAST, MEMORY_LIMIT, budget, measured
from toolkit.probe import Endpoint, ProbeResult, Reason, probe
from toolkit.probe.matrix import probe_many
from toolkit.settings import Protocol, Security

IMAP, SMTP = Protocol.IMAP, Protocol.SMTP
STARTTLS, TLS = Security.STARTTLS, Security.IMPLICIT_TLS
# Stage limits that a probe goes through, by where the hostile server stops it.
GREETING_THEN_DETECT = ("connect", "greeting", "handshake")
AFTER_GREETING = ("connect", "greeting", "read")
WHOLE_STARTTLS = ("connect", "greeting", "read", "read", "handshake", "read")
WHOLE_TLS = ("connect", "handshake", "greeting", "read")

IMAP_GREETING = b"* OK ready\r\n"
SMTP_GREETING = b"220 mx.example.test ESMTP\r\n"
SLOW_IMAP_CAPABILITY = b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\np1 OK done\r\n"
SLOW_EHLO = b"250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"


@dataclass(frozen=True)
class Case:
    """One hostile behaviour and what the probe must make of it."""

    name: str
    protocol: Protocol
    security: Security
    behaviour: Callable[[ssl.SSLContext], Behaviour]
    reason: Reason
    stages: tuple[str, ...]
    words: str


def _split_capability(tls: socket.socket) -> None:
    tls.sendall(b"* OK ready\r\n")
    tag = read_line(tls).split(b" ", 1)[0]
    reply = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN ID\r\n" + tag + b" OK done\r\n"
    pieces = [reply[index : index + 3] for index in range(0, len(reply), 3)]
    servers.split_packets(pieces, 0.005)(tls)
    wait_for_close(tls, 5)


def _close_mid_capability(connection: socket.socket) -> None:
    connection.sendall(IMAP_GREETING)
    read_line(connection)
    connection.sendall(b"* CAPAB")


def _reset_after_greeting(connection: socket.socket) -> None:
    connection.sendall(SMTP_GREETING)
    read_line(connection)
    servers.reset(connection)


CASES = [
    Case("smtp-silent-after-accept", SMTP, STARTTLS, lambda _: servers.silent,
         Reason.GREETING_TIMEOUT, GREETING_THEN_DETECT, "no greeting"),
    Case("imap-silent-after-greeting", IMAP, STARTTLS,
         lambda _: servers.send_then_silent(IMAP_GREETING),
         Reason.READ_TIMEOUT, AFTER_GREETING, "capabilities"),
    Case("smtp-silent-after-greeting", SMTP, STARTTLS,
         lambda _: servers.send_then_silent(SMTP_GREETING),
         Reason.READ_TIMEOUT, AFTER_GREETING, "capabilities"),
    Case("imap-silent-after-tls-greeting", IMAP, TLS,
         lambda context: servers.tls_then(context, servers.send_then_silent(IMAP_GREETING)),
         Reason.READ_TIMEOUT, WHOLE_TLS, "capabilities"),
    Case("imap-silent-after-tls-handshake", IMAP, TLS,
         lambda context: servers.tls_then(context, servers.silent),
         Reason.GREETING_TIMEOUT, ("connect", "handshake", "greeting"), "after the handshake"),
    # One byte a second: the gap between bytes equals the 1 s limit.
    Case("imap-greeting-one-byte-a-second", IMAP, STARTTLS,
         lambda _: servers.trickle(b"* OK slow server ready\r\n", 1.0),
         Reason.GREETING_TIMEOUT, GREETING_THEN_DETECT, "no greeting"),
    # A byte every 0.2 s never leaves the connection idle for 1 s, so only a deadline
    # for the whole stage, not an idle timer, ends these within the budget.
    Case("smtp-greeting-byte-every-200-ms", SMTP, STARTTLS,
         lambda _: servers.trickle(b"220 " + b"s" * 60 + b"\r\n", 0.2),
         Reason.GREETING_TIMEOUT, GREETING_THEN_DETECT, "no greeting"),
    Case("imap-capability-byte-every-200-ms", IMAP, STARTTLS,
         lambda _: servers.trickle(SLOW_IMAP_CAPABILITY, 0.2, prefix=IMAP_GREETING, answer=True),
         Reason.READ_TIMEOUT, AFTER_GREETING, "timed out"),
    Case("smtp-ehlo-byte-every-200-ms", SMTP, STARTTLS,
         lambda _: servers.trickle(SLOW_EHLO, 0.2, prefix=SMTP_GREETING, answer=True),
         Reason.READ_TIMEOUT, AFTER_GREETING, "timed out"),
    Case("smtp-one-megabyte-greeting", SMTP, STARTTLS,
         lambda _: servers.send_then_silent(b"220 " + servers.ONE_MEGABYTE + b"\r\n"),
         Reason.PROTOCOL_ERROR, ("connect", "greeting"), "longer than"),
    Case("imap-one-megabyte-capability-line", IMAP, STARTTLS,
         lambda _: servers.flood(IMAP_GREETING, b"* CAPABILITY " + servers.ONE_MEGABYTE),
         Reason.PROTOCOL_ERROR, AFTER_GREETING, "longer than"),
    Case("smtp-invalid-utf8-greeting", SMTP, STARTTLS,
         lambda _: servers.send_then_silent(b"\xff\xfe 220 \xc3\x28 ready\r\n"),
         Reason.PROTOCOL_ERROR, ("connect", "greeting"), "\\xff"),
    Case("imap-nul-bytes-greeting", IMAP, STARTTLS,
         lambda _: servers.send_then_silent(b"\x00\x00\x00\x00\r\n"),
         Reason.PROTOCOL_ERROR, ("connect", "greeting"), "not an IMAP greeting"),
    Case("imap-tls-alert-on-implicit-port", IMAP, TLS,
         lambda _: servers.answer_client_hello(servers.TLS_ALERT),
         Reason.TLS_HANDSHAKE_FAILED, ("connect", "handshake"), "ALERT"),
    Case("smtp-tls-alert-after-go-ahead", SMTP, STARTTLS,
         lambda context: servers.smtp_dialog(
             context, instead_of_tls=servers.answer_client_hello(servers.TLS_ALERT)),
         Reason.TLS_HANDSHAKE_FAILED, WHOLE_STARTTLS, "ALERT"),
    Case("imap-reset-mid-server-hello", IMAP, TLS, servers.reset_after_server_hello,
         Reason.CONNECTION_CLOSED, ("connect", "handshake"), "reset"),
    Case("imap-close-after-go-ahead", IMAP, STARTTLS,
         lambda context: servers.imap_dialog(context, handshake=False),
         Reason.CONNECTION_CLOSED, WHOLE_STARTTLS, "during the TLS handshake"),
    Case("smtp-plain-text-instead-of-tls", SMTP, STARTTLS,
         lambda context: servers.smtp_dialog(
             context, instead_of_tls=servers.answer_client_hello(b"500 what is this?\r\n")),
         Reason.TLS_ON_PLAIN_PORT, WHOLE_STARTTLS, "500 what is this?"),
    Case("smtp-421-in-reply-to-ehlo", SMTP, STARTTLS,
         lambda context: servers.smtp_dialog(
             context, ehlo=b"421 4.3.2 Service shutting down\r\n"),
         Reason.SERVICE_UNAVAILABLE, AFTER_GREETING, "Service shutting down"),
    Case("imap-bye-in-reply-to-starttls", IMAP, STARTTLS,
         lambda context: servers.imap_dialog(
             context, before_starttls_reply=b"* BYE shutting down\r\n"),
         Reason.SERVICE_UNAVAILABLE, WHOLE_STARTTLS, "shutting down"),
    Case("smtp-454-to-starttls", SMTP, STARTTLS,
         lambda context: servers.smtp_dialog(
             context, starttls_reply=b"454 4.7.0 TLS not available due to local problem\r\n"),
         Reason.STARTTLS_REJECTED, WHOLE_STARTTLS, "TLS not available"),
    Case("smtp-endless-ehlo-continuation", SMTP, STARTTLS,
         lambda _: servers.flood(SMTP_GREETING, b"250-PIPELINING\r\n"),
         Reason.PROTOCOL_ERROR, AFTER_GREETING, "more than 1000 lines"),
    Case("smtp-endless-greeting-continuation", SMTP, STARTTLS,
         lambda _: servers.flood(b"", b"220-still greeting\r\n", answer=False),
         Reason.PROTOCOL_ERROR, AFTER_GREETING, "more than 1000 lines"),
    Case("imap-endless-untagged-after-starttls", IMAP, STARTTLS,
         lambda context: servers.imap_dialog(
             context, before_starttls_reply=b"* OK still thinking\r\n" * 2000),
         Reason.PROTOCOL_ERROR, WHOLE_STARTTLS, "more than 1000 lines"),
    Case("smtp-ehlo-with-10000-lines", SMTP, STARTTLS,
         lambda context: servers.smtp_dialog(
             context, ehlo=b"".join(b"250-X-%d\r\n" % n for n in range(10_000)) + b"250 OK\r\n"),
         Reason.PROTOCOL_ERROR, AFTER_GREETING, "more than 1000 lines"),
    Case("imap-capability-with-10000-long-items", IMAP, STARTTLS,
         lambda context: servers.imap_dialog(
             context, greeting=IMAP_GREETING,
             capability=b"* CAPABILITY IMAP4rev1 STARTTLS " + servers.MANY_CAPABILITIES),
         Reason.PROTOCOL_ERROR, AFTER_GREETING, "longer than"),
    Case("imap-2gb-literal-in-capability", IMAP, STARTTLS,
         lambda _: servers.flood(
             IMAP_GREETING, b"x" * 4096, then=b"* CAPABILITY " + servers.HUGE_LITERAL + b"\r\n"),
         Reason.PROTOCOL_ERROR, AFTER_GREETING, "longer than"),
    Case("imap-http-server", IMAP, STARTTLS,
         lambda _: servers.send_then_silent(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
         Reason.WRONG_PROTOCOL, ("connect", "greeting"), "HTTP"),
    Case("smtp-ssh-server", SMTP, STARTTLS,
         lambda _: servers.send_then_silent(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
         Reason.WRONG_PROTOCOL, ("connect", "greeting"), "SSH"),
    Case("imap-close-mid-capability", IMAP, STARTTLS, lambda _: _close_mid_capability,
         Reason.CONNECTION_CLOSED, AFTER_GREETING, "closed"),
    Case("smtp-reset-after-ehlo", SMTP, STARTTLS, lambda _: _reset_after_greeting,
         Reason.CONNECTION_CLOSED, AFTER_GREETING, "reset"),
]


def run_case(case: Case, context: ssl.SSLContext) -> tuple[ProbeResult, float, int]:
    with scripted_server(case.behaviour(context)) as port:
        endpoint = Endpoint("127.0.0.1", port, case.protocol, case.security)
        outcome = measured(lambda: probe(endpoint, FAST))
    return outcome.value, outcome.seconds, outcome.peak_bytes


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_server(
    case: Case, server_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result, seconds, peak = run_case(case, server_context)
    assert result.reason is case.reason, result.error
    assert seconds < budget(FAST, *case.stages)
    assert peak < MEMORY_LIMIT
    assert case.words in result.error + " " + result.server_text
    assert json.dumps(result.to_dict())
    assert [record for record in caplog.records if record.exc_info] == []


def test_one_megabyte_line_memory(server_context: ssl.SSLContext) -> None:
    case = next(case for case in CASES if case.name == "smtp-one-megabyte-greeting")
    result, _seconds, peak = run_case(case, server_context)
    assert result.reason is Reason.PROTOCOL_ERROR
    # The line is cut at 64 KiB, so the probe keeps far less than the megabyte sent.
    assert peak < 2 * 1024 * 1024


def test_2gb_literal_greeting_is_not_allocated(
    server_context: ssl.SSLContext, ca_file: str
) -> None:
    behaviour = servers.imap_dialog(
        server_context, greeting=b"* OK " + servers.HUGE_LITERAL + b"\r\n"
    )
    with scripted_server(behaviour) as port:
        endpoint = Endpoint("127.0.0.1", port, IMAP, STARTTLS, ca_file)
        outcome = measured(lambda: probe(endpoint, FAST))
    # The probe reads lines and never literals, so the announcement is only text.
    assert outcome.value.reason is Reason.OK
    assert outcome.value.greeting == "* OK {2147483648}"
    assert outcome.peak_bytes < MEMORY_LIMIT


def test_split_capability_reply(server_context: ssl.SSLContext) -> None:
    with scripted_server(servers.tls_then(server_context, _split_capability)) as port:
        result = probe(Endpoint("127.0.0.1", port, IMAP, TLS), FAST)
    assert result.capabilities_before == ("IMAP4rev1", "AUTH=PLAIN", "ID")
    assert result.auth_after == ("PLAIN",)


def test_10000_short_capabilities(server_context: ssl.SSLContext, ca_file: str) -> None:
    behaviour = servers.imap_dialog(
        server_context,
        greeting=IMAP_GREETING,
        capability=b"* CAPABILITY IMAP4rev1 STARTTLS " + servers.SHORT_CAPABILITIES,
    )
    with scripted_server(behaviour) as port:
        endpoint = Endpoint("127.0.0.1", port, IMAP, STARTTLS, ca_file)
        outcome = measured(lambda: probe(endpoint, FAST))
    result = outcome.value
    assert result.reason is Reason.OK
    assert len(result.capabilities_before) == 10_002
    assert result.capabilities_after == ("IMAP4rev1", "AUTH=PLAIN")
    # Transcript lines are cut, so the 59 KB line is not kept whole.
    assert max(len(line.text) for line in result.transcript) <= 300
    assert outcome.peak_bytes < MEMORY_LIMIT


def test_imap_plaintext_after_go_ahead(server_context: ssl.SSLContext, ca_file: str) -> None:
    behaviour = servers.imap_dialog(server_context, after_go_ahead=b"* OK injected\r\n")
    with scripted_server(behaviour) as port:
        result = probe(Endpoint("127.0.0.1", port, IMAP, STARTTLS, ca_file), FAST)
    assert result.reason is Reason.OK
    assert result.plaintext_after_starttls
    assert result.capabilities_after == ("IMAP4rev1", "AUTH=PLAIN")


def test_421_after_two_connections(server_context: ssl.SSLContext, ca_file: str) -> None:
    counter = servers.ConnectionCounter(
        2,
        servers.smtp_dialog(server_context),
        servers.send_then_close(b"421 4.7.0 Too many connections from your address\r\n"),
    )
    with scripted_server(counter) as port:
        endpoint = Endpoint("127.0.0.1", port, SMTP, STARTTLS, ca_file)
        reasons = [probe(endpoint, FAST).reason for _ in range(4)]
    assert reasons == [Reason.OK, Reason.OK, Reason.SERVICE_UNAVAILABLE, Reason.SERVICE_UNAVAILABLE]
    assert counter.accepted == 4



def test_ten_silent_endpoints_at_once() -> None:
    # Listeners that never accept: the kernel completes the connection, and no byte follows.
    listeners = [socket.create_server(("127.0.0.1", 0), backlog=16) for _ in range(10)]
    try:
        endpoints = [Endpoint("127.0.0.1", sock.getsockname()[1], IMAP, STARTTLS)
                     for sock in listeners]
        outcome = measured(lambda: probe_many(endpoints, FAST, max_workers=len(endpoints)))
    finally:
        for sock in listeners:
            sock.close()
    assert {result.reason for result in outcome.value} == {Reason.GREETING_TIMEOUT}
    # At once, ten cost what one costs: the greeting limit plus the TLS detection.
    assert outcome.seconds < budget(FAST, "greeting", "handshake")
