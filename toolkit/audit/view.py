"""A progress bar for the batch audit in a notebook cell, and the workspace's settings as a file.

This is the presentation layer of `toolkit.audit`: ipywidgets lives here, never in
`toolkit.audit.run`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import ipywidgets as widgets
from IPython.display import display

from toolkit.audit.model import AuditReport
from toolkit.audit.run import audit_files
from toolkit.probe.results import Timeouts
from toolkit.settings_file import save_settings
from toolkit.workspace import Workspace

# The repository's examples folder, beside the package in a source checkout.
_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def audit_with_progress(
    paths: Iterable[str | os.PathLike[str]],
    *,
    online: bool = False,
    timeouts: Timeouts | None = None,
) -> AuditReport:
    """Run `audit_files` from a notebook cell, showing a progress bar and the step just done."""
    bar = widgets.IntProgress(min=0, max=1, description="Auditing")
    label = widgets.Label("finding the files")
    display(widgets.HBox([bar, label]))  # type: ignore[no-untyped-call]

    def progress(done: int, total: int, text: str) -> None:
        bar.max = max(total, 1)
        bar.value = done
        label.value = f"{done} of {total}: {text}"

    report = audit_files(paths, online=online, progress=progress, timeouts=timeouts)
    bar.value = bar.max
    bar.bar_style = "danger" if report.has_errors() else "success"
    return report


def save_workspace_settings(
    workspace: Workspace, folder: str | os.PathLike[str] | None = None
) -> Path:
    """Write the workspace's entries to ``workspace-settings.toml`` and return the path.

    Without `folder`, the file goes into a new temporary folder. The file names the
    password variables and contains no password, as every settings file.
    """
    if folder is None:
        folder = tempfile.mkdtemp(prefix="maildiag-audit-")
    target = Path(folder)
    return save_settings(target / "workspace-settings.toml", workspace.servers)


def example_settings_files() -> list[Path]:
    """Return the repository's ``examples/*.toml`` files, or none outside a source checkout."""
    return sorted(_EXAMPLES.glob("*.toml")) if _EXAMPLES.is_dir() else []
