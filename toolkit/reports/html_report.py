"""The HTML triage report: one self-contained file to attach to a ticket or send on.

The page has its CSS inline and no script, image or link to anything outside
the file, so it opens the same offline and in a mail client. Jinja2 (installed
with JupyterLab) renders ``templates/triage.html.j2`` with autoescaping on,
because every text in the report may quote what a server or a user wrote.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from toolkit import __version__
from toolkit.reports import view
from toolkit.triage.model import TriageResult

TEMPLATE = "triage.html.j2"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(result: TriageResult) -> str:
    """Return the report as one HTML document."""
    settings_columns, settings_rows = view.settings_rows(result)
    top = result.findings[0].finding.severity.value if result.findings else "passed"
    return _environment().get_template(TEMPLATE).render(
        generator=f"maildiag {__version__}",
        title=view.title(result),
        result_line=view.result_line(result),
        headline=result.headline,
        top_severity=top,
        run_line=view.run_line(result),
        steps=result.steps,
        seconds=view.seconds,
        findings=view.finding_rows(result),
        settings_columns=settings_columns,
        settings_rows=settings_rows,
        prediction_columns=view.PREDICTION_COLUMNS,
        predictions=view.prediction_rows(result),
        tree=view.folder_tree(result),
    )
