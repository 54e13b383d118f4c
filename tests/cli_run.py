"""Run the ``maildiag`` command line as a user would, in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Keys that every probe object in ``maildiag probe --json`` output carries.
PROBE_JSON_KEYS = (
    "host",
    "port",
    "protocol",
    "security",
    "ok",
    "reason",
    "tls_version",
    "certificate",
    "capabilities_before",
    "capabilities_after",
)


def maildiag(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m toolkit ARGS`` from the repository and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
