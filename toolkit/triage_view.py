"""The triage form for notebooks: the IMAP entry, an SMTP entry, one button, live steps, reports.

This is the presentation layer of `toolkit.triage`: the numbered steps appear
as they run with their status and time, then the ranked findings with the fix
first, and a row saves the reports. The IMAP entry comes from a `SettingsForm`,
so its password stays in the kernel; the SMTP entry is chosen from the
workspace's entries.
"""

from __future__ import annotations

import html
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
from IPython.display import display
from pandas.io.formats.style import Styler

from toolkit.findings import Severity
from toolkit.fromaddr.tenant import TenantSetup
from toolkit.probe.results import Timeouts
from toolkit.reports import RENDERERS, write_report
from toolkit.settings import Protocol, ServerSettings, SettingsError
from toolkit.tables import SEVERITY_COLOURS
from toolkit.triage import StepResult, StepStatus, TriageInputError, TriageResult, run_triage
from toolkit.widgets import SettingsForm

logger = logging.getLogger(__name__)

STEP_COLUMNS = ("step", "title", "status", "seconds", "summary")
FINDING_COLUMNS = ("step", "severity", "fix", "why", "id", "entry")
STATUS_COLOURS = {
    StepStatus.PASSED: "#d1f0d8",
    StepStatus.FAILED: SEVERITY_COLOURS[Severity.ERROR],
    StepStatus.SKIPPED: "#eaeef2",
}
_TEXT_COLOUR = "#1f2328"
NO_SMTP = "(no SMTP entry)"


def steps_frame(result: TriageResult) -> pd.DataFrame:
    """Return one row per step: number, title, status, seconds and summary."""
    rows = [
        {
            "step": step.number,
            "title": step.title,
            "status": step.status.value,
            "seconds": round(step.seconds, 2),
            "summary": step.summary,
        }
        for step in result.steps
    ]
    return pd.DataFrame(rows, columns=list(STEP_COLUMNS))


def findings_table(result: TriageResult) -> Styler:
    """Return the ranked findings with the fix first, each row coloured by its severity."""
    rows = [
        {
            "step": item.step,
            "severity": item.finding.severity.value,
            "fix": item.finding.fix,
            "why": item.finding.message,
            "id": item.finding.id,
            "entry": item.finding.server,
        }
        for item in result.findings
    ]
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))

    def colours(row: pd.Series) -> list[str]:
        colour = SEVERITY_COLOURS[Severity(row["severity"])]
        return [f"background-color: {colour}; color: {_TEXT_COLOUR}"] * len(row)

    styler = (
        frame.style.hide(axis="index")
        .format(escape="html", na_rep="")
        .set_properties(**{"text-align": "left", "vertical-align": "top"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
        .apply(colours, axis=1)
    )
    return styler.set_caption(html.escape(result.headline))


class StepsView:
    """An HTML widget with the numbered steps, updated as each one starts and ends."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self._rows: dict[int, str] = {}

    def clear(self) -> None:
        """Remove every step from the view."""
        self._rows.clear()
        self._render()

    def started(self, number: int, title: str) -> None:
        """Show a step as running."""
        self._rows[number] = _row(number, title, "running", "", "#fff3cd", "")
        self._render()

    def ended(self, step: StepResult) -> None:
        """Show a finished step with its status, time and summary."""
        colour = STATUS_COLOURS[step.status]
        seconds = f"{step.seconds:.2f} s"
        self._rows[step.number] = _row(
            step.number, step.title, step.status.value, seconds, colour, step.summary
        )
        self._render()

    def _render(self) -> None:
        rows = "".join(self._rows[number] for number in sorted(self._rows))
        self.widget.value = (
            "<table><tr><th>#</th><th>step</th><th>status</th><th>time</th><th>summary</th></tr>"
            f"{rows}</table>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _row(number: int, title: str, status: str, seconds: str, colour: str, summary: str) -> str:
    style = f' style="background-color: {colour}; color: {_TEXT_COLOUR}"'
    cells = (str(number), title, status, seconds, summary)
    return f"<tr{style}>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"


def run_with_steps(
    imap: ServerSettings,
    smtp: Sequence[ServerSettings] = (),
    *,
    servers: Sequence[ServerSettings] | None = None,
    tenant: TenantSetup | None = None,
    probe_timeouts: Timeouts | None = None,
    login_timeouts: Timeouts | None = None,
) -> TriageResult:
    """Run a triage from a notebook cell, showing the numbered steps as they run."""
    view = StepsView()
    display(view.widget)  # type: ignore[no-untyped-call]
    return run_triage(
        imap,
        smtp,
        servers=servers,
        tenant=tenant,
        probe_timeouts=probe_timeouts,
        login_timeouts=login_timeouts,
        on_step_start=view.started,
        on_step_end=view.ended,
    )


def save_reports(
    result: TriageResult, folder: str | Path, formats: Sequence[str] = tuple(RENDERERS)
) -> dict[str, Path]:
    """Write the report in each format into `folder` and return the paths by format.

    The files are named after the IMAP entry and the start time of the triage.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    stem = f"triage-{_safe(result.imap)}-{result.started:%Y%m%d-%H%M%S}"
    return {
        report_format: write_report(result, target / f"{stem}.{report_format}", report_format)
        for report_format in formats
    }


def _safe(name: str) -> str:
    return "".join(character if character.isalnum() else "-" for character in name)


class TriagePanel:
    """A form for the ticket's IMAP entry, an SMTP entry, a Run button, the steps and reports.

    `servers` are the entries the SMTP drop-down offers (the workspace's), which
    the settings checks and the From-address step also see. `imap` fills the
    form at the start. Reports are saved into `report_folder`, by default a new
    temporary folder. `run` does what the button does, for code and tests.
    """

    def __init__(
        self,
        servers: Sequence[ServerSettings],
        *,
        imap: ServerSettings | None = None,
        smtp: str | None = None,
        tenant: TenantSetup | None = None,
        report_folder: str | Path | None = None,
        probe_timeouts: Timeouts | None = None,
        login_timeouts: Timeouts | None = None,
    ) -> None:
        self.servers = list(servers)
        self.tenant = tenant
        self.probe_timeouts = probe_timeouts
        self.login_timeouts = login_timeouts
        self.report_folder = Path(report_folder or tempfile.mkdtemp(prefix="maildiag-triage-"))
        self.result: TriageResult | None = None

        self.form = SettingsForm()
        if imap is not None:
            self.form.load(imap)
        smtp_names = [s.name for s in self.servers if s.protocol is Protocol.SMTP]
        self.smtp = widgets.Dropdown(
            options=[NO_SMTP, *smtp_names],
            value=smtp if smtp in smtp_names else NO_SMTP,
            description="SMTP entry",
            style={"description_width": "10em"},
            layout={"width": "42em"},
        )
        self.run_button = widgets.Button(description="Run triage", button_style="primary")
        self.run_button.on_click(lambda _button: self._on_run())
        self.status = widgets.HTML()
        self.steps = StepsView()
        self.findings = widgets.Output()
        self.save_format = widgets.Dropdown(
            options=list(RENDERERS), value="html", description="Format"
        )
        self.save_button = widgets.Button(description="Save report", disabled=True)
        self.save_button.on_click(lambda _button: self._on_save())
        self.saved = widgets.HTML()
        self.widget = widgets.VBox(
            [
                self.form.widget,
                self.smtp,
                self.run_button,
                self.status,
                self.steps.widget,
                self.findings,
                widgets.HBox([self.save_format, self.save_button]),
                self.saved,
            ]
        )

    def run(self) -> TriageResult:
        """Run the triage on the form's entry and the chosen SMTP entry, and show it.

        Raises `SettingsError` for unusable form input and TriageInputError when
        the form's entry is not IMAP.
        """
        imap = self.form.settings
        smtp = [s for s in self.servers if s.name == self.smtp.value]
        self.steps.clear()
        self.findings.clear_output()
        self.status.value = html.escape(f"Triage of {imap.name} running...")
        result = run_triage(
            imap,
            smtp,
            servers=self.servers,
            tenant=self.tenant,
            probe_timeouts=self.probe_timeouts,
            login_timeouts=self.login_timeouts,
            on_step_start=self.steps.started,
            on_step_end=self.steps.ended,
        )
        self.result = result
        self.status.value = html.escape(f"Triage of {imap.name} done in {result.seconds:.1f} s.")
        with self.findings:
            display(findings_table(result))  # type: ignore[no-untyped-call]
        self.save_button.disabled = False
        return result

    def save(self, report_format: str | None = None) -> Path:
        """Write the last result's report in the chosen format and return its path.

        Raises RuntimeError before the first run.
        """
        if self.result is None:
            raise RuntimeError("run the triage before saving a report")
        chosen = report_format or str(self.save_format.value)
        path = save_reports(self.result, self.report_folder, [chosen])[chosen]
        self.saved.value = html.escape(f"Saved the {chosen} report: {path}")
        return path

    def _on_run(self) -> None:
        try:
            self.run()
        except (SettingsError, TriageInputError) as error:
            self.status.value = html.escape(f"Cannot run the triage: {error}")

    def _on_save(self) -> None:
        try:
            self.save()
        except OSError as error:
            self.saved.value = html.escape(f"The report was not saved: {error}")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
