"""Shareable triage reports: HTML (one self-contained file), Markdown and JSON.

Each format shows the checked settings (without passwords or tokens), the step
verdicts and timings, the findings with the fix first, and the redacted
transcripts. `write_report` picks the format from the file name or an explicit
choice. The JSON format is versioned (`json_report.SCHEMA`) and is what
``maildiag replay`` reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from toolkit.reports.html_report import render_html
from toolkit.reports.json_report import SCHEMA, ReportError, load_report, render_json
from toolkit.reports.markdown import render_markdown
from toolkit.triage.model import TriageResult

RENDERERS: dict[str, Callable[[TriageResult], str]] = {
    "html": render_html,
    "md": render_markdown,
    "json": render_json,
}
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".json": "json"}

__all__ = [
    "RENDERERS",
    "SCHEMA",
    "ReportError",
    "format_for",
    "load_report",
    "render_html",
    "render_json",
    "render_markdown",
    "write_report",
]


def format_for(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """Return the report format for a path: `explicit` if given, else the one its suffix names.

    Raises ValueError for an unknown format or suffix, naming the known ones.
    """
    if explicit is not None:
        if explicit not in RENDERERS:
            raise ValueError(
                f"unknown report format {explicit!r}: use {', '.join(RENDERERS)}"
            )
        return explicit
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"cannot tell the report format of {str(path)!r} from its suffix: name the file "
            f"{', '.join(SUFFIXES)}, or give the format"
        )
    return SUFFIXES[suffix]


def write_report(
    result: TriageResult, path: str | os.PathLike[str], report_format: str | None = None
) -> Path:
    """Write the report in the format `format_for` picks and return its path.

    Raises ValueError for an unknown format and OSError when the file cannot be written.
    """
    chosen = format_for(path, report_format)
    target = Path(path)
    target.write_text(RENDERERS[chosen](result), encoding="utf-8")
    return target
