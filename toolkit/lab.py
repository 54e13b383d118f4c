"""Start JupyterLab on the notebooks, on 127.0.0.1 only: the ``make lab`` command.

Run as ``python -m toolkit.lab``. JupyterLab runs as a child process and stops
when this process gets Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_DIR = Path(__file__).resolve().parent.parent


def jupyter_command(port: int, notebooks: Path) -> list[str]:
    """Return the JupyterLab command line: loopback only, no browser, no extension downloads."""
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--ServerApp.root_dir={notebooks}",
        # The read-only extension manager never queries PyPI from the Extensions panel.
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab exits at once when started as root without this flag.
        command.append("--allow-root")
    return command


def run_lab(port: int, environment: dict[str, str]) -> int:
    """Run JupyterLab until it exits or this process is interrupted, then return its exit code."""
    notebooks = REPO_DIR / "notebooks"
    process = subprocess.Popen(jupyter_command(port, notebooks), env={**os.environ, **environment})

    def stop(signal_number: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and run JupyterLab."""
    parser = argparse.ArgumentParser(prog="python -m toolkit.lab", description=__doc__)
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_lab(args.port, {})


if __name__ == "__main__":
    sys.exit(main())
