"""Tables, a chart and widgets for the From-address table, for notebooks.

This is the presentation layer of `toolkit.fromaddr`: pandas, matplotlib and
ipywidgets live here. Rows are the IMAP accounts (address A), columns the SMTP
entries (login B), and each cell shows what customers see in From and Sender.
Cells are coloured by outcome: from A, on behalf, rewritten to B, rejected or
unknown. After a check, each cell also shows whether the test message arrived
as predicted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
from IPython.display import display
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from pandas.io.formats.style import Styler

from toolkit.fromaddr import FromReport, VerifyError, VerifyOptions, build_report
from toolkit.fromaddr.observed import Observation, VerifyReport
from toolkit.fromaddr.predict import FromTable, Prediction
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.tenant import TenantSetup, tenant_setup_from_text
from toolkit.settings import SettingsError
from toolkit.tables import field_errors_styler

OUTCOME_LABELS = {
    Outcome.FROM_A: "from A",
    Outcome.ON_BEHALF: "on behalf",
    Outcome.REWRITTEN: "rewritten to B",
    Outcome.REJECTED: "rejected",
    Outcome.UNKNOWN: "unknown",
}
# The colour of each outcome, and its name for captions.
OUTCOME_COLOURS = {
    Outcome.FROM_A: "#b7e4c7",
    Outcome.ON_BEHALF: "#ffe8a3",
    Outcome.REWRITTEN: "#ffc078",
    Outcome.REJECTED: "#f5a3a9",
    Outcome.UNKNOWN: "#d8d8d8",
}
_COLOUR_NAMES = {
    Outcome.FROM_A: "green",
    Outcome.ON_BEHALF: "yellow",
    Outcome.REWRITTEN: "orange",
    Outcome.REJECTED: "red",
    Outcome.UNKNOWN: "grey",
}
# Dark text keeps the coloured cells readable in a dark theme too.
_TEXT_COLOUR = "#1f2328"
# Short cell texts for the chart, where a whole address does not fit.
_CHART_TEXT = {
    Outcome.FROM_A: "A",
    Outcome.ON_BEHALF: "B for A",
    Outcome.REWRITTEN: "B",
    Outcome.REJECTED: "rejected",
    Outcome.UNKNOWN: "?",
}


def row_label(prediction: Prediction) -> str:
    """Return the row label of a pairing: the address A and its IMAP entry."""
    return f"{prediction.address} ({prediction.imap})"


def column_label(prediction: Prediction) -> str:
    """Return the column label of a pairing: the SMTP entry and its login B."""
    return f"{prediction.smtp} ({prediction.login})"


def table_frame(table: FromTable, report: VerifyReport | None = None) -> pd.DataFrame:
    """Return the grid as text: one row per IMAP entry, one column per SMTP entry."""
    observed = _observations_by_pairing(table, report)
    cells: dict[str, dict[str, str]] = {}
    rows: list[str] = []
    for prediction in table.predictions:
        row = row_label(prediction)
        if row not in rows:
            rows.append(row)
        lines = [_cell_headline(prediction)]
        if prediction.outcome not in (Outcome.REJECTED, Outcome.UNKNOWN):
            lines.append(prediction.headline)
        if prediction.needs_configuration:
            lines.append("needs provider configuration")
        observation = observed.get((prediction.imap, prediction.smtp))
        if observation is not None:
            lines.append(_check_mark(observation))
        cells.setdefault(column_label(prediction), {})[row] = "\n".join(lines)
    return pd.DataFrame(cells, index=rows)


def table_styler(table: FromTable, report: VerifyReport | None = None) -> Styler:
    """Return the grid coloured by outcome, with the explanation and the fix as tooltips."""
    frame = table_frame(table, report)
    colours = pd.DataFrame("", index=frame.index, columns=frame.columns)
    tips = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for prediction in table.predictions:
        row, column = row_label(prediction), column_label(prediction)
        colours.loc[row, column] = (
            f"background-color: {OUTCOME_COLOURS[prediction.outcome]}; color: {_TEXT_COLOUR}"
        )
        tips.loc[row, column] = " ".join(
            part
            for part in (prediction.explanation, prediction.fix and "Fix: " + prediction.fix)
            if part
        )
    legend = ", ".join(
        f"{_COLOUR_NAMES[outcome]} {label}" for outcome, label in OUTCOME_LABELS.items()
    )
    styler = (
        frame.style.format(escape="html")
        .format_index(escape="html", axis=0)
        .format_index(escape="html", axis=1)
        .apply(lambda _frame: colours, axis=None)
        .set_properties(
            **{"white-space": "pre-wrap", "text-align": "left", "vertical-align": "top"}
        )
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
        .set_tooltips(tips)
    )
    envelope = table.envelope_sender.value
    return styler.set_caption(
        f"What customers see on replies (rows: IMAP account A; columns: SMTP entry, login B; "
        f"envelope sender: {envelope}). Colours: {legend}."
    )


def details_frame(table: FromTable) -> pd.DataFrame:
    """Return one row per pairing with the outcome, the fix, the rule and its source."""
    return pd.DataFrame(
        [
            {
                "IMAP entry": p.imap,
                "A": p.address,
                "SMTP entry": p.smtp,
                "B": p.login,
                "envelope sender": p.envelope_sender.value,
                "outcome": OUTCOME_LABELS[p.outcome],
                "From": p.from_address or "",
                "Sender": p.sender_address or "",
                "reply": " ".join(part for part in (p.reply, p.stage and f"at {p.stage}") if part),
                "configuration": p.configuration,
                "fix": p.fix,
                "rule": p.rule,
                "source": p.source,
                "note": p.note,
            }
            for p in table.predictions
        ]
    )


def observations_frame(report: VerifyReport) -> pd.DataFrame:
    """Return one row per test message: prediction, what arrived, and whether they match."""
    return pd.DataFrame(
        [
            {
                "IMAP entry": o.prediction.imap,
                "SMTP entry": o.prediction.smtp,
                "envelope sender": o.prediction.envelope_sender.value,
                "predicted": o.prediction.headline,
                "observed": o.headline,
                "matches": o.matches,
                "From": o.from_address or "",
                "Sender": o.sender_address or "",
                "Return-Path": o.return_path or "",
            "folder": o.folder,
                "Message-ID": o.message_id,
            }
            for o in report.observations
        ]
    )


def table_chart(table: FromTable, report: VerifyReport | None = None) -> Figure:
    """Draw the grid as a heat map with one colour per outcome, a legend and the check's marks."""
    outcomes = list(OUTCOME_LABELS)
    rows = list(dict.fromkeys(p.address for p in table.predictions))
    columns = list(dict.fromkeys(p.smtp for p in table.predictions))
    grid = [[0] * len(columns) for _ in rows]
    figure = Figure(figsize=(1.6 + 1.3 * len(columns), 1.2 + 0.45 * len(rows)))
    axis = figure.subplots()
    observed = _observations_by_pairing(table, report)
    for p in table.predictions:
        row, column = rows.index(p.address), columns.index(p.smtp)
        grid[row][column] = outcomes.index(p.outcome)
        text = _CHART_TEXT[p.outcome]
        observation = observed.get((p.imap, p.smtp))
        if observation is not None and observation.matches is not None:
            text += " \u2713" if observation.matches else " \u2717"
        axis.text(column, row, text, ha="center", va="center", fontsize="small", color=_TEXT_COLOUR)
    colour_map = ListedColormap([OUTCOME_COLOURS[outcome] for outcome in outcomes])
    axis.imshow(grid, cmap=colour_map, vmin=-0.5, vmax=len(outcomes) - 0.5, aspect="auto")
    axis.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize="small")
    axis.set_yticks(range(len(rows)), rows, fontsize="small")
    axis.set_xlabel("SMTP entry (login B)")
    axis.set_ylabel("IMAP account (address A)")
    title = "From address that customers see on replies"
    if observed:
        title += "\n(\u2713 test message arrived as predicted, \u2717 it did not)"
    axis.set_title(title)
    handles = [
        Patch(facecolor=OUTCOME_COLOURS[o], edgecolor="grey", label=OUTCOME_LABELS[o])
        for o in outcomes
    ]
    axis.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
        title="outcome",
    )
    figure.tight_layout()
    return figure


class TenantEditor:
    """A text box with a tenant file, and a button that loads what it contains.

    `tenant` is the last text that loaded without errors. Errors show as a table
    of field errors under the button.
    """

    def __init__(self, text: str, *, base_dir: Path | None = None) -> None:
        self.base_dir = base_dir
        self.text = widgets.Textarea(
            value=text, layout=widgets.Layout(width="100%", height="320px")
        )
        self.button = widgets.Button(description="Load tenant", button_style="primary")
        self.output = widgets.Output()
        self.tenant: TenantSetup | None = None
        self.button.on_click(lambda _button: self.load())
        self.widget = widgets.VBox([self.text, self.button, self.output])
        self.load()

    def load(self) -> TenantSetup | None:
        """Parse the text box, keep the tenant on success, and show the field errors otherwise."""
        self.output.clear_output()
        try:
            self.tenant = tenant_setup_from_text(
                self.text.value, base_dir=self.base_dir, source="the tenant text"
            )
        except SettingsError as error:
            with self.output:
                display(field_errors_styler(error.errors))  # type: ignore[no-untyped-call]
            return None
        with self.output:
            print(
                f"Loaded {len(self.tenant.servers)} entries and {len(self.tenant.queues)} queues."
            )
        return self.tenant

    def _ipython_display_(self) -> None:
        display(self.widget)  # type: ignore[no-untyped-call]


def verify_button(
    tenant: Callable[[], TenantSetup | None],
    *,
    options: VerifyOptions | None = None,
    on_done: Callable[[FromReport], None] | None = None,
) -> widgets.VBox:
    """Return a button that sends the test messages only when clicked, with progress and results.

    `tenant` returns the tenant to check, with its secrets resolved, at click time.
    """
    button = widgets.Button(
        description="Send test messages",
        button_style="warning",
        tooltip="Sends one test message per pairing and deletes them again",
    )
    bar = widgets.IntProgress(min=0, max=1, description="Checking")
    output = widgets.Output()

    def run(_button: widgets.Button) -> None:
        output.clear_output()
        setup = tenant()
        if setup is None:
            with output:
                print("Load a tenant without errors first.")
            return

        def progress(done: int, total: int, label: str) -> None:
            bar.max, bar.value, bar.description = total, done, f"{done}/{total}"

        button.disabled = True
        try:
            report = build_report(setup, verify=True, options=options, progress=progress)
        except VerifyError as error:
            with output:
                print(f"The check did not start: {error}")
            return
        finally:
            button.disabled = False
        with output:
            display(table_styler(report.table, report.verification))  # type: ignore[no-untyped-call]
        if on_done is not None:
            on_done(report)

    button.on_click(run)
    return widgets.VBox([button, bar, output])


def cleanup_summary(report: VerifyReport) -> str:
    """Return one sentence on what the check deleted and what it may have left."""
    cleanup = report.cleanup
    parts = [
        f"Deleted {cleanup.deleted} test messages from {report.observer_address}"
        f" and {cleanup.sent_copies_deleted} copies from sent folders."
    ]
    if cleanup.inbox_before is not None and cleanup.inbox_after is not None:
        parts.append(
            f"The observer's inbox held {cleanup.inbox_before} messages before the "
            f"check and {cleanup.inbox_after} after it."
        )
    left = len(cleanup.left_behind) + len(cleanup.may_arrive_later)
    if left:
        parts.append(f"{left} test messages may be left behind, as the findings list.")
    if cleanup.unchecked_sent_folders:
        parts.append(
            "No IMAP entry reaches the sent folder of "
            + ", ".join(cleanup.unchecked_sent_folders)
            + ", so copies that a provider keeps there stay."
        )
    return " ".join(parts)


def _observations_by_pairing(
    table: FromTable, report: VerifyReport | None
) -> dict[tuple[str, str], Observation]:
    """Return the observations made with the table's envelope sender, by (IMAP, SMTP) entry."""
    if report is None:
        return {}
    return {
        (o.prediction.imap, o.prediction.smtp): o
        for o in report.observations
        if o.prediction.envelope_sender is table.envelope_sender
    }


def _cell_headline(prediction: Prediction) -> str:
    if prediction.outcome is Outcome.REJECTED:
        return f"rejected {prediction.reply}".strip()
    return OUTCOME_LABELS[prediction.outcome]


def _check_mark(observation: Observation) -> str:
    if observation.matches is None:
        return f"observed: {observation.headline}"
    if observation.matches:
        return "\u2713 observed as predicted"
    return f"\u2717 observed: {observation.headline}"
