"""The triage panel for notebooks: the form, the button, the live steps and the saved report."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.login.canary import assert_absent
from tests.triage.conftest import FAST
from toolkit.reports import load_report
from toolkit.settings import ServerSettings
from toolkit.triage import StepStatus
from toolkit.triage_view import NO_SMTP, StepsView, TriagePanel, findings_table, steps_frame

CANARY = "canary-Pa55word-panel-3c9f"


def panel_for(
    entries: dict[str, ServerSettings], imap: ServerSettings, folder: Path
) -> TriagePanel:
    return TriagePanel(
        list(entries.values()),
        imap=imap,
        smtp="dana-dovecot-smtp",
        report_folder=folder,
        probe_timeouts=FAST,
    )


def test_button_runs_steps_and_shows_them(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    imap = dataclasses.replace(entries["dana-dovecot-imap"], storage_folder="Suport")
    panel = panel_for(entries, imap, tmp_path)

    panel.run_button.click()

    assert panel.result is not None
    assert panel.result.findings[0].finding.id == "storage-folder-not-found"
    assert panel.result.smtp == ("dana-dovecot-smtp",)
    table = panel.steps.widget.value
    assert table.count("<tr style=") == 7
    assert "Folder tree and storage folder" in table
    assert "failed" in table
    assert "done in" in panel.status.value
    assert panel.save_button.disabled is False


def test_save_writes_report_in_chosen_format(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    panel = panel_for(entries, entries["dana-dovecot-imap"], tmp_path)
    panel.run()
    panel.save_format.value = "json"

    panel.save_button.click()

    saved = list(tmp_path.glob("triage-dana-dovecot-imap-*.json"))
    assert len(saved) == 1
    assert load_report(saved[0])["imap"] == "dana-dovecot-imap"
    assert str(saved[0]) in panel.saved.value


def test_unusable_form_input_shows_reason(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    panel = panel_for(entries, entries["dana-dovecot-imap"], tmp_path)
    panel.form.set_values(host="")

    panel.run_button.click()

    assert panel.result is None
    assert "Cannot run the triage" in panel.status.value
    assert "host" in panel.status.value


def test_panel_without_smtp_entry(entries: dict[str, ServerSettings], tmp_path: Path) -> None:
    panel = panel_for(entries, entries["dana-dovecot-imap"], tmp_path)
    panel.smtp.value = NO_SMTP

    result = panel.run()

    assert result.smtp == ()
    assert result.steps[2].status is StepStatus.SKIPPED
    assert result.steps[2].skip_reason == "skipped: there is no SMTP entry to check"


def test_form_password_stays_out(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    panel = panel_for(entries, entries["dana-dovecot-imap"], tmp_path)
    panel.form.set_values(password=CANARY)

    result = panel.run()
    path = panel.save("md")

    assert result.findings[0].finding.id == "login-rejected"
    texts = [
        panel.steps.widget.value,
        panel.status.value,
        panel.saved.value,
        path.read_text(encoding="utf-8"),
        findings_table(result).to_html(),
        steps_frame(result).to_csv(),
        repr(panel.form),
    ]
    assert_absent(CANARY, texts, user="dana@dovecot.sandbox.test")


def test_steps_view_shows_running_then_result(
    entries: dict[str, ServerSettings], tmp_path: Path
) -> None:
    view = StepsView()

    view.started(1, "Settings checks")
    running = view.widget.value
    view.clear()

    assert "running" in running
    assert "<tr style=" not in view.widget.value
