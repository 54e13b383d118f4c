"""Property-based tests for every parser: no input makes one raise anything but its own error.

Parsers of settings input raise only `SettingsError`, and each `FieldError` names
a field, the problem and a fix. The protocol parsers read replies from a real
`Transport` over a socket pair and raise only their documented errors. The
folder listing turns any LIST reply from a real server into a listing with a
reason. Token parsing never raises and never repeats the token.

Hypothesis's example database is off. Hypothesis still keeps caches in .hypothesis/,
which it marks as ignored by git.
"""

from __future__ import annotations

import base64
import json
import math
import socket
import ssl
import string
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.probe.scripted import read_line, scripted_server
from tests.reliability.measure import FAST
from toolkit.folders import Folder, FolderTree, ListingReason, list_folders, render_text
from toolkit.folders.listing import folders_from_entries
from toolkit.fromaddr.verify import header_addresses
from toolkit.oauth.claims import TokenDecodeError, decode_token, diagnose_token, extract_token
from toolkit.probe.dialogs import (
    DialogError,
    ImapDialog,
    SmtpDialog,
    decode,
    looks_like_tls,
    other_protocol_name,
)
from toolkit.probe.transport import Closed, LineTooLong, TimedOut, Transport
from toolkit.settings import (
    FieldError,
    Protocol,
    SettingsError,
    build_settings,
    parse_host,
    parse_port,
    parse_tls,
)
from toolkit.settings_file import settings_from_document

PURE = settings(max_examples=300, deadline=None, database=None)
# Examples that open sockets or TLS sessions cost milliseconds each.
NETWORK = settings(max_examples=60, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])
CANARY = "Prop-Canary-Pa55-1f8e"

# Values as a form, a TOML file or JSON can deliver them.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8,
)
label = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=12)
host_names = st.lists(label, min_size=1, max_size=4).map(".".join)
schemes = st.sampled_from(["imap", "imaps", "smtp", "smtps", "submission", "submissions",
                           "http", "https", "ftp", ""])
pasted_hosts = st.one_of(
    st.text(max_size=60),
    host_names,
    st.builds(lambda h, p: f"{h}:{p}", host_names, st.integers(-5, 70000)),
    st.builds(lambda s, h, p: f"{s}://{h}:{p}/", schemes, host_names, st.integers(0, 70000)),
    st.builds(lambda s, h: f"{s}://{h}", schemes, st.text(max_size=20)),
    st.builds(lambda h: f"[{h}]", st.text("0123456789abcdef:.", max_size=20)),
)


def assert_field_errors(errors: tuple[FieldError, ...], fields: set[str] | None = None) -> None:
    assert errors
    for error in errors:
        assert error.field.strip()
        assert error.problem.strip()
        assert error.fix.strip()
        if fields is not None:
            assert error.field in fields


@PURE
@given(pasted_hosts, st.sampled_from([None, Protocol.IMAP, Protocol.SMTP]))
def test_parse_host(text: str, protocol: Protocol | None) -> None:
    try:
        parsed = parse_host(text, protocol)
    except SettingsError as error:
        assert_field_errors(error.errors, {"host"})
        return
    assert parsed.host == parsed.host.strip()
    assert parsed.host.isascii()
    # A parsed host parses to itself: the form and the file accept their own output.
    assert parse_host(parsed.host).host == parsed.host
    if parsed.port is not None:
        assert 1 <= parsed.port <= 65535


@PURE
@given(st.sampled_from(["imaps://", "smtps://", "https://", ""]), st.text(max_size=10),
       st.text(max_size=6), host_names, st.sampled_from(["", ":993", ":993/", "/INBOX"]))
def test_parse_host_never_echoes_password(
    scheme: str, user: str, extra: str, host: str, tail: str
) -> None:
    # A password pasted with the host, as user:password@host, with any characters around it.
    with pytest.raises(SettingsError) as raised:
        parse_host(f"{scheme}{user}:{extra}{CANARY}{extra}@{host}{tail}")
    assert CANARY not in str(raised.value)
    assert_field_errors(raised.value.errors, {"host"})


@PURE
@given(st.one_of(st.integers(), st.text(max_size=12), st.floats(), st.booleans(), st.none(),
                 st.binary(max_size=5)))
def test_parse_port(value: object) -> None:
    try:
        port = parse_port(value)
    except SettingsError as error:
        assert_field_errors(error.errors, {"port"})
        return
    assert 1 <= port <= 65535
    assert not isinstance(value, bool)


@PURE
@given(st.one_of(st.booleans(), st.text(max_size=12), st.integers(), st.none(), st.floats()))
def test_parse_tls(value: object) -> None:
    try:
        assert parse_tls(value) in (True, False)
    except SettingsError as error:
        assert_field_errors(error.errors, {"tls"})


FIELDS = ["name", "protocol", "host", "port", "tls", "auth", "user", "storage_folder",
          "ca_file", "provider", "password_env", "token_env", "oauth", "password", "token"]
raw_entries = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10),
    st.one_of(json_values, st.sampled_from(["imap", "smtp", "basic", "oauth2", "true", "993",
                                            "imap.example.com", "a@example.com", CANARY])),
    max_size=10,
)


@PURE
@given(raw_entries)
def test_build_settings(raw: dict[str, Any]) -> None:
    try:
        server = build_settings(raw, password=CANARY)
    except SettingsError as error:
        assert_field_errors(error.errors)
        # A secret in the password field or given as the password is never repeated.
        assert CANARY not in str(error) or not _holds_canary_outside_secrets(raw)
        return
    assert server.password is not None
    assert CANARY not in repr(server)
    # The entry survives its own round trip through plain data.
    assert build_settings(server.to_dict()) == server


def _holds_canary_outside_secrets(raw: dict[str, Any]) -> bool:
    """Whether the canary was typed into a field that is not a secret, where echoing it is fair."""
    return not any(raw.get(key) == CANARY for key in raw if key not in ("password", "token"))


@PURE
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5)
       | st.builds(lambda entries: {"server": entries}, st.lists(raw_entries, max_size=3)))
def test_settings_document(document: dict[str, Any]) -> None:
    try:
        settings_from_document(document)
    except SettingsError as error:
        assert_field_errors(error.errors)


def dialog_transport(pair: tuple[socket.socket, socket.socket], data: bytes) -> Transport:
    """Queue `data` as the server's reply, end the stream, and return the client's transport."""
    client, server = pair
    server.sendall(data)
    server.shutdown(socket.SHUT_WR)
    return Transport(client)


TRANSPORT_ERRORS = (DialogError, Closed, TimedOut, LineTooLong)
atoms = st.text(string.ascii_letters + string.digits + "=-+.", min_size=1, max_size=12)
reply_lines = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\r\n"),
                       max_size=6).map(b"".join)


@NETWORK
@given(st.one_of(reply_lines, st.binary(max_size=200)))
def test_imap_capability_reply_any_bytes(data: bytes) -> None:
    client, server = socket.socketpair()
    with client, server:
        transport = dialog_transport((client, server), data)
        try:
            reply = ImapDialog(transport, lambda _d, _l: None).capabilities(
                time.monotonic() + 0.5, "capabilities")
        except TRANSPORT_ERRORS:
            return
        assert isinstance(reply.accepted, bool)
        assert all(isinstance(item, str) for item in reply.capabilities)


@NETWORK
@given(st.lists(atoms, min_size=1, max_size=30))
def test_imap_capability_reply_well_formed(capabilities: list[str]) -> None:
    line = b"* CAPABILITY " + " ".join(capabilities).encode() + b"\r\np1 OK done\r\n"
    client, server = socket.socketpair()
    with client, server:
        reply = ImapDialog(dialog_transport((client, server), line), lambda _d, _l: None
                           ).capabilities(time.monotonic() + 0.5, "capabilities")
    assert reply.accepted
    assert list(reply.capabilities) == capabilities


@NETWORK
@given(st.one_of(reply_lines, st.binary(max_size=200)))
def test_ehlo_reply_any_bytes(data: bytes) -> None:
    client, server = socket.socketpair()
    with client, server:
        transport = dialog_transport((client, server), data)
        try:
            reply = SmtpDialog(transport, lambda _d, _l: None, "[127.0.0.1]").capabilities(
                time.monotonic() + 0.5, "capabilities")
        except TRANSPORT_ERRORS:
            return
        assert isinstance(reply.accepted, bool)


ehlo_keywords = st.builds(
    lambda word, params: " ".join([word, *params]),
    st.text(string.ascii_uppercase + string.digits + "-", min_size=1, max_size=12),
    st.lists(atoms, max_size=3),
)


@NETWORK
@given(st.lists(ehlo_keywords, max_size=20), st.integers(1, 7))
def test_ehlo_reply_well_formed(keywords: list[str], piece: int) -> None:
    lines = ["mx.example.test", *keywords]
    data = b"".join(
        f"250{'-' if index < len(lines) - 1 else ' '}{text}\r\n".encode()
        for index, text in enumerate(lines)
    )
    client, server = socket.socketpair()
    with client, server:
        reply = SmtpDialog(dialog_transport((client, server), data), lambda _d, _l: None,
                           "[127.0.0.1]").capabilities(time.monotonic() + 0.5, "capabilities")
    assert reply.accepted
    assert list(reply.capabilities) == [keyword.strip() for keyword in keywords]


@PURE
@given(st.binary(max_size=300))
def test_greetings(line: bytes) -> None:
    assert isinstance(decode(line), str)
    assert looks_like_tls(line) in (True, False)
    for expected in ("imap", "smtp"):
        assert other_protocol_name(line, expected) in (None, "IMAP", "SMTP", "POP3", "HTTP", "SSH")
    try:
        greeting = ImapDialog(None, lambda _d, _l: None).greeting(line, 0.0)  # type: ignore[arg-type]
    except DialogError:
        return
    assert greeting.accepted != greeting.unavailable


flags = st.lists(st.sampled_from([b"\\HasChildren", b"\\HasNoChildren", b"\\Noselect",
                                  b"\\Sent", b"\\Trash", b"\\All", "\\Junk", b"\\NonExistent"])
                 | st.binary(max_size=10), max_size=4)
delimiters = st.sampled_from([b"/", b".", None, "/", b"", b"\\"])
names = st.one_of(st.text(max_size=20), st.binary(max_size=20), st.integers(0, 9999))


@PURE
@given(st.lists(st.tuples(flags, delimiters, names), max_size=30))
def test_folder_entries(entries: list[tuple[Any, Any, Any]]) -> None:
    folders = folders_from_entries(entries)
    assert len(folders) == len(entries)
    for folder in folders:
        assert json.dumps(folder.to_dict())
        assert folder.depth >= 1
    tree = FolderTree(folders)
    assert isinstance(render_text(tree, max_lines=50), str)


class ListReplies:
    """The LIST reply the folder server sends next; set by each example."""

    def __init__(self) -> None:
        self.lines = b""


@pytest.fixture(scope="module")
def folder_server(
    server_context: ssl.SSLContext,
) -> Iterator[tuple[int, ListReplies]]:
    holder = ListReplies()

    def behaviour(connection: socket.socket) -> None:
        with server_context.wrap_socket(connection, server_side=True) as tls:
            tls.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n")
            while line := read_line(tls):
                tag, _, rest = line.strip().partition(b" ")
                verb = rest.split(b" ", 1)[0].upper()
                if verb == b"LIST":
                    tls.sendall(holder.lines + tag + b" OK done\r\n")
                elif verb == b"LOGOUT":
                    tls.sendall(b"* BYE\r\n" + tag + b" OK\r\n")
                    return
                elif verb == b"CAPABILITY":
                    tls.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK\r\n")
                else:
                    tls.sendall(tag + b" OK done\r\n")

    with scripted_server(behaviour) as port:
        yield port, holder


list_names = st.one_of(
    st.text(string.ascii_letters + string.digits + " ./-_&", min_size=1, max_size=20).map(
        lambda name: b'"' + name.encode() + b'"'),
    st.binary(min_size=1, max_size=20).map(lambda name: b"{%d}\r\n" % len(name) + name),
    st.binary(max_size=20),
)
list_lines = st.builds(
    lambda fl, de, na: b"* LIST (" + b" ".join(fl) + b") " + de + b" " + na + b"\r\n",
    st.lists(st.sampled_from([b"\\HasChildren", b"\\HasNoChildren", b"\\Noselect", b"\\Sent"]),
             max_size=3),
    st.sampled_from([b'"/"', b'"."', b"NIL", b'"\\\\"']),
    list_names,
)


# Each example logs in over TLS, about 0.1 s, so fewer of them.
@settings(NETWORK, max_examples=30)
@given(st.lists(list_lines | st.binary(max_size=60).map(lambda b: b + b"\r\n"), max_size=8))
def test_list_reply(
    folder_server: tuple[int, ListReplies], ca_file: str, lines: list[bytes]
) -> None:
    port, holder = folder_server
    holder.lines = b"".join(lines)
    entry = build_settings(
        {"name": "prop", "protocol": "imap", "host": "127.0.0.1", "port": port, "tls": True,
         "auth": "basic", "user": "agent@example.test", "ca_file": ca_file},
        password=CANARY,
    )
    listing = list_folders(entry, FAST)
    assert isinstance(listing.reason, ListingReason)
    assert json.dumps(listing.to_dict())
    assert CANARY not in repr(listing) + listing.error + listing.server_text
    if listing.ok:
        assert all(isinstance(folder, Folder) for folder in listing.folders)


addresses = st.builds(lambda local, domain: f"{local}@{domain}",
                      st.text(string.ascii_letters + string.digits + "._+-", min_size=1,
                              max_size=12), host_names)


@PURE
@given(st.binary(max_size=300))
def test_header_addresses_any_bytes(block: bytes) -> None:
    found = header_addresses(block)
    assert len(found) == 3
    assert all(item is None or isinstance(item, str) for item in found)


@PURE
@given(addresses, st.text(string.ascii_letters + " ", max_size=20), addresses)
def test_header_addresses_from_and_sender(sender: str, display: str, from_address: str) -> None:
    assume(not sender.startswith(".") and not from_address.startswith("."))
    block = (f'From: "{display}" <{from_address}>\r\nSender: {sender}\r\n'
             f"Return-Path: <{sender}>\r\n\r\n").encode()
    assert header_addresses(block) == (from_address.lower(), sender.lower(), sender.lower())


def assert_not_echoed(token: str, texts: list[str]) -> None:
    """Check that neither the token nor a long part of it appears in any text."""
    pieces = [token, *(part for part in token.split(".") if len(part) >= 12)]
    for text in texts:
        for piece in pieces:
            assert piece not in text


def finding_texts(token: str, **checks: Any) -> list[str]:
    diagnosis = diagnose_token(token, **checks)
    texts = [f"{f.id} {f.field} {f.message} {f.fix}" for f in diagnosis.findings]
    if diagnosis.claims is not None:
        texts.append(json.dumps(diagnosis.claims.rows(), default=str))
    return texts


@PURE
@given(st.text(max_size=200), st.sampled_from([None, Protocol.IMAP, Protocol.SMTP]))
def test_token_random_text(text: str, protocol: Protocol | None) -> None:
    try:
        decode_token(text)
    except TokenDecodeError as error:
        assert str(error)
    token = "Tk9" + text
    assert_not_echoed(token, finding_texts(token, protocol=protocol, user="a@example.com"))


@PURE
@given(st.text(string.printable, max_size=200))
def test_extract_token_ascii(text: str) -> None:
    try:
        pasted = extract_token(text)
    except TokenDecodeError as error:
        assert str(error)
        return
    assert isinstance(pasted.token, str)


# Timestamps that datetime can represent (years 1970 to 2106), for the claims that must pass.
timestamps = st.integers(min_value=0, max_value=2**32) | st.floats(
    min_value=0, max_value=2**32, allow_nan=False)
claim_values = st.one_of(
    json_values.filter(lambda value: not isinstance(value, int | float) or abs(value) < 2**32),
    timestamps,
    st.sampled_from(["https://outlook.office.com", "https://graph.microsoft.com",
                     "IMAP.AccessAsUser.All SMTP.Send", "a@example.com"]),
)
claim_names = st.sampled_from(["aud", "exp", "nbf", "iat", "scp", "roles", "upn",
                               "unique_name", "preferred_username", "tid", "idtyp", "ver"])
claims_strategy = st.dictionaries(claim_names | st.text(max_size=8), claim_values, max_size=8)
header_strategy = st.dictionaries(st.sampled_from(["kid", "typ", "x5t", "cty"]),
                                  st.text(max_size=12), max_size=3)


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', **header})}.{part(claims)}.c2lnbmF0dXJlLWJ5dGVzLXg"


@PURE
@given(header_strategy, claims_strategy, st.sampled_from([None, Protocol.IMAP, Protocol.SMTP]),
       st.sampled_from([None, "a@example.com"]),
       st.sampled_from([None, "72f988bf-86f1-41af-91ab-2d7cd011db47"]))
def test_token_random_claims(
    header: dict[str, Any],
    claims: dict[str, Any],
    protocol: Protocol | None,
    user: str | None,
    tenant: str | None,
) -> None:
    token = unsigned_jwt(header, claims)
    texts = finding_texts(token, protocol=protocol, user=user, tenant=tenant)
    assert texts
    assert_not_echoed(token, texts)


@PURE
@given(claims_strategy)
def test_token_signed_claims(claims: dict[str, Any]) -> None:
    token = jwt.encode(claims, "k" * 32, algorithm="HS256")
    assert_not_echoed(token, finding_texts(token, protocol=Protocol.IMAP))


def test_extract_token_non_ascii() -> None:
    # Text that is not base64 is taken as the token itself; the diagnosis then names it.
    assert extract_token("café").token == "café"
    assert [f.id for f in diagnose_token("café").findings] == ["token-not-jwt"]


@pytest.mark.parametrize("value", [10**20, 1e18, -(10**20), math.nan])
def test_token_time_claim_out_of_range(value: float) -> None:
    diagnosis = diagnose_token(
        unsigned_jwt({}, {"exp": value, "aud": "https://outlook.office.com"})
    )
    assert diagnosis.claims is not None
    assert diagnosis.claims.time_claim("exp") is None


def test_token_numeric_kid() -> None:
    diagnosis = diagnose_token(unsigned_jwt({"kid": 2}, {"aud": "https://outlook.office.com"}))
    assert [finding.id for finding in diagnosis.findings] == ["token-not-jwt"]
