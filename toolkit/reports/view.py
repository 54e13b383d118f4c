"""The parts of a triage report that every format shows, as rows of plain text.

The HTML and Markdown reports lay these out differently but take them from
here, so both show the same facts in the same words as the JSON report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.triage.model import StepKey, StepStatus, TriageResult

SETTINGS_COLUMNS = (
    "name",
    "protocol",
    "host",
    "port",
    "tls",
    "auth",
    "user",
    "storage_folder",
    "ca_file",
    "provider",
    "password_env",
    "token_env",
)
PREDICTION_COLUMNS = ("SMTP entry", "logs in as", "customers see", "outcome", "rule")


@dataclass(frozen=True)
class FindingRow:
    """One ranked finding, with the fix first, as a report lists it."""

    rank: int
    severity: str
    id: str
    server: str
    step: int
    fix: str
    message: str


def title(result: TriageResult) -> str:
    """Return the report's title, naming the IMAP entry and its SMTP entries."""
    smtp = f" with {', '.join(result.smtp)}" if result.smtp else ""
    return f"Ticket triage of {result.imap}{smtp}"


def result_line(result: TriageResult) -> str:
    """Return the counts of findings by severity as one sentence."""
    counts = result.counts
    failed = [step for step in result.steps if step.status is StepStatus.FAILED]
    steps = f"{len(failed)} of {len(result.steps)} steps failed" if failed else "no step failed"
    return (
        f"{_count(counts['error'], 'error')}, {_count(counts['warning'], 'warning')} and "
        f"{counts['info']} info; {steps}."
    )


def run_line(result: TriageResult) -> str:
    """Return where the settings came from, when the triage ran and how long it took."""
    source = f"Settings from {result.source}. " if result.source else ""
    return f"{source}Run at {result.started:%Y-%m-%d %H:%M:%S} UTC in {result.seconds:.1f} s."


def finding_rows(result: TriageResult) -> list[FindingRow]:
    """Return the findings in rank order: errors first, then warnings, then info."""
    return [
        FindingRow(
            rank=number,
            severity=item.finding.severity.value,
            id=item.finding.id,
            server=item.finding.server,
            step=item.step,
            fix=item.finding.fix,
            message=item.finding.message,
        )
        for number, item in enumerate(result.findings, start=1)
    ]


def settings_rows(result: TriageResult) -> tuple[list[str], list[list[str]]]:
    """Return the columns and rows of the checked entries, without passwords or tokens.

    Only columns that some entry sets are included.
    """
    entries = [entry.to_dict() for entry in result.entries]
    columns = [column for column in SETTINGS_COLUMNS if any(column in e for e in entries)]
    rows = [[_text(entry.get(column)) for column in columns] for entry in entries]
    return columns, rows


def prediction_rows(result: TriageResult) -> list[list[str]]:
    """Return one row per SMTP entry of the From-address step, empty when it was skipped."""
    step = result.step(StepKey.FROM_ADDRESS)
    rows = []
    for prediction in step.data.get("predictions", []):
        rows.append(
            [
                str(prediction["smtp"]),
                str(prediction["login"]),
                _customers_see(prediction),
                str(prediction["outcome"]),
                str(prediction["rule"]),
            ]
        )
    return rows


def folder_tree(result: TriageResult) -> str:
    """Return the drawn folder tree of step 6, or an empty string when it did not run."""
    return str(result.step(StepKey.FOLDERS).data.get("tree", ""))


def seconds(value: float) -> str:
    """Format a duration for a table cell."""
    return f"{value:.2f} s"


def _customers_see(prediction: dict[str, Any]) -> str:
    outcome = prediction["outcome"]
    if outcome == "rejected":
        return f"rejected {prediction.get('reply', '')}".strip()
    if outcome == "unknown":
        return "unknown"
    if outcome == "on-behalf":
        return f"{prediction['sender_address']} on behalf of {prediction['from_address']}"
    return str(prediction["from_address"])


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return str(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
