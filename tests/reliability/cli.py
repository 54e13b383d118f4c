"""Run ``maildiag`` in child processes with no terminal on standard input.

`run_maildiag` starts one process per command line, as a user would. Starting
Python and importing every command module costs about half a second, so
`run_many` runs a batch of command lines through `toolkit.cli.main` (the
function the ``maildiag`` script calls) in one child process, each with its
own standard streams, and reports a traceback as the stderr text a user would see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tests.cli_run import REPO

_DRIVER = """
import contextlib, io, json, logging, os, sys, traceback
from toolkit.cli import main

request = json.load(sys.stdin)
if request["log_file"]:
    handler = logging.FileHandler(request["log_file"], encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
results = []
for item in request["runs"]:
    out, err = io.StringIO(), io.StringIO()
    sys.stdin = io.StringIO(item["stdin"])
    saved = dict(os.environ)
    os.environ.update(item["env"])
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(item["argv"])
        except SystemExit as exit_request:
            code = exit_request.code if isinstance(exit_request.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code = 1
    os.environ.clear()
    os.environ.update(saved)
    results.append({"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Run:
    """One command line for `run_many`, with extra environment variables and standard input."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: str = ""


@dataclass(frozen=True)
class Finished:
    """The exit code and output streams of one command line."""

    returncode: int
    stdout: str
    stderr: str


def run_maildiag(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m toolkit ARGS`` from the repository, feeding `stdin`, and return it.

    Standard input is a pipe, never the terminal, so no command waits at a prompt.
    """
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def run_many(
    runs: Sequence[Run | Sequence[str]],
    *,
    env: Mapping[str, str] | None = None,
    log_file: str | None = None,
) -> list[Finished]:
    """Run each command line through ``toolkit.cli.main`` in one child process, in order.

    `env` is added to the child's environment, and each `Run` may add more for its
    own command. With `log_file` the root logger writes every record, DEBUG
    included, to that file.
    """
    items = [run if isinstance(run, Run) else Run(run) for run in runs]
    request = {
        "log_file": log_file,
        "runs": [{"argv": list(i.argv), "env": dict(i.env), "stdin": i.stdin} for i in items],
    }
    finished = subprocess.run(
        [sys.executable, "-c", _DRIVER],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return [
        Finished(item["code"], item["stdout"], item["stderr"])
        for item in json.loads(finished.stdout)
    ]
