"""Notebook 01, executed and saved with a password in the form, contains no trace of it.

nbclient stores the widget state that the kernel sent in the notebook's
metadata. A control cell shows a plain ipywidgets Password with another canary,
to prove that the checks catch such a leak.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_check_settings.ipynb"
CANARY = "canary-Pa55word-7f3e"
CONTROL_CANARY = "control-Pa55word-91c2"

# The cells read the canaries from the environment, so the cell sources do not contain them.
CANARY_CELLS = [
    # What a notebook author does.
    'form.set_values(password=os.environ["MAILDIAG_TEST_CANARY"])',
    # What ipywidgets does when the browser sends the typed password.
    'form.inputs["password"].set_state({"value": os.environ["MAILDIAG_TEST_CANARY"]})',
    "form",
    "print(repr(form.settings), form.settings.password)\nform.findings",
    "findings_styler(form.findings)",
]
CONTROL_CELL = (
    "import ipywidgets\n"
    'ipywidgets.Password(value=os.environ["MAILDIAG_TEST_CONTROL"])'
)


def encoded_forms(secret: str) -> list[str]:
    """Return the secret as text, URL-quoted, and as base64 at each of the 3 byte offsets.

    Inside a longer base64 string the encoding of the secret depends on its
    offset, so the stable middle of each of the three alignments is checked.
    """
    raw = secret.encode()
    forms = [secret, secret.replace("-", "%2D")]
    for offset in range(3):
        encoded = base64.b64encode(b"x" * offset + raw).decode()
        start = 4 if offset else 0
        forms.append(encoded[start:-4])
    return forms


def run_notebook_with_canary(tmp_path: Path) -> tuple[str, nbformat.NotebookNode]:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    form_cell = next(
        index for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and "SettingsForm()" in cell.source
    )
    extra = [nbformat.v4.new_code_cell(source) for source in [*CANARY_CELLS, CONTROL_CELL]]
    notebook.cells[form_cell + 1 : form_cell + 1] = extra

    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()
    saved = tmp_path / NOTEBOOK.name
    nbformat.write(notebook, saved)
    return saved.read_text(encoding="utf-8"), notebook


@pytest.fixture(scope="module")
def saved_notebook(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[str, nbformat.NotebookNode]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MAILDIAG_TEST_CANARY", CANARY)
        patch.setenv("MAILDIAG_TEST_CONTROL", CONTROL_CANARY)
        patch.delenv("MAILDIAG_SETTINGS", raising=False)
        return run_notebook_with_canary(tmp_path_factory.mktemp("notebook"))


def test_saved_notebook_has_widget_state(saved_notebook: tuple[str, nbformat.NotebookNode]) -> None:
    _text, notebook = saved_notebook
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = [model["model_name"] for model in state.values()]
    assert models.count("PasswordModel") == 2


def test_form_received_password(saved_notebook: tuple[str, nbformat.NotebookNode]) -> None:
    text, _notebook = saved_notebook
    # The Gmail app-password check ran on the canary, so the form did keep it.
    assert "app-password-format" in text
    assert "Password kept in the kernel" in text


def test_control_password_leaks(saved_notebook: tuple[str, nbformat.NotebookNode]) -> None:
    text, _notebook = saved_notebook
    assert CONTROL_CANARY in text


@pytest.mark.parametrize("form_of_secret", encoded_forms(CANARY))
def test_saved_notebook_has_no_canary(
    saved_notebook: tuple[str, nbformat.NotebookNode], form_of_secret: str
) -> None:
    text, _notebook = saved_notebook
    assert form_of_secret not in text


def test_outputs_and_metadata_have_no_canary(
    saved_notebook: tuple[str, nbformat.NotebookNode],
) -> None:
    _text, notebook = saved_notebook
    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    metadata = json.dumps(notebook.metadata)
    assert CANARY not in outputs
    assert CANARY not in metadata
    assert "********" in outputs
