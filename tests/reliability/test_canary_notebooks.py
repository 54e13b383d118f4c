"""Every notebook, executed with canary secrets where a user would enter them, keeps none.

The canaries reach the notebooks the way a user's secrets do:

- ``MAILDIAG_SETTINGS`` names the settings file of a sandbox in this process whose
  users' passwords are canaries, and the variables that file names hold them,
  with a canary token from the sandbox's authority (notebooks 01, 02 and 03);
- notebook 01's form gets a canary password from `set_values` and another as if
  typed in the browser;
- notebooks that start a sandbox in their kernel (00, 04 and 05) get canary
  passwords from a first cell that replaces the sandbox's password generator.
  That cell also writes every token the kernel's authority signs to a file
  outside the searched outputs.

That first cell also adds a DEBUG file handler to the kernel's root logger. The
saved notebook and that log are searched for every form of every canary. A
control cell in notebook 00 prints a control canary in base64 and logs it, and
the search must find both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.cli_run import REPO
from tests.reliability.canary import find_leaks
from tests.reliability.canary_sandbox import ALICE, PASSWORDS, TENANT
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.sandbox.sandbox_settings import env_key

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# nbformat has no type hints; these names give its calls a type.
read_notebook: Callable[..., Any] = nbformat.read
write_notebook: Callable[..., Any] = nbformat.write
code_cell: Callable[[str], Any] = nbformat.v4.new_code_cell
KERNEL_PASSWORD = "Canary-Kernel-Pa55-b3e8"
KERNEL_APP_PASSWORD = "canarykernelappq"
FORM_PASSWORD = "Canary-Form-Pa55-5c07"
TYPED_PASSWORD = "Canary-Typed-Pa55-90aa"
CONTROL = "Canary-Control-Value-2f19"

PREAMBLE = """\
import logging
import os

import toolkit.sandbox.oauth_claims as _claims
import toolkit.sandbox.tenant as _tenant

_handler = logging.FileHandler(os.environ["MAILDIAG_CANARY_LOG"], encoding="utf-8")
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
logging.getLogger().addHandler(_handler)
logging.getLogger().setLevel(logging.DEBUG)

_tenant.generate_password = lambda: os.environ["MAILDIAG_CANARY_PASSWORD"]
_tenant.generate_app_password = lambda: os.environ["MAILDIAG_CANARY_APP_PASSWORD"]
_sign = _claims.TokenSigner.sign_access_token


def _recording_sign(self, *args, **kwargs):
    token = _sign(self, *args, **kwargs)
    with open(os.environ["MAILDIAG_CANARY_TOKENS"], "a", encoding="utf-8") as issued:
        issued.write(token + "\\n")
    return token


_claims.TokenSigner.sign_access_token = _recording_sign
"""
FORM_CELLS = [
    'form.set_values(password=os.environ["MAILDIAG_CANARY_FORM_PASSWORD"])',
    # What ipywidgets does when the browser sends a typed password.
    'form.inputs["password"].set_state({"value": os.environ["MAILDIAG_CANARY_TYPED_PASSWORD"]})',
]
CONTROL_CELL = """\
import base64
print(base64.b64encode(b"xy" + os.environ["MAILDIAG_CANARY_CONTROL"].encode()).decode())
logging.getLogger("canary.control").debug("control %s", os.environ["MAILDIAG_CANARY_CONTROL"])
"""


@dataclass(frozen=True)
class Executed:
    """A notebook after its run: the saved file's text and the kernel's DEBUG log."""

    name: str
    saved: str
    log: str
    error: str


def prepared(path: Path) -> Any:
    notebook = read_notebook(path, as_version=4)
    cells = notebook.cells
    first_code = next(i for i, cell in enumerate(cells) if cell.cell_type == "code")
    cells.insert(first_code, code_cell(PREAMBLE))
    form_cell = next(
        (i for i, cell in enumerate(cells) if "form = SettingsForm()" in cell.source), None
    )
    if form_cell is not None and "form.load(" not in cells[form_cell].source:
        for offset, source in enumerate(FORM_CELLS, start=1):
            cells.insert(form_cell + offset, code_cell(source))
    if path.name.startswith("00_"):
        cells.append(code_cell(CONTROL_CELL))
    return notebook


def execute(path: Path, folder: Path) -> Executed:
    notebook = prepared(path)
    log = folder / f"{path.stem}.log"
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    # Each kernel gets its own log file through its environment.
    error = ""
    try:
        client.execute(env={**os.environ, "MAILDIAG_CANARY_LOG": str(log)})
    except Exception as failure:  # a failing cell is reported, and the outputs still searched
        error = f"{type(failure).__name__}: {failure}"[:2000]
    saved = folder / path.name
    write_notebook(notebook, saved)
    return Executed(path.name, saved.read_text(encoding="utf-8"),
                    log.read_text(encoding="utf-8") if log.exists() else "", error)


@dataclass(frozen=True)
class Runs:
    """Every executed notebook and the secrets that must not appear in them."""

    executed: list[Executed]
    secrets: tuple[str, ...]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    folder = tmp_path_factory.mktemp("canary-notebooks")
    tokens_file = tmp_path_factory.mktemp("canary-tokens") / "issued.txt"
    with Sandbox(port_base=0, tenant=tenant_from_dict(TENANT)) as sandbox, \
            pytest.MonkeyPatch.context() as patch:
        token = sandbox.access_token(ALICE).reveal()
        settings_file = sandbox.write_settings(folder / "sandbox-settings.toml")
        variables = {
            **sandbox.environment(),
            f"MAILDIAG_SANDBOX_TOKEN_{env_key(ALICE)}": token,
            "MAILDIAG_SETTINGS": str(settings_file),
            "MAILDIAG_CANARY_PASSWORD": KERNEL_PASSWORD,
            "MAILDIAG_CANARY_APP_PASSWORD": KERNEL_APP_PASSWORD,
            "MAILDIAG_CANARY_FORM_PASSWORD": FORM_PASSWORD,
            "MAILDIAG_CANARY_TYPED_PASSWORD": TYPED_PASSWORD,
            "MAILDIAG_CANARY_CONTROL": CONTROL,
            "MAILDIAG_CANARY_TOKENS": str(tokens_file),
        }
        for name, value in variables.items():
            patch.setenv(name, value)
        # One at a time: nbclient run from several threads leaves event loops open.
        executed = [execute(path, folder) for path in NOTEBOOKS]
        issued = tokens_file.read_text(encoding="utf-8").split() if tokens_file.exists() else []
        secrets = (*PASSWORDS, KERNEL_PASSWORD, KERNEL_APP_PASSWORD, FORM_PASSWORD,
                   TYPED_PASSWORD, token, *issued)
        yield Runs(executed, secrets)


def test_every_notebook_ran(runs: Runs) -> None:
    assert [item.name for item in runs.executed] == [path.name for path in NOTEBOOKS]
    assert [item.error for item in runs.executed] == [""] * len(NOTEBOOKS)


def test_canaries_reached_the_notebooks(runs: Runs) -> None:
    by_name = {item.name: item for item in runs.executed}
    # The kernels' authorities signed tokens, so their forms are searched for too.
    assert len(runs.secrets) > len(PASSWORDS) + 5
    # Notebook 03 logged in with a canary password: it listed Chris's folders.
    assert "INBOX.Support" in by_name["03_folders.ipynb"].saved
    # Notebook 01's form kept the typed canary.
    assert "Password kept in the kernel" in by_name["01_check_settings.ipynb"].saved
    assert all(item.log for item in runs.executed)


@pytest.mark.parametrize("notebook", [path.name for path in NOTEBOOKS])
def test_saved_notebook_has_no_canary(runs: Runs, notebook: str) -> None:
    executed = next(item for item in runs.executed if item.name == notebook)
    texts = {f"{notebook} (saved)": executed.saved, f"{notebook} (kernel log)": executed.log}
    assert find_leaks(texts, runs.secrets, ALICE) == []


def test_control_is_found(runs: Runs) -> None:
    executed = runs.executed[0]
    found = find_leaks({"saved": executed.saved, "log": executed.log}, [CONTROL], ALICE)
    assert "secret 0 as base64 at offset 2 in saved" in found
    assert "secret 0 as raw in log" in found
