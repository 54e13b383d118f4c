"""The Markdown triage report, to paste into a ticket.

It uses only CommonMark with pipe tables (GitHub Flavored Markdown), which most
ticket systems render. Table cells escape ``|`` and keep to one line, and
transcripts go into fenced code blocks whose fence is longer than any run of
backticks inside, so a server's reply cannot break the layout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from toolkit.reports import view
from toolkit.triage.model import TriageResult

_BACKTICKS = re.compile(r"`+")


def render_markdown(result: TriageResult) -> str:
    """Return the report as Markdown text."""
    lines = [f"# {_inline(view.title(result))}", ""]
    lines += [f"**Result:** {_inline(view.result_line(result))}", ""]
    lines += [f"**{_inline(result.headline)}**", ""]
    lines += [_inline(view.run_line(result)), ""]

    lines += ["## Steps", ""]
    lines += _table(
        ["#", "step", "status", "time", "summary"],
        [
            [str(step.number), step.title, step.status.value, view.seconds(step.seconds),
             step.summary]
            for step in result.steps
        ],
    )

    lines += ["", "## Findings, most important first", ""]
    rows = view.finding_rows(result)
    if not rows:
        lines.append("No findings.")
    for row in rows:
        lines.append(
            f"{row.rank}. **{row.severity}** `{row.id}` on {_inline(row.server or '-')} "
            f"(step {row.step})  "
        )
        lines.append(f"   **Fix:** {_inline(row.fix)}  ")
        lines.append(f"   **Why:** {_inline(row.message)}")

    lines += ["", "## Settings checked (passwords and tokens are never included)", ""]
    columns, setting_rows = view.settings_rows(result)
    lines += _table(columns, setting_rows)

    predictions = view.prediction_rows(result)
    if predictions:
        lines += ["", "## From address of replies", ""]
        lines += _table(list(view.PREDICTION_COLUMNS), predictions)

    tree = view.folder_tree(result)
    if tree:
        lines += ["", "## Folder tree", ""]
        lines += _fenced(tree.splitlines())

    lines += ["", "## Transcripts (passwords and tokens redacted)"]
    for step in result.steps:
        if not step.transcripts:
            continue
        lines += ["", f"### Step {step.number}: {_inline(step.title)}"]
        for transcript in step.transcripts:
            lines += ["", f"**{_inline(transcript.label)}**", ""]
            lines += _fenced(list(transcript.lines) or ["(nothing was exchanged)"])
    return "\n".join(lines) + "\n"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(cell) for cell in header) + " |"]
    lines.append("|" + "|".join(" --- " for _ in header) + "|")
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _cell(text: str) -> str:
    return _inline(text).replace("|", "\\|")


def _inline(text: str) -> str:
    """Keep text on one line and stop it from opening HTML tags in the rendered report."""
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _fenced(lines: Sequence[str]) -> list[str]:
    longest = max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}text", *lines, fence]
