"""Start the sandbox and the triage dashboard (Voilà) on 127.0.0.1 only.

Run as ``python -m toolkit.dashboard``. The dashboard is the triage notebook
``notebooks/00_ticket_triage.ipynb`` served by Voilà as a web page without its
code cells, for support analysts who fill in the form and click Run. As in
``toolkit.lab``, the sandbox runs in this process, and Voilà runs as a child
process that inherits ``MAILDIAG_SETTINGS`` (the sandbox's settings file) and
the sandbox passwords and tokens. Ctrl-C or SIGTERM stops both.

Voilà starts a new kernel for every page request, so each browser tab runs
the notebook once on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType

from jupyter_core.paths import jupyter_path

from toolkit.lab import start_sandbox
from toolkit.sandbox import DEFAULT_PORT_BASE
from toolkit.sandbox.cli import sandbox_tokens
from toolkit.workspace import SETTINGS_VARIABLE

REPO_DIR = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO_DIR / "notebooks" / "00_ticket_triage.ipynb"
DEFAULT_PORT = 8866
TEMPLATE = "maildiag-offline"
# Voilà 0.5's lab template links Font Awesome style sheets on cdn.jsdelivr.net. The
# dashboard's widgets use no icons, so the offline template leaves the links out and
# the notebook page loads only from the Voilà server. Voilà's error and directory
# pages (base/page.html) still link a CDN style sheet.
CDN_LINK_MARK = "https://cdn.jsdelivr.net/"


class DashboardError(Exception):
    """The dashboard cannot start, with the reason in the message."""


def write_offline_template(folder: Path) -> Path:
    """Write Voilà's lab template without its CDN links under `folder`, and return `folder`.

    `folder` then works as a JUPYTER_PATH entry that provides the template
    `TEMPLATE`, which extends Voilà's installed lab template.
    Raises DashboardError when Voilà's lab template is not installed.
    """
    for data_dir in jupyter_path("voila", "templates", "lab"):
        lab_index = Path(data_dir) / "index.html.j2"
        if lab_index.is_file():
            break
    else:
        raise DashboardError("Voilà's lab template is not installed: run pip install voila")

    lines = lab_index.read_text(encoding="utf-8").splitlines(keepends=True)
    lines_without_cdn = [line for line in lines if CDN_LINK_MARK not in line]
    template_dir = folder / "voila" / "templates" / TEMPLATE
    template_dir.mkdir(parents=True, exist_ok=True)
    (template_dir / "index.html.j2").write_text("".join(lines_without_cdn), encoding="utf-8")
    (template_dir / "conf.json").write_text(json.dumps({"base_template": "lab"}), encoding="utf-8")
    return folder


def voila_command(port: int, notebook: Path = NOTEBOOK) -> list[str]:
    """Return the Voilà command line: loopback only, no browser, code cells hidden."""
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        # The default already, stated so that no configuration file can show the code.
        "--strip_sources=True",
        f"--template={TEMPLATE}",
    ]


def run_voila(port: int, environment: Mapping[str, str]) -> int:
    """Run Voilà until it exits or this process is interrupted, then return its exit code."""
    with tempfile.TemporaryDirectory(prefix="maildiag-dashboard-") as folder:
        template_path = str(write_offline_template(Path(folder)))
        search_path = os.pathsep.join(
            part for part in (template_path, os.environ.get("JUPYTER_PATH", "")) if part
        )
        process = subprocess.Popen(
            voila_command(port), env={**os.environ, **environment, "JUPYTER_PATH": search_path}
        )
        return _wait(process)


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for `process`, and on Ctrl-C or SIGTERM stop it, waiting at most 15 s before a kill."""

    def stop(signal_number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Explicit, because a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, stop)
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
    """Start the sandbox, then Voilà on the triage notebook, and stop both on exit."""
    parser = argparse.ArgumentParser(prog="python -m toolkit.dashboard", description=__doc__)
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"Voilà port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--sandbox-port-base",
        type=int,
        default=DEFAULT_PORT_BASE,
        help=f"sandbox port base (default {DEFAULT_PORT_BASE}; 0 = free ports)",
    )
    args = parser.parse_args(argv)

    sandbox = start_sandbox(args.sandbox_port_base)
    try:
        settings_file = sandbox.write_settings()
        print(
            f"Sandbox running on 127.0.0.1 (IMAP {sandbox.endpoint('imap-tls').port} TLS, "
            f"{sandbox.endpoint('imap-starttls').port} STARTTLS; SMTP "
            f"{sandbox.endpoint('smtp-tls').port} TLS, "
            f"{sandbox.endpoint('smtp-starttls').port} STARTTLS)."
        )
        print(f"Settings file for the dashboard: {settings_file}")
        print(f"Dashboard: http://127.0.0.1:{args.port}/", flush=True)
        environment = {
            SETTINGS_VARIABLE: str(settings_file),
            **sandbox.environment(),
            **sandbox_tokens(sandbox),
        }
        return run_voila(args.port, environment)
    except DashboardError as error:
        print(f"maildiag dashboard: {error}", file=sys.stderr)
        return 2
    finally:
        sandbox.stop()
        print("Sandbox stopped.")


if __name__ == "__main__":
    sys.exit(main())
