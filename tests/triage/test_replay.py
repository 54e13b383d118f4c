"""A saved report replayed by local listeners gives the same findings as the original triage."""

from __future__ import annotations

import base64
import dataclasses
import re
import socket
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.login.canary import assert_absent
from tests.triage.conftest import FAST
from toolkit.replay import ReplayError, ReplayServer
from toolkit.replay.plan import ListenerMode
from toolkit.reports import load_report, write_report
from toolkit.settings import ServerSettings
from toolkit.triage import StepKey, TriageResult, run_triage, triage_file
from toolkit.triage.redact import Redactor

Case = Callable[[dict[str, ServerSettings]], tuple[ServerSettings, list[ServerSettings]]]


def _dana(change: dict[str, Any] | None = None, password: str | None = None) -> Case:
    def build(entries: dict[str, ServerSettings]) -> tuple[ServerSettings, list[ServerSettings]]:
        imap = dataclasses.replace(entries["dana-dovecot-imap"], **(change or {}))
        if password is not None:
            imap = imap.with_secrets(password=password)
        return imap, [entries["dana-dovecot-smtp"]]

    return build


def _named(imap: str, *smtp: str) -> Case:
    def build(entries: dict[str, ServerSettings]) -> tuple[ServerSettings, list[ServerSettings]]:
        return entries[imap], [entries[name] for name in smtp]

    return build


def _refused(entries: dict[str, ServerSettings]) -> tuple[ServerSettings, list[ServerSettings]]:
    # A port that was free a moment ago: nothing listens there, so connections are refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    imap = dataclasses.replace(entries["dana-dovecot-imap"], port=port)
    return imap, [entries["dana-dovecot-smtp"]]


CASES = {
    "healthy": _dana(),
    "refused": _refused,
    "silent-and-busy": _named("imap-silent", "smtp-busy"),
    "wrong-tick": _dana({"tls": False}),
    "untrusted-certificate": _dana({"ca_file": None}),
    "wrong-password": _dana(password="not-the-password-4711"),
    "missing-storage-folder": _dana({"storage_folder": "Suport"}),
    "expired-and-wrong-host": _named("imap-expired-certificate", "smtp-wrong-host-certificate"),
    "busy-and-no-starttls": _named("imap-busy", "smtp-no-starttls"),
    "courier-and-gmail": _named("chris-courier-imap", "chris-courier-smtp", "gina-gmail-smtp"),
}


def ranked_ids(result: TriageResult) -> list[tuple[int, str, str, str]]:
    return [
        (item.step, item.finding.severity.value, item.finding.id, item.finding.server)
        for item in result.findings
    ]


def without_ports(text: str) -> str:
    # Replayed messages may differ from the original only in the port numbers.
    return re.sub(r"\b\d{4,5}\b", "PORT", text)


def replayed(result: TriageResult, folder: Path) -> tuple[TriageResult, ReplayServer]:
    document = load_report(write_report(result, folder / "case.json"))
    with ReplayServer(document) as replay:
        settings = replay.write_settings(folder / "replay.toml")
        again = triage_file(
            settings,
            result.imap,
            list(result.smtp),
            environ=replay.environment(),
            probe_timeouts=FAST,
        )
    return again, replay


@pytest.mark.parametrize("name", sorted(CASES))
def test_replay_gives_same_findings(
    name: str, entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    imap, smtp = CASES[name](entries)
    original = run_triage(imap, smtp, servers=list(entries.values()), probe_timeouts=FAST)

    again, _ = replayed(original, tmp_path)

    assert ranked_ids(again) == ranked_ids(original)
    assert [step.status for step in again.steps] == [step.status for step in original.steps]
    for first, second in zip(original.findings, again.findings, strict=True):
        assert without_ports(second.finding.message) == without_ports(first.finding.message)


def test_replay_of_from_rewritten_tenant(
    scenario_file: Path, scenario_env: dict[str, str], tmp_path: Path
) -> None:
    original = triage_file(
        scenario_file, "gabe-gmail-imap", ["gina-gmail-smtp"], environ=scenario_env,
        probe_timeouts=FAST,
    )

    again, _ = replayed(original, tmp_path)

    assert ranked_ids(again)[0][2] == "reply-from-other-account"
    assert ranked_ids(again) == ranked_ids(original)
    replay_file = tomllib.loads((tmp_path / "replay.toml").read_text(encoding="utf-8"))
    assert {queue["name"] for queue in replay_file["queue"]} >= {"gmail-rewritten"}


def test_replay_of_oauth2_token_claims(
    scenario_file: Path, scenario_env: dict[str, str], tmp_path: Path
) -> None:
    original = triage_file(
        scenario_file, "alice-m365-imap", ["alice-m365-smtp"], environ=scenario_env,
        probe_timeouts=FAST,
    )
    assert "token-ok" in [item.finding.id for item in original.findings]

    again, _ = replayed(original, tmp_path)

    assert ranked_ids(again) == ranked_ids(original)


def test_untrusted_replay_writes_no_ca_file(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    imap = dataclasses.replace(entries["dana-dovecot-imap"], ca_file=None)
    original = run_triage(
        imap, [entries["dana-dovecot-smtp"]], servers=list(entries.values()), probe_timeouts=FAST
    )
    document = load_report(write_report(original, tmp_path / "case.json"))

    with ReplayServer(document) as replay:
        servers = {entry["name"]: entry for entry in replay.settings_document()["server"]}
        modes = {endpoint.name: endpoint.mode for endpoint in replay.endpoints}

    assert "ca_file" not in servers["dana-dovecot-imap"]
    assert "ca_file" in servers["dana-dovecot-smtp"]
    assert servers["dana-dovecot-imap"]["host"] == "127.0.0.1"
    assert modes == {
        "dana-dovecot-imap": ListenerMode.IMPLICIT_TLS,
        "dana-dovecot-smtp": ListenerMode.STARTTLS,
    }


def test_replay_keeps_no_secret(entries: dict[str, ServerSettings], tmp_path: Path) -> None:
    canary = "canary-Pa55word-replay-5d1e"
    imap = entries["dana-dovecot-imap"].with_secrets(password=canary)
    original = run_triage(imap, servers=list(entries.values()), probe_timeouts=FAST)
    document = load_report(write_report(original, tmp_path / "case.json"))

    with ReplayServer(document) as replay:
        settings = replay.write_settings().read_text(encoding="utf-8")
        environment = replay.environment()

    assert_absent(canary, [settings, *environment.values()], user=imap.user)


def test_replay_rejects_report_without_steps() -> None:
    with pytest.raises(ReplayError, match="steps"):
        ReplayServer({"schema": "maildiag-triage/1", "entries": []})


def test_replay_rejects_non_loopback_host(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    original = run_triage(
        entries["dana-dovecot-imap"], servers=list(entries.values()), probe_timeouts=FAST
    )
    document = load_report(write_report(original, tmp_path / "case.json"))

    with pytest.raises(ValueError, match="loopback"):
        ReplayServer(document, host="192.0.2.1")


def test_redactor_masks_secret_and_its_encodings(entries: dict[str, ServerSettings]) -> None:
    canary = "canary-Pa55word-redact-77aa"
    entry = entries["dana-dovecot-imap"].with_secrets(password=canary)
    redactor = Redactor([entry])
    texts = [
        f"server echoed {canary}",
        "AUTH PLAIN " + base64.b64encode(f"\0{entry.user}\0{canary}".encode()).decode(),
        "x" + base64.b64encode(b"ab" + canary.encode()).decode(),
    ]
    masked = [redactor.text(text) for text in texts]

    assert_absent(canary, masked, user=entry.user)
    assert redactor.data({"key": [texts[0]]}) == {"key": [masked[0]]}


def test_step_data_survives_replay_plan(entries: dict[str, ServerSettings], tmp_path: Path) -> None:
    original = run_triage(
        entries["chris-courier-imap"],
        [entries["chris-courier-smtp"]],
        servers=list(entries.values()),
        probe_timeouts=FAST,
    )
    document = load_report(write_report(original, tmp_path / "case.json"))
    replay = ReplayServer(document)

    imap = replay.scripts[0]
    assert imap.folders is not None
    assert imap.folders.namespaces is not None
    assert imap.folders.namespaces["personal"][0]["prefix"] == "INBOX."
    assert original.step(StepKey.FOLDERS).data["report"]["listing"]["folders"]


def test_listener_for_both_modes(entries: dict[str, ServerSettings], tmp_path: Path) -> None:
    # No sandbox port speaks both modes, so the report is put together from two
    # real ones: implicit TLS from one port, STARTTLS from another.
    implicit = run_triage(entries["dana-dovecot-imap"], probe_timeouts=FAST)
    starttls = run_triage(entries["imap-starttls-required"], probe_timeouts=FAST)
    document = load_report(write_report(implicit, tmp_path / "case.json"))
    handshake = document["steps"][1]["data"]["entries"][0]
    handshake["starttls"] = starttls.step(StepKey.IMAP_HANDSHAKE).data["entries"][0]["starttls"]

    with ReplayServer(document) as replay:
        settings = replay.write_settings(tmp_path / "replay.toml")
        again = triage_file(
            settings, "dana-dovecot-imap", environ=replay.environment(), probe_timeouts=FAST
        )
        mode = replay.endpoints[0].mode

    verdict = again.step(StepKey.IMAP_HANDSHAKE).data["entries"][0]["verdict"]
    assert mode is ListenerMode.BOTH
    assert verdict["works_ticked"] is True
    assert verdict["works_unticked"] is True
    assert again.step(StepKey.IMAP_LOGIN).data["entries"][0]["login"]["success"] is True


def test_unreproducible_probe_gets_note(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    original = run_triage(entries["dana-dovecot-imap"], probe_timeouts=FAST)
    document = load_report(write_report(original, tmp_path / "case.json"))
    handshake = document["steps"][1]["data"]["entries"][0]
    for mode in ("implicit", "starttls"):
        handshake[mode]["reason"] = "tls-version-mismatch"

    replay = ReplayServer(document)

    assert replay.scripts[0].mode is ListenerMode.SILENT
    assert "tls-version-mismatch" in replay.notes[0]
    assert replay.notes[0].startswith("dana-dovecot-imap: ")
