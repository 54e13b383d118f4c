"""Exercise notebooks, run with every cell, keep the sandbox's passwords and tokens out of outputs.

The test runs three notebooks (a Gmail password, an OAuth2 token, a From-address
check with tokens for every account) with one extra cell. That cell writes the
exercise's secrets to a file in the test's temporary folder, and the test then
searches the executed notebook for each of them, raw and base64-encoded.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from toolkit.workshop import start_exercise

FOLDER = Path(__file__).resolve().parents[2] / "notebooks" / "workshop"
NOTEBOOKS = (
    "06_gmail_account_password.ipynb",
    "08_oauth_token_other_user.ipynb",
    "16_from_m365_on_behalf.ipynb",
)
# Writes the secrets to the file the test names; the source contains no secret and no output.
COLLECT_CELL = """\
import json as _json
import os as _os

_secrets = [value.reveal() for value in (exercise.entry.password, exercise.entry.token) if value]
_secrets += list(exercise.environment().values())
for _user in exercise.sandbox.users:
    _secrets.append(_user.password.reveal())
    if _user.app_password is not None:
        _secrets.append(_user.app_password.reveal())
with open(_os.environ["MAILDIAG_TEST_SECRETS_FILE"], "w", encoding="utf-8") as _file:
    _json.dump(_secrets, _file)
"""


def encoded_forms(secret: str) -> list[str]:
    """Return the secret as text and as base64 at each of the three byte offsets."""
    raw = secret.encode()
    forms = [secret]
    for offset in range(3):
        encoded = base64.b64encode(b"x" * offset + raw).decode()
        start = 4 if offset else 0
        forms.append(encoded[start:-4])
    return forms


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_executed_notebook_contains_no_secret(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_file = tmp_path / "secrets.json"
    monkeypatch.setenv("MAILDIAG_TEST_SECRETS_FILE", str(secrets_file))
    notebook = nbformat.read(FOLDER / name, as_version=4)
    stop = len(notebook.cells) - 1
    notebook.cells.insert(stop, nbformat.v4.new_code_cell(COLLECT_CELL))
    client = NotebookClient(notebook, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(FOLDER)}})
    client.execute()

    secrets = json.loads(secrets_file.read_text(encoding="utf-8"))
    saved = nbformat.writes(notebook)
    assert len(secrets) >= 2
    for secret in secrets:
        for form in encoded_forms(secret):
            assert form not in saved


def test_self_check_text_contains_no_secret() -> None:
    with start_exercise("oauth-graph-token") as exercise:
        token = exercise.entry.token
        texts = [str(exercise.check(answer)) for answer in ("a", "b", "c", "?")]
        texts.append(repr(exercise))
    assert token is not None
    assert not [text for text in texts if token.reveal() in text]
