"""Start the sandbox and JupyterLab on the notebooks, on 127.0.0.1 only: the ``make lab`` command.

Run as ``python -m toolkit.lab``. The sandbox runs in this process and
JupyterLab as a child process that inherits ``MAILDIAG_SETTINGS`` (the sandbox's
settings file) and the sandbox passwords, so every notebook defaults to the
sandbox. Ctrl-C or SIGTERM stops both.
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
from types import FrameType

from toolkit.sandbox import DEFAULT_PORT_BASE, Sandbox, SandboxError
from toolkit.sandbox.cli import sandbox_tokens
from toolkit.workspace import SETTINGS_VARIABLE

REPO_DIR = Path(__file__).resolve().parent.parent
logger = logging.getLogger(__name__)


def jupyter_command(port: int, notebooks: Path) -> list[str]:
    """Return the JupyterLab command line: loopback only, no browser, no extension downloads."""
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
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


def start_sandbox(port_base: int) -> Sandbox:
    """Start the sandbox on `port_base`, or on free ports when those are taken."""
    sandbox = Sandbox(port_base=port_base)
    try:
        sandbox.start()
    except SandboxError as error:
        if port_base == 0:
            raise
        logger.info("sandbox ports from %d are taken: %s", port_base, error)
        print(
            f"maildiag lab: some of the sandbox's usual ports (from {port_base}) are in "
            "use, so the sandbox uses free ports instead.",
            file=sys.stderr,
        )
        sandbox = Sandbox(port_base=0)
        sandbox.start()
    return sandbox


def run_lab(port: int, environment: dict[str, str]) -> int:
    """Run JupyterLab until it exits or this process is interrupted, then return its exit code."""
    process = subprocess.Popen(
        jupyter_command(port, REPO_DIR / "notebooks"), env={**os.environ, **environment}
    )

    def stop(signal_number: int, frame: FrameType | None) -> None:
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
    """Start the sandbox, then JupyterLab, and stop both on exit."""
    parser = argparse.ArgumentParser(prog="python -m toolkit.lab", description=__doc__)
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (default 8888)")
    parser.add_argument(
        "--sandbox-port-base",
        type=int,
        default=DEFAULT_PORT_BASE,
        help=f"sandbox port base (default {DEFAULT_PORT_BASE}; 0 = free ports)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="start JupyterLab only; notebooks then start a sandbox themselves",
    )
    args = parser.parse_args(argv)

    if args.no_sandbox:
        return run_lab(args.port, {})
    sandbox = start_sandbox(args.sandbox_port_base)
    try:
        settings_file = sandbox.write_settings()
        print(
            f"Sandbox running on 127.0.0.1 (IMAP {sandbox.endpoint('imap-tls').port} TLS, "
            f"{sandbox.endpoint('imap-starttls').port} STARTTLS; SMTP "
            f"{sandbox.endpoint('smtp-tls').port} TLS, "
            f"{sandbox.endpoint('smtp-starttls').port} STARTTLS)."
        )
        print(f"Settings file for the notebooks: {settings_file}")
        print(f"CA file: {sandbox.ca_file}")
        environment = {
            SETTINGS_VARIABLE: str(settings_file),
            **sandbox.environment(),
            **sandbox_tokens(sandbox),
        }
        return run_lab(args.port, environment)
    finally:
        sandbox.stop()
        print("Sandbox stopped.")


if __name__ == "__main__":
    sys.exit(main())
