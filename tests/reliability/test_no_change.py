"""Read-only checks leave mailboxes as they were: folders, their flags and STATUS counts.

The read-only checks are the probe, the login test, the folder listing, the
storage-folder check and ``maildiag check``, ``probe``, ``login`` and ``folders``
(without ``--create``). Before and after them, every folder of every account is
listed with its attributes. STATUS gives MESSAGES, RECENT, UIDNEXT, UIDVALIDITY
and UNSEEN for each selectable one. SELECT would clear RECENT and a FETCH of a
body would set \\Seen, so both counts would show a check that opened a mailbox
read-write. A control creates a folder and appends a message, and the snapshot
must show both.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

import toolkit.cli
from tests.realservers import DOMAIN, TlsFiles, require_installed
from tests.realservers.dovecot import BINARIES, DovecotInstance, DovecotServer
from tests.reliability.measure import FAST
from toolkit.checks import check_file
from toolkit.folders import check_entry_storage_folder, create_storage_folder, list_folders
from toolkit.login.check import check_login
from toolkit.probe import Endpoint
from toolkit.probe.matrix import probe_many
from toolkit.sandbox import Sandbox
from toolkit.settings import Protocol, Security, ServerSettings, build_settings
from toolkit.settings_file import resolve_secrets, save_settings

STATUS_ITEMS = [b"MESSAGES", b"RECENT", b"UIDNEXT", b"UIDVALIDITY", b"UNSEEN"]
Snapshot = dict[str, dict[str, Any]]


def message(subject: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "sender@example.test"
    mail["To"] = "agent@example.test"
    mail["Subject"] = subject
    mail.set_content("A message for the no-change test.")
    return mail.as_bytes()


def account_state(entry: ServerSettings, context: ssl.SSLContext) -> dict[str, Any]:
    """Return every folder of one account with its attributes and STATUS counts."""
    state: dict[str, Any] = {}
    with IMAPClient(entry.host, entry.port, ssl=True, ssl_context=context, timeout=10) as client:
        if entry.token:
            client.oauth2_login(entry.user, entry.token.reveal())
        else:
            assert entry.password is not None
            client.login(entry.user, entry.password.reveal())
        for flags, delimiter, name in client.list_folders():
            attributes = sorted(flag.decode() if isinstance(flag, bytes) else str(flag)
                                for flag in flags)
            counts = None
            if not any(attribute.lower() == "\\noselect" for attribute in attributes):
                status = client.folder_status(name, STATUS_ITEMS)
                counts = {key.decode(): value for key, value in sorted(status.items())}
            state[str(name)] = {"attributes": attributes, "delimiter": delimiter,
                                "status": counts}
    return state


def snapshot(entries: Sequence[ServerSettings], context: ssl.SSLContext) -> Snapshot:
    return {entry.user: account_state(entry, context) for entry in entries}


def run_cli(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *argv: str) -> int:
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return toolkit.cli.main(list(argv))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port_base=0) as running:
        for user in running.users:
            if user.can_sign_in:
                for number in range(3):
                    running.append_message(user.address, message(f"seed {number}"))
        yield running


def sandbox_entries(sandbox: Sandbox) -> list[ServerSettings]:
    """Every settings entry of the sandbox, with its password or a fresh token."""
    environment = sandbox.environment()
    entries = []
    for entry in sandbox.settings():
        entry = resolve_secrets(entry, environment)
        if entry.token_env and not entry.token:
            entry = entry.with_secrets(token=sandbox.access_token(entry.user))
        entries.append(entry)
    return entries


def account_entries(entries: Sequence[ServerSettings], sandbox: Sandbox) -> list[ServerSettings]:
    """One implicit-TLS IMAP entry per account, for the snapshots."""
    imap_tls = sandbox.endpoint("imap-tls").port
    return [entry for entry in entries
            if entry.protocol is Protocol.IMAP and entry.port == imap_tls]


def test_sandbox_unchanged(
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries = sandbox_entries(sandbox)
    accounts = account_entries(entries, sandbox)
    context = sandbox.client_context()
    before = snapshot(accounts, context)
    assert sum(f["status"]["MESSAGES"] for a in before.values() for f in a.values()
               if f["status"]) >= 3 * len(accounts)

    endpoints = [
        Endpoint(e.host, e.port, e.protocol, security, str(sandbox.ca_file))
        for e in sandbox.endpoints if e.protocol in (Protocol.IMAP, Protocol.SMTP)
        for security in (Security.IMPLICIT_TLS, Security.STARTTLS)
    ]
    probe_many(endpoints, FAST, max_workers=len(endpoints))
    # A silent port never reaches a login; the probes above have covered it.
    silent = {e.port for e in sandbox.endpoints if e.behaviour.value == "silent"}
    for entry in entries:
        if entry.port in silent:
            continue
        check_login(entry, timeouts=FAST, allow_plaintext=True)
        if entry.protocol is Protocol.IMAP:
            list_folders(entry, FAST)
            check_entry_storage_folder(entry, entry.storage_folder, FAST)
    check_file(entries)

    settings_file = save_settings(tmp_path / "settings.toml", entries)
    tokens = {entry.token_env: entry.token.reveal() for entry in entries
              if entry.token_env and entry.token}
    env = {**sandbox.environment(), **tokens}
    imap = sandbox.endpoint("imap-starttls")
    run_cli(monkeypatch, env, "check", str(settings_file))
    run_cli(monkeypatch, env, "probe", imap.host, "--protocol", "imap", "--port", str(imap.port),
            "--ca-file", str(sandbox.ca_file), "--timeout", "1")
    for entry in accounts:
        run_cli(monkeypatch, env, "login", str(settings_file), "--server", entry.name)
        run_cli(monkeypatch, env, "folders", str(settings_file), "--server", entry.name,
                "--timeout", "5")
    capsys.readouterr()

    assert snapshot(accounts, context) == before


def test_snapshot_sees_changes(sandbox: Sandbox) -> None:
    entries = sandbox_entries(sandbox)
    dana = next(e for e in account_entries(entries, sandbox) if e.user.startswith("dana"))
    context = sandbox.client_context()
    before = snapshot([dana], context)
    create_storage_folder(dana, f"Control {secrets.token_hex(3)}", FAST)
    created = snapshot([dana], context)
    assert set(created[dana.user]) - set(before[dana.user])
    sandbox.append_message(dana.user, message("control"))
    appended = snapshot([dana], context)
    assert appended[dana.user]["INBOX"]["status"] != created[dana.user]["INBOX"]["status"]


@pytest.fixture(scope="module")
def own_dovecot(real_servers_folder: Path, mail_tls: TlsFiles) -> Iterator[DovecotServer]:
    """A private Dovecot with one account and seeded mail, so RECENT and UNSEEN can change."""
    require_installed("Dovecot", BINARIES)
    instance = DovecotInstance(
        real_servers_folder / "dovecot-reliability",
        mail_tls,
        {f"nora@{DOMAIN}": secrets.token_urlsafe(12)},
        extra_folders=("Support", "Support/Contact", "Archive"),
    )
    with instance as server:
        context = ssl.create_default_context(cafile=str(server.ca_file))
        user, password = next(iter(server.users.items()))
        with IMAPClient(server.host, server.imap_tls_port, ssl_context=context) as client:
            client.login(user, password)
            for folder in ("INBOX", "INBOX", "Support", "Archive"):
                client.append(folder, message(f"seed in {folder}"))
            client.append("Archive", message("already read"), flags=[b"\\Seen"])
        yield server


def dovecot_entry(server: DovecotServer, *, tls: bool) -> ServerSettings:
    user, password = next(iter(server.users.items()))
    return build_settings(
        {"name": "nora-imap" if tls else "nora-imap-starttls", "protocol": "imap",
         "host": server.host, "port": server.imap_tls_port if tls else server.imap_starttls_port,
         "tls": tls, "auth": "basic", "user": user, "storage_folder": "Support",
         "ca_file": str(server.ca_file), "password_env": "MAILDIAG_NORA_PASSWORD"},
        password=password,
    )


@pytest.mark.dovecot
def test_dovecot_unchanged(
    own_dovecot: DovecotServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries = [dovecot_entry(own_dovecot, tls=True), dovecot_entry(own_dovecot, tls=False)]
    context = ssl.create_default_context(cafile=str(own_dovecot.ca_file))
    before = snapshot(entries[:1], context)
    status = before[entries[0].user]["INBOX"]["status"]
    assert status["MESSAGES"] == 2
    assert status["RECENT"] == 2

    for entry in entries:
        probe_many([Endpoint(entry.host, entry.port, Protocol.IMAP, security, str(entry.ca_file))
                    for security in (Security.IMPLICIT_TLS, Security.STARTTLS)], FAST)
        check_login(entry, timeouts=FAST)
        list_folders(entry, FAST)
        check_entry_storage_folder(entry, "Support", FAST)
        check_entry_storage_folder(entry, "Support/Contact", FAST)
    check_file(entries)

    settings_file = save_settings(tmp_path / "settings.toml", entries)
    _user, password = next(iter(own_dovecot.users.items()))
    env = {"MAILDIAG_NORA_PASSWORD": password}
    run_cli(monkeypatch, env, "check", str(settings_file))
    for entry in entries:
        run_cli(monkeypatch, env, "login", str(settings_file), "--server", entry.name)
        run_cli(monkeypatch, env, "folders", str(settings_file), "--server", entry.name)
    capsys.readouterr()

    assert snapshot(entries[:1], context) == before


@pytest.mark.dovecot
def test_dovecot_snapshot_sees_select(own_dovecot: DovecotServer) -> None:
    # Runs after test_dovecot_unchanged: a read-write SELECT clears RECENT for good.
    entry = dovecot_entry(own_dovecot, tls=True)
    context = ssl.create_default_context(cafile=str(own_dovecot.ca_file))
    before = snapshot([entry], context)
    with IMAPClient(entry.host, entry.port, ssl_context=context) as client:
        assert entry.password is not None
        client.login(entry.user, entry.password.reveal())
        client.select_folder("INBOX")
    after = snapshot([entry], context)
    assert before[entry.user]["INBOX"]["status"]["RECENT"] == 2
    assert after[entry.user]["INBOX"]["status"]["RECENT"] == 0
