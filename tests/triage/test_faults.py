"""Triage against sandbox entries with one fault each: the fault is the top finding."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.triage.conftest import FAST
from toolkit.findings import Severity
from toolkit.settings import ServerSettings
from toolkit.triage import (
    StepKey,
    StepStatus,
    TriageInputError,
    TriageResult,
    run_triage,
    select_entries,
    triage_file,
)


def triage(
    imap: ServerSettings, smtp: ServerSettings, entries: dict[str, ServerSettings]
) -> TriageResult:
    return run_triage(imap, [smtp], servers=list(entries.values()), probe_timeouts=FAST)


def top(result: TriageResult) -> tuple[str, Severity, int]:
    first = result.findings[0]
    return first.finding.id, first.finding.severity, first.step


def test_healthy_entry_passes_every_step(entries: dict[str, ServerSettings]) -> None:
    result = triage(entries["dana-dovecot-imap"], entries["dana-dovecot-smtp"], entries)

    assert [step.number for step in result.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert [step.key for step in result.steps] == list(StepKey)
    assert all(step.status is StepStatus.PASSED for step in result.steps)
    assert not result.has_errors
    assert all(step.seconds >= 0 for step in result.steps)
    assert result.headline == "No errors or warnings: every step passed."


def test_wrong_tick_is_top_finding(entries: dict[str, ServerSettings]) -> None:
    # TLS unticked on the implicit-TLS port: the product would wait for a greeting.
    imap = dataclasses.replace(entries["dana-dovecot-imap"], tls=False)
    result = triage(imap, entries["dana-dovecot-smtp"], entries)

    finding_id, severity, step = top(result)
    assert finding_id in ("tls-tick-wrong-for-port", "tls-tick-port-mismatch")
    assert severity is Severity.ERROR
    assert step == 2
    assert result.findings[0].finding.fix == "Tick TLS."
    assert result.step(StepKey.IMAP_HANDSHAKE).status is StepStatus.FAILED


def test_wrong_tick_skips_login_and_folders(entries: dict[str, ServerSettings]) -> None:
    imap = dataclasses.replace(entries["dana-dovecot-imap"], tls=False)
    result = triage(imap, entries["dana-dovecot-smtp"], entries)

    login = result.step(StepKey.IMAP_LOGIN)
    folders = result.step(StepKey.FOLDERS)
    assert login.status is StepStatus.SKIPPED
    assert login.skip_reason == "skipped: the IMAP handshake failed in step 2"
    assert folders.status is StepStatus.SKIPPED
    assert folders.skip_reason == "skipped: the IMAP handshake failed in step 2"
    assert login.findings == ()
    # The SMTP side is independent of the IMAP handshake and still runs.
    assert result.step(StepKey.SMTP_LOGIN).status is StepStatus.PASSED


def test_untrusted_certificate_is_top_finding(entries: dict[str, ServerSettings]) -> None:
    # Without the sandbox's CA file the certificate chains to no trusted root.
    imap = dataclasses.replace(entries["dana-dovecot-imap"], ca_file=None)
    result = triage(imap, entries["dana-dovecot-smtp"], entries)

    assert top(result) == ("certificate-untrusted", Severity.ERROR, 2)
    assert result.step(StepKey.IMAP_LOGIN).status is StepStatus.SKIPPED


def test_wrong_password_is_top_finding(entries: dict[str, ServerSettings]) -> None:
    imap = entries["dana-dovecot-imap"].with_secrets(password="not-the-password-4711")
    result = triage(imap, entries["dana-dovecot-smtp"], entries)

    assert top(result) == ("login-rejected", Severity.ERROR, 4)
    login = result.step(StepKey.IMAP_LOGIN).data["entries"][0]["login"]
    assert login["reason"] == "auth-rejected"
    assert login["mechanism"] == "IMAP-LOGIN"
    folders = result.step(StepKey.FOLDERS)
    assert folders.status is StepStatus.SKIPPED
    assert folders.skip_reason == "skipped: the IMAP login failed in step 4"


def test_missing_storage_folder_is_top_finding(entries: dict[str, ServerSettings]) -> None:
    imap = dataclasses.replace(entries["dana-dovecot-imap"], storage_folder="Suport")
    result = triage(imap, entries["dana-dovecot-smtp"], entries)

    assert top(result) == ("storage-folder-not-found", Severity.ERROR, 6)
    assert "Support" in result.findings[0].finding.message
    assert result.step(StepKey.FOLDERS).data["tree"]


def test_from_rewritten_is_top_finding(scenario_file: Path, scenario_env: dict[str, str]) -> None:
    # Gabe's Gmail-like account replies through Gina's Gmail-like SMTP login.
    result = triage_file(
        scenario_file,
        "gabe-gmail-imap",
        ["gina-gmail-smtp"],
        environ=scenario_env,
        probe_timeouts=FAST,
    )

    assert top(result) == ("reply-from-other-account", Severity.WARNING, 7)
    assert not result.has_errors
    predictions = result.step(StepKey.FROM_ADDRESS).data["predictions"]
    through_gina = next(p for p in predictions if p["smtp"] == "gina-gmail-smtp")
    assert through_gina["outcome"] == "rewritten"
    assert through_gina["from_address"] == "gina@gmail.sandbox.test"


def test_findings_rank_errors_then_step_order(entries: dict[str, ServerSettings]) -> None:
    imap = dataclasses.replace(entries["dana-dovecot-imap"], storage_folder="Suport")
    result = triage(imap, entries["dana-dovecot-smtp"], entries)

    ranks = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    keys = [(ranks[item.finding.severity], item.step) for item in result.findings]
    assert keys == sorted(keys)


def test_select_entries_defaults_to_same_user(entries: dict[str, ServerSettings]) -> None:
    servers = list(entries.values())
    imap, smtp = select_entries(servers, "gina-gmail-imap")

    assert imap.name == "gina-gmail-imap"
    assert [entry.name for entry in smtp] == ["gina-gmail-smtp"]


def test_select_entries_rejects_smtp_as_server(entries: dict[str, ServerSettings]) -> None:
    with pytest.raises(TriageInputError, match="is an SMTP entry"):
        select_entries(list(entries.values()), "gina-gmail-smtp")


def test_select_entries_names_unknown_smtp(entries: dict[str, ServerSettings]) -> None:
    with pytest.raises(TriageInputError, match="gina-gmail-smtp"):
        select_entries(list(entries.values()), "gina-gmail-imap", ["no-such-entry"])


def test_run_triage_rejects_smtp_entry(entries: dict[str, ServerSettings]) -> None:
    with pytest.raises(TriageInputError, match="give an IMAP entry"):
        run_triage(entries["gina-gmail-smtp"])
