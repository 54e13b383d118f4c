"""The triage notebook is stored without outputs and calls the library for every step."""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "00_ticket_triage.ipynb"


def test_notebook_is_saved_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)

    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells
    for cell in code_cells:
        assert cell.outputs == []
        assert cell.execution_count is None
    assert "widgets" not in notebook.metadata


def test_notebook_runs_triage_without_clicking() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    source = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")

    assert "open_workspace()" in source
    assert "TriagePanel(" in source
    assert "run_with_steps(" in source
    assert "save_reports(" in source
    assert "ReplayServer(" in source
