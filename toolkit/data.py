"""Locate the data files that ship with the toolkit.

In a source checkout or an editable install the files are in the repository's
``data/`` folder; a wheel carries the same files as ``toolkit/_data``.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """Return the folder that holds the provider and port data."""
    for candidate in (_PACKAGE_DIR / "_data", _PACKAGE_DIR.parent / "data"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"toolkit data folder not found next to {_PACKAGE_DIR}; reinstall the package"
    )


@cache
def load_data(name: str) -> dict[str, Any]:
    """Read one TOML data file, such as ``providers.toml``, once per process."""
    with (data_dir() / name).open("rb") as handle:
        return tomllib.load(handle)
