"""The login test and the folder listing against hostile servers.

Both must end in a named reason within the stage limits they went through, in
bounded memory, and never send the password before TLS. Every server here
records what the client sent in plain text, and the test searches it for every
form of the canary password.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.probe.scripted import Behaviour, read_line, scripted_server
from tests.reliability import servers
from tests.reliability.canary import find_leaks
from tests.reliability.measure import FAST, MEMORY_LIMIT, budget, measured
from toolkit.folders import ListingReason, list_folders
from toolkit.login.check import check_login
from toolkit.login.results import LoginReason
from toolkit.settings import ServerSettings, build_settings

CANARY = "canary-H0stile-pw-3b7a"
USER = "agent@example.test"


def entry(port: int, *, protocol: str, tls: bool, ca_file: str | None) -> ServerSettings:
    raw: dict[str, object] = {
        "name": "hostile", "protocol": protocol, "host": "127.0.0.1", "port": port,
        "tls": tls, "auth": "basic", "user": USER,
    }
    if protocol == "imap":
        raw["storage_folder"] = "Support"
    if ca_file is not None:
        raw["ca_file"] = ca_file
    return build_settings(raw, password=CANARY)


@dataclass(frozen=True)
class LoginCase:
    """A hostile server for the login test and the reason it must end in."""

    name: str
    protocol: str
    tls: bool
    behaviour: Callable[[ssl.SSLContext], Behaviour]
    reason: LoginReason
    stages: tuple[str, ...]
    trusted: bool = True


IMAP_NO_STARTTLS = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"
SMTP_AUTH_BEFORE_TLS = b"250-mx.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"

LOGIN_CASES = [
    LoginCase("imap-silent", "imap", False, lambda _: servers.silent,
              LoginReason.GREETING_TIMEOUT, ("connect", "greeting")),
    LoginCase("imap-greeting-byte-every-200-ms", "imap", False,
              lambda _: servers.trickle(b"* OK " + b"z" * 40 + b"\r\n", 0.2),
              LoginReason.GREETING_TIMEOUT, ("connect", "greeting")),
    LoginCase("smtp-421-greeting", "smtp", False,
              lambda _: servers.send_then_close(b"421 4.7.0 Too many connections\r\n"),
              LoginReason.SERVICE_UNAVAILABLE, ("connect", "greeting")),
    LoginCase("imap-no-starttls-offered", "imap", False,
              lambda context: servers.imap_dialog(
                  context, greeting=IMAP_NO_STARTTLS,
                  capability=b"* CAPABILITY IMAP4rev1 AUTH=PLAIN"),
              LoginReason.PLAINTEXT_REFUSED, ("connect", "greeting")),
    LoginCase("smtp-auth-offered-then-close-after-go-ahead", "smtp", False,
              lambda context: servers.smtp_dialog(
                  context, ehlo=SMTP_AUTH_BEFORE_TLS, instead_of_tls=servers.reset),
              LoginReason.CONNECTION_CLOSED, ("connect", "greeting", "read", "read", "handshake")),
    LoginCase("smtp-plain-text-instead-of-tls", "smtp", False,
              lambda context: servers.smtp_dialog(
                  context, ehlo=SMTP_AUTH_BEFORE_TLS,
                  instead_of_tls=servers.answer_client_hello(b"250 AUTH PLAIN\r\n")),
              LoginReason.TLS_ON_PLAIN_PORT, ("connect", "greeting", "read", "read", "handshake")),
    LoginCase("imap-untrusted-certificate", "imap", False, servers.imap_dialog,
              LoginReason.CERTIFICATE_UNTRUSTED, ("connect", "greeting", "read", "handshake"),
              trusted=False),
    LoginCase("imap-one-megabyte-greeting", "imap", False,
              lambda _: servers.send_then_silent(b"* OK " + servers.ONE_MEGABYTE + b"\r\n"),
              LoginReason.PROTOCOL_ERROR, ("connect", "greeting")),
    LoginCase("smtp-endless-ehlo", "smtp", False,
              lambda _: servers.flood(b"220 mx ESMTP\r\n", b"250-PIPELINING\r\n"),
              LoginReason.PROTOCOL_ERROR, ("connect", "greeting", "read")),
    LoginCase("imap-tls-alert", "imap", True,
              lambda _: servers.answer_client_hello(servers.TLS_ALERT),
              LoginReason.TLS_HANDSHAKE_FAILED, ("connect", "handshake")),
    LoginCase("imap-endless-untagged-after-login", "imap", True,
              lambda context: servers.tls_then(
                  context, servers.flood(IMAP_NO_STARTTLS, b"* OK still checking\r\n")),
              LoginReason.PROTOCOL_ERROR, ("connect", "handshake", "greeting", "read", "read")),
    LoginCase("smtp-endless-auth-challenges", "smtp", True,
              lambda context: servers.tls_then(context, _endless_challenges),
              LoginReason.READ_TIMEOUT, ("connect", "handshake", "greeting", "read", "read")),
]


def _endless_challenges(tls: socket.socket) -> None:
    tls.sendall(b"220 mx ESMTP\r\n")
    read_line(tls)
    tls.sendall(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n")
    read_line(tls)
    block = b"334 \r\n" * 1000
    try:
        while True:
            tls.sendall(block)
    except OSError:
        return


@pytest.mark.parametrize("case", LOGIN_CASES, ids=[case.name for case in LOGIN_CASES])
def test_login_hostile(case: LoginCase, server_context: ssl.SSLContext, ca_file: str) -> None:
    recorder = servers.Recorder(case.behaviour(server_context))
    with scripted_server(recorder) as port:
        settings = entry(
            port, protocol=case.protocol, tls=case.tls, ca_file=ca_file if case.trusted else None
        )
        outcome = measured(lambda: check_login(settings, timeouts=FAST))
    result = outcome.value.result
    assert result.reason is case.reason, result.error
    assert outcome.seconds < budget(FAST, *case.stages)
    assert outcome.peak_bytes < MEMORY_LIMIT
    assert result.error
    report = json.dumps(outcome.value.to_dict())
    assert find_leaks([report, recorder.plain_text.decode("latin-1")], [CANARY], USER) == []


def test_login_refuses_plaintext_before_tls(server_context: ssl.SSLContext) -> None:
    recorder = servers.Recorder(
        servers.imap_dialog(
            server_context, greeting=IMAP_NO_STARTTLS, capability=b"* CAPABILITY IMAP4rev1"
        )
    )
    with scripted_server(recorder) as port:
        check = check_login(entry(port, protocol="imap", tls=False, ca_file=None), timeouts=FAST)
    assert check.result.reason is LoginReason.PLAINTEXT_REFUSED
    assert not check.result.credentials_sent
    assert b"LOGIN" not in recorder.plain_text.upper()


def test_login_2gb_literal_greeting(server_context: ssl.SSLContext, ca_file: str) -> None:
    behaviour = servers.imap_dialog(
        server_context, greeting=b"* OK " + servers.HUGE_LITERAL + b"\r\n"
    )
    with scripted_server(behaviour) as port:
        settings = entry(port, protocol="imap", tls=False, ca_file=ca_file)
        outcome = measured(
            lambda: check_login(settings, timeouts=FAST, check_mailbox=False)
        )
    assert outcome.value.result.reason is LoginReason.OK
    assert outcome.peak_bytes < MEMORY_LIMIT


@dataclass(frozen=True)
class FolderCase:
    """A hostile server for the folder listing and the reason it must end in."""

    name: str
    behaviour: Callable[[ssl.SSLContext], Behaviour]
    reason: ListingReason
    stages: tuple[str, ...]
    tls: bool = True


# Connecting, the greeting, CAPABILITY and LOGIN before the LIST, and LOGOUT after it.
BEFORE_LIST = ("connect", "greeting", "read", "read")
# A failure before login is probed once more, which adds a greeting and a short handshake.
REPROBED = ("connect", "greeting", "connect", "greeting", "handshake")

FOLDER_CASES = [
    FolderCase("silent-implicit-tls", lambda _: servers.silent,
               ListingReason.TLS_HANDSHAKE_TIMEOUT, ("connect", "connect", "handshake")),
    FolderCase("silent-starttls", lambda _: servers.silent,
               ListingReason.GREETING_TIMEOUT, REPROBED, tls=False),
    FolderCase("greeting-byte-every-200-ms", lambda _: servers.trickle(b"* OK " + b"z" * 40, 0.2),
               ListingReason.GREETING_TIMEOUT, REPROBED, tls=False),
    FolderCase("bye-greeting",
               lambda _: servers.send_then_close(b"* BYE Too many connections\r\n"),
               ListingReason.SERVICE_UNAVAILABLE, REPROBED, tls=False),
    FolderCase("2gb-literal-greeting",
               lambda context: servers.tls_then(
                   context, servers.send_then_silent(b"* OK " + servers.HUGE_LITERAL + b"\r\n")),
               ListingReason.PROTOCOL_ERROR, ("connect", "greeting")),
    FolderCase("2gb-literal-in-list",
               lambda context: servers.imap_folder_server(context, servers.huge_literal_list),
               ListingReason.PROTOCOL_ERROR, (*BEFORE_LIST, "read", "read")),
    FolderCase("endless-list",
               lambda context: servers.imap_folder_server(context, servers.endless_list),
               ListingReason.READ_TIMEOUT, (*BEFORE_LIST, "read", "read")),
    FolderCase("list-byte-every-200-ms",
               lambda context: servers.imap_folder_server(context, servers.slow_list),
               ListingReason.READ_TIMEOUT, (*BEFORE_LIST, "read", "read")),
    FolderCase("two-megabyte-list-line",
               lambda context: servers.imap_folder_server(context, servers.long_line_list),
               ListingReason.PROTOCOL_ERROR, (*BEFORE_LIST, "read", "read")),
    FolderCase("garbled-list-line",
               lambda context: servers.imap_folder_server(context, servers.garbled_list),
               ListingReason.PROTOCOL_ERROR, (*BEFORE_LIST, "read", "read")),
    FolderCase("no-starttls-offered",
               lambda context: servers.imap_dialog(
                   context, greeting=IMAP_NO_STARTTLS,
                   capability=b"* CAPABILITY IMAP4rev1 AUTH=PLAIN"),
               ListingReason.STARTTLS_NOT_OFFERED, BEFORE_LIST, tls=False),
    FolderCase("close-after-go-ahead",
               lambda context: servers.imap_dialog(context, handshake=False),
               ListingReason.CONNECTION_CLOSED, (*BEFORE_LIST, "read", *REPROBED), tls=False),
]


@pytest.mark.parametrize("case", FOLDER_CASES, ids=[case.name for case in FOLDER_CASES])
def test_folders_hostile(case: FolderCase, server_context: ssl.SSLContext, ca_file: str) -> None:
    recorder = servers.Recorder(case.behaviour(server_context))
    with scripted_server(recorder) as port:
        settings = entry(port, protocol="imap", tls=case.tls, ca_file=ca_file)
        outcome = measured(lambda: list_folders(settings, FAST))
    listing = outcome.value
    assert listing.reason is case.reason, listing.error
    assert outcome.seconds < budget(FAST, *case.stages)
    assert outcome.peak_bytes < MEMORY_LIMIT
    assert listing.error
    report = json.dumps(listing.to_dict())
    assert find_leaks([report, recorder.plain_text.decode("latin-1")], [CANARY], USER) == []


def test_folders_invalid_utf7_name(server_context: ssl.SSLContext, ca_file: str) -> None:
    # One bad name must not cost the listing its other folders.
    behaviour = servers.imap_folder_server(server_context, servers.bad_utf7_list)
    with scripted_server(behaviour) as port:
        listing = list_folders(entry(port, protocol="imap", tls=True, ca_file=ca_file), FAST)
    assert listing.reason is ListingReason.OK
    assert [folder.name for folder in listing.folders] == ["INBOX", "&Jj-"]


def test_folders_unexpected_error_logs_no_traceback(
    server_context: ssl.SSLContext, ca_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # With no logging set up, as on the command line, Python prints WARNING records
    # on stderr through its last-resort handler: that must not show a traceback.
    behaviour = servers.imap_folder_server(server_context, servers.misaligned_list)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers.clear()
    try:
        with scripted_server(behaviour) as port:
            listing = list_folders(entry(port, protocol="imap", tls=True, ca_file=ca_file), FAST)
    finally:
        root.handlers[:], root.level = saved
    stderr = capsys.readouterr().err
    assert listing.reason is ListingReason.PROTOCOL_ERROR
    assert "unexpected error in a folder session at list" in stderr
    assert "Traceback" not in stderr
