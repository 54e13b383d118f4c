"""The audit summary as a pandas table, one row per server entry or unusable file.

The frame contains plain text and numbers, so it also serves for CSV export. The
styler colours each row by its worst finding and escapes every cell as HTML,
because messages quote what users typed.
"""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from toolkit.audit.model import AuditReport, AuditRow
from toolkit.findings import Severity
from toolkit.tables import SEVERITY_COLOURS

AUDIT_COLUMNS = (
    "file",
    "server",
    "protocol",
    "host:port",
    "tls tick",
    "settings",
    "tls verdict",
    "top finding",
    "fix",
    "errors",
    "warnings",
)
_TEXT_COLOUR = "#1f2328"


def tick_words(tls: bool | None) -> str:
    """Return the TLS tick as ``on``, ``off``, or empty for an unusable file."""
    if tls is None:
        return ""
    return "on" if tls else "off"


def audit_frame(report: AuditReport) -> pd.DataFrame:
    """Build the summary table. The ``tls verdict`` column is there only for an online audit."""
    columns = [c for c in AUDIT_COLUMNS if report.online or c != "tls verdict"]
    rows = [_row(row) for row in report.rows]
    return pd.DataFrame(rows, columns=columns)


def _row(row: AuditRow) -> dict[str, object]:
    top = row.top
    return {
        "file": row.file,
        "server": row.server,
        "protocol": row.protocol,
        "host:port": row.endpoint,
        "tls tick": tick_words(row.tls),
        "settings": row.settings_verdict.value,
        "tls verdict": row.tls_verdict,
        "top finding": top.id if top else "",
        "fix": top.fix if top else "",
        "errors": row.errors,
        "warnings": row.warnings,
    }


def audit_styler(report: AuditReport) -> Styler:
    """Build the summary table with each row coloured by its worst finding."""
    frame = audit_frame(report)
    styles = [_row_style(row) for row in report.rows]
    styler = (
        frame.style.hide(axis="index")
        .format(escape="html", na_rep="")
        .set_properties(**{"text-align": "left", "vertical-align": "top"})
        .set_table_styles([{"selector": "th", "props": [("text-align", "left")]}])
        .apply(lambda column: styles, axis=0)
    )
    entries = sum(1 for row in report.rows if row.server)
    errors = sum(row.errors for row in report.rows)
    warnings = sum(row.warnings for row in report.rows)
    unusable = len(report.unusable_files)
    return styler.set_caption(
        f"{_count(len(report.files), 'file')} ({unusable} unusable), "
        f"{_count(entries, 'entry', 'entries')}: {_count(errors, 'error')}, "
        f"{_count(warnings, 'warning')}"
    )


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def _row_style(row: AuditRow) -> str:
    if row.errors:
        colour = SEVERITY_COLOURS[Severity.ERROR]
    elif row.warnings:
        colour = SEVERITY_COLOURS[Severity.WARNING]
    else:
        return ""
    return f"background-color: {colour}; color: {_TEXT_COLOUR}"
