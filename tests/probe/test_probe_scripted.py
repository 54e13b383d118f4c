"""Probe reasons against scripted loopback servers that misbehave in one way each."""

from __future__ import annotations

import socket
import ssl
import struct
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.cli_run import PROBE_JSON_KEYS
from tests.probe.scripted import read_line, scripted_server, wait_for_close
from toolkit.probe import Endpoint, Reason, Timeouts, probe
from toolkit.probe.versions import tls_versions
from toolkit.settings import Protocol, Security
from toolkit.verdicts import version_findings

FAST = Timeouts(connect=2, greeting=1, handshake=2, read=2)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    yield str(path)


def imap(port: int, security: Security, ca_file: str | None = None) -> Endpoint:
    return Endpoint("127.0.0.1", port, Protocol.IMAP, security, ca_file)


def smtp(port: int, security: Security, ca_file: str | None = None) -> Endpoint:
    return Endpoint("127.0.0.1", port, Protocol.SMTP, security, ca_file)


def test_smtp_greeting_on_imap_probe() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"220 mail.example.test ESMTP ready\r\n")
        wait_for_close(connection)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.WRONG_PROTOCOL
    assert "SMTP" in result.error
    assert result.server_text.startswith("220 mail.example.test")


def test_imap_greeting_on_smtp_probe() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"* OK IMAP4rev1 ready\r\n")
        wait_for_close(connection)

    with scripted_server(behaviour) as port:
        result = probe(smtp(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.WRONG_PROTOCOL
    assert "IMAP" in result.error


def test_tls_bytes_first_is_plain_on_tls_port() -> None:
    def behaviour(connection: socket.socket) -> None:
        # A TLS alert record: content type 21, version 3.1, length 2, fatal, unexpected message.
        connection.sendall(b"\x15\x03\x01\x00\x02\x02\x0a")
        wait_for_close(connection)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.PLAIN_ON_TLS_PORT


def test_silent_server_ends_in_greeting_timeout() -> None:
    with scripted_server(wait_for_close) as port:
        started = time.monotonic()
        result = probe(imap(port, Security.STARTTLS), FAST)
        elapsed = time.monotonic() - started
    assert result.reason is Reason.GREETING_TIMEOUT
    assert result.connected
    # The greeting timeout plus the short handshake attempt that tells a TLS port apart.
    assert elapsed < FAST.greeting + FAST.handshake + 1


def test_silent_tls_port_is_plain_on_tls_port(server_context: ssl.SSLContext) -> None:
    def behaviour(connection: socket.socket) -> None:
        with server_context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b"* OK ready\r\n")
            wait_for_close(tls)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.PLAIN_ON_TLS_PORT
    assert "implicit TLS" in result.error
    assert result.certificate is not None


def test_plain_greeting_on_implicit_probe() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"220 smtp.example.test ESMTP\r\n")
        wait_for_close(connection)

    with scripted_server(behaviour) as port:
        result = probe(smtp(port, Security.IMPLICIT_TLS), FAST)
    assert result.reason is Reason.TLS_ON_PLAIN_PORT
    assert result.server_text == "220 smtp.example.test ESMTP"


def test_close_at_once_is_connection_closed() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.close()

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.CONNECTION_CLOSED


def test_reset_during_handshake_is_connection_closed() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.recv(10)
        # SO_LINGER on with a zero timeout makes close() send a reset instead of a FIN.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.IMPLICIT_TLS), FAST)
    assert result.reason is Reason.CONNECTION_CLOSED
    assert result.stage == "tls-handshake"


def test_close_after_starttls_go_ahead() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"220 ready\r\n")
        read_line(connection)
        connection.sendall(b"250-hello\r\n250 STARTTLS\r\n")
        read_line(connection)
        connection.sendall(b"220 go ahead\r\n")
        connection.close()

    with scripted_server(behaviour) as port:
        result = probe(smtp(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.CONNECTION_CLOSED
    assert result.stage == "tls-handshake"


def test_plaintext_after_go_ahead_is_flagged(server_context: ssl.SSLContext) -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"220 ready\r\n")
        read_line(connection)
        connection.sendall(b"250-hello\r\n250 STARTTLS\r\n")
        read_line(connection)
        connection.sendall(b"220 go ahead\r\n250 injected\r\n")
        with server_context.wrap_socket(connection, server_side=True) as tls:
            read_line(tls)
            tls.sendall(b"250-hello again\r\n250 AUTH PLAIN\r\n")
            wait_for_close(tls)

    with scripted_server(behaviour) as port:
        result = probe(smtp(port, Security.STARTTLS), FAST)
    assert result.plaintext_after_starttls
    assert result.capabilities_after == ("AUTH PLAIN",)


def test_old_tls_only_is_version_mismatch(ca: trustme.CA) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Python marks the old versions deprecated; this server offers them on purpose.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    ca.issue_cert("127.0.0.1").configure_cert(context)

    def behaviour(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b"* OK\r\n")

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.IMPLICIT_TLS), FAST)
    assert result.reason in (Reason.TLS_VERSION_MISMATCH,)


def test_421_greeting_is_service_unavailable() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"421 4.7.0 Too many connections\r\n")

    with scripted_server(behaviour) as port:
        result = probe(smtp(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.SERVICE_UNAVAILABLE
    assert "Too many connections" in result.server_text


def test_bye_greeting_is_service_unavailable() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"* BYE Too many connections from your address\r\n")

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.SERVICE_UNAVAILABLE


def test_huge_line_is_protocol_error() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"* OK " + b"x" * 1_000_000 + b"\r\n")
        wait_for_close(connection, 3)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.PROTOCOL_ERROR
    assert "longer than" in result.error


def test_invalid_utf8_greeting_is_named() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"\xff\xfe\xfd garbage\r\n")
        wait_for_close(connection)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.PROTOCOL_ERROR
    assert "\\xff" in result.server_text


def test_split_ehlo_reply_is_read_whole(server_context: ssl.SSLContext) -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"220 ready\r\n")
        read_line(connection)
        for piece in (b"250-he", b"llo\r\n250-PIPE", b"LINING\r\n", b"250 STARTTLS\r\n"):
            connection.sendall(piece)
            time.sleep(0.05)
        read_line(connection)
        connection.sendall(b"220 go\r\n")
        with server_context.wrap_socket(connection, server_side=True) as tls:
            read_line(tls)
            tls.sendall(b"250-hello\r\n250 AUTH PLAIN LOGIN\r\n")
            wait_for_close(tls)

    with scripted_server(behaviour) as port:
        result = probe(smtp(port, Security.STARTTLS), FAST)
    assert result.capabilities_before == ("PIPELINING", "STARTTLS")
    assert result.auth_before == ()
    assert result.auth_after == ("PLAIN", "LOGIN")


def test_starttls_rejected_quotes_server() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"* OK ready\r\n")
        tag = read_line(connection).split()[0]
        connection.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag + b" OK done\r\n")
        tag = read_line(connection).split()[0]
        connection.sendall(tag + b" NO TLS is broken today\r\n")
        wait_for_close(connection)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.STARTTLS_REJECTED
    assert "TLS is broken today" in result.server_text


def test_endless_untagged_lines_end() -> None:
    def behaviour(connection: socket.socket) -> None:
        connection.sendall(b"* OK ready\r\n")
        read_line(connection)
        with pytest.raises(OSError):
            while True:
                connection.sendall(b"* CAPABILITY IMAP4rev1\r\n" * 100)

    with scripted_server(behaviour) as port:
        result = probe(imap(port, Security.STARTTLS), FAST)
    assert result.reason is Reason.PROTOCOL_ERROR
    assert "more than" in result.error


def test_refused_port() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    result = probe(imap(port, Security.IMPLICIT_TLS), FAST)
    assert result.reason is Reason.CONNECTION_REFUSED
    assert not result.connected


def test_result_json_has_documented_keys(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    data = probe(imap(port, Security.IMPLICIT_TLS), FAST).to_dict()
    for key in PROBE_JSON_KEYS:
        assert key in data


def test_tls_versions_lists_old_ones(ca: trustme.CA, ca_file: str) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    ca.issue_cert("127.0.0.1").configure_cert(context)

    def behaviour(connection: socket.socket) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
            wait_for_close(tls, 3)

    with scripted_server(behaviour) as port:
        support = tls_versions(imap(port, Security.IMPLICIT_TLS, ca_file), FAST)
    accepted = {item.version: item.accepted for item in support}
    assert accepted == {"TLS 1.0": True, "TLS 1.1": True, "TLS 1.2": True, "TLS 1.3": True}
    findings = version_findings(support, f"127.0.0.1:{port}")
    assert [finding.id for finding in findings] == ["old-tls-accepted"]
    assert "TLS 1.0 and TLS 1.1" in findings[0].message
