"""The online audit against the sandbox: a TLS verdict per entry, each endpoint probed once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from toolkit.audit import audit_files
from toolkit.audit.table import audit_frame
from toolkit.probe.results import Timeouts
from toolkit.sandbox import Sandbox
from toolkit.settings_file import save_settings

FAST = Timeouts(connect=2, greeting=1, handshake=2, read=2)


def test_online_verdicts_per_entry(sandbox: Sandbox, tmp_path: Path) -> None:
    path = sandbox.write_settings(tmp_path / "sandbox-settings.toml")
    calls: list[tuple[int, int, str]] = []

    report = audit_files([path], online=True, timeouts=FAST, progress=lambda *c: calls.append(c))

    verdicts = {row.server: row.tls_verdict for row in report.rows}
    assert verdicts["dana-dovecot-imap"] == "tick works"
    assert verdicts["gina-gmail-smtp"] == "tick works"
    assert verdicts["imap-no-starttls"] == "port unusable"
    assert verdicts["smtp-silent"] == "port unusable"
    assert verdicts["imap-expired-certificate"] == "tick works; certificate-expired"
    tops = {row.server: row.top.id for row in report.rows if row.top is not None}
    assert tops["imap-busy"] == "port-unusable"
    assert tops["smtp-wrong-host-certificate"] == "certificate-hostname-mismatch"
    assert report.has_errors()
    assert "tls verdict" in audit_frame(report).columns


def test_each_endpoint_probed_once(sandbox: Sandbox, tmp_path: Path) -> None:
    path = sandbox.write_settings(tmp_path / "sandbox-settings.toml")
    endpoints = {(s.host, s.port, s.protocol) for s in sandbox.settings()}
    calls: list[tuple[int, int, str]] = []

    audit_files([path], online=True, timeouts=FAST, progress=lambda *c: calls.append(c))

    assert len(sandbox.settings()) > len(endpoints)
    assert len(calls) == 1 + len(endpoints)
    assert {total for _, total, _ in calls} == {1 + len(endpoints)}
    assert sorted(done for done, _, _ in calls) == list(range(1, len(calls) + 1))


def test_wrong_tick_names_the_change(sandbox: Sandbox, tmp_path: Path) -> None:
    entry = next(s for s in sandbox.settings() if s.name == "dana-dovecot-imap")
    unticked = dataclasses.replace(entry, name="dana-unticked", tls=False)
    path = save_settings(tmp_path / "wrong-tick.toml", [entry, unticked])

    report = audit_files([path], online=True, timeouts=FAST)

    rows = {row.server: row for row in report.rows}
    assert rows["dana-dovecot-imap"].tls_verdict == "tick works"
    wrong = rows["dana-unticked"]
    assert wrong.tls_verdict == "wrong tick: Tick TLS."
    assert wrong.top is not None
    assert wrong.top.id == "tls-tick-wrong-for-port"
    assert wrong.top.fix == "Tick TLS."


def test_offline_audit_opens_no_connection(sandbox: Sandbox, tmp_path: Path) -> None:
    path = sandbox.write_settings(tmp_path / "sandbox-settings.toml")

    report = audit_files([path])

    assert all(row.tls_verdict == "" for row in report.rows)
    assert not report.online
    assert "tls verdict" not in audit_frame(report).columns
