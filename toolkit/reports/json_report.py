"""The JSON triage report: the versioned document that ``docs/report-schema.md`` describes.

The document is `TriageResult.to_dict` with two keys in front: ``schema``, which
names the format and its major version, and ``generator``. A reader checks
``schema`` before anything else; `load_report` does that for the replay.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from toolkit import __version__
from toolkit.triage.model import TriageResult

SCHEMA = "maildiag-triage/1"


class ReportError(ValueError):
    """A file that is not a readable triage report of a known schema version."""


def report_document(result: TriageResult) -> dict[str, Any]:
    """Return the JSON report as a dict, without any secret."""
    return {"schema": SCHEMA, "generator": f"maildiag {__version__}", **result.to_dict()}


def render_json(result: TriageResult) -> str:
    """Return the JSON report as text, indented for people who read it."""
    return json.dumps(report_document(result), indent=2, ensure_ascii=False) + "\n"


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON triage report and check its schema.

    Raises ReportError naming the problem: a missing or unreadable file, text
    that is not JSON, or another schema.
    """
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"the report {str(path)!r} was not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(f"the report {str(path)!r} cannot be read: {error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            f"the report {str(path)!r} is not JSON ({error}); give the .json report that "
            "maildiag triage --report wrote"
        ) from None
    if not isinstance(document, dict) or "schema" not in document:
        raise ReportError(f"the file {str(path)!r} has no schema key, so it is not a triage report")
    if document["schema"] != SCHEMA:
        raise ReportError(
            f"the report {str(path)!r} has the schema {document['schema']!r}; this maildiag "
            f"reads {SCHEMA!r}"
        )
    return document
