"""The exercise notebooks: one per exercise, thin, saved without outputs, in step with the specs.

nbval runs them, and these tests check what nbval cannot. Each notebook starts
the exercise of its file name and shows the spec's ticket, question and
options. It ends with the placeholder self-check and a stop, and it is saved
without outputs, exactly as `python -m toolkit.workshop.notebooks` writes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from toolkit.workshop.catalogue import SPECS
from toolkit.workshop.model import ExerciseSpec
from toolkit.workshop.notebooks import main, notebook_document

FOLDER = Path(__file__).resolve().parents[2] / "notebooks" / "workshop"


def load(spec: ExerciseSpec) -> nbformat.NotebookNode:
    return nbformat.read(FOLDER / spec.info.notebook, as_version=4)


def code_cells(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def test_one_notebook_per_exercise() -> None:
    files = sorted(path.name for path in FOLDER.glob("*.ipynb"))
    assert files == sorted(spec.info.notebook for spec in SPECS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.info.key)
def test_notebook_starts_and_stops_its_exercise(spec: ExerciseSpec) -> None:
    cells = code_cells(load(spec))
    assert f'start_exercise("{spec.info.key}")' in cells[0]
    assert cells[-1] == "exercise.stop()"
    assert cells[-2] == 'answer = "?"\nprint(exercise.check(answer))'


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.info.key)
def test_notebook_shows_ticket_and_choices(spec: ExerciseSpec) -> None:
    text = markdown(load(spec))
    assert f"# Exercise {spec.info.number:02d}: {spec.info.title}" in text
    assert f"> {spec.ticket}" in text
    assert spec.question in text
    for choice in spec.choices:
        assert f"**({choice.letter})** {choice.text}" in text


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.info.key)
def test_notebook_is_saved_without_outputs(spec: ExerciseSpec) -> None:
    for cell in load(spec).cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.info.key)
def test_notebook_hides_solution(spec: ExerciseSpec) -> None:
    notebook = load(spec)
    text = markdown(notebook) + "\n".join(code_cells(notebook))
    assert spec.solution.fix not in text
    assert spec.solution.explanation not in text


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.info.key)
def test_notebook_matches_generator(spec: ExerciseSpec) -> None:
    saved = json.loads((FOLDER / spec.info.notebook).read_text(encoding="utf-8"))
    assert saved == notebook_document(spec)


def test_generator_writes_valid_notebooks(tmp_path: Path) -> None:
    assert main([str(tmp_path)]) == 0
    written = sorted(tmp_path.glob("*.ipynb"))
    assert [path.name for path in written] == sorted(spec.info.notebook for spec in SPECS)
    for path in written:
        nbformat.validate(nbformat.read(path, as_version=4))
