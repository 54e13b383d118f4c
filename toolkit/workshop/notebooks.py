"""Write the exercise notebooks of ``notebooks/workshop/`` from the exercise specs.

Each notebook shows its spec's ticket, question and options in markdown, runs
the toolkit checks of its topic in code cells, and ends with the self-check and
a stop. After changing an exercise, write the notebooks again with::

    .venv/bin/python -m toolkit.workshop.notebooks notebooks/workshop

The notebooks are written in nbformat 4.5 without outputs. Cell ids are derived
from the exercise key and the cell's position, so writing again changes only
the cells whose text changed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.workshop.catalogue import SPECS
from toolkit.workshop.model import ExerciseSpec

# A step is a markdown cell ("md") or a code cell ("code") with its text.
Step = tuple[str, str]

_SANDBOX_NOTE = (
    "The exercise runs on a sandbox of its own on this computer (127.0.0.1 only), with "
    "the customer's users and made-up passwords. The cell below starts it and shows the "
    "entry as the customer entered it."
)
_PORT_NOTE = (
    " The sandbox chooses free ports at start, so the port numbers differ from the ticket's: "
    "the entry's port behaves like the one in the ticket."
)
_ANSWER = """## Your answer

Write your diagnosis into `answer` in place of `"?"` and run the cell. The self-check accepts:

- the letter of an option above, such as `"b"`;
- the finding id that names the fault, such as `"tls-tick-wrong-for-port"`;
- the corrected setting, as a dictionary such as `{{"tls": False}}`{extra}.

A first wrong answer gets a hint. After a second, different wrong answer the self-check shows \
the expected diagnosis. For a hint at any time, run `print(exercise.hint())` in a new cell."""
_STOP = """## Stop

Stopping the exercise closes its sandbox. To start the exercise again from the beginning, \
restart the kernel and run all cells."""
_BASE_IMPORTS = frozenset({
    "from toolkit.tables import findings_styler, settings_frame",
    "from toolkit.workshop import start_exercise",
})
_SETTINGS_STEPS: list[Step] = [
    ("md", "## Step 1: check the entry without connecting\n\n"
           "The settings check compares the entry with the standard ports and the provider "
           "recommendations. It makes no connection."),
    ("code", "findings_styler(check_server(exercise.entry))"),
]
ANSWER_CELL = 'answer = "?"\nprint(exercise.check(answer))'
STOP_CELL = "exercise.stop()"


def notebook_document(spec: ExerciseSpec) -> dict[str, Any]:
    """Return the notebook of an exercise as nbformat 4.5 JSON data, without outputs."""
    imports, steps = _topic_steps(spec)
    extra = (', or the queue\'s SMTP entry such as `{"smtp": "entry-name"}`'
             if spec.info.topic == "From address" else "")
    cells: list[Step] = [
        ("md", _header(spec)),
        ("code", _start_cell(spec.info.key, imports)),
        *steps,
        ("md", _ANSWER.format(extra=extra)),
        ("code", ANSWER_CELL),
        ("md", _STOP),
        ("code", STOP_CELL),
    ]
    return {
        "cells": [_cell(spec, index, kind, text) for index, (kind, text) in enumerate(cells)],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_notebooks(folder: Path, specs: Sequence[ExerciseSpec] = SPECS) -> list[Path]:
    """Write one notebook per exercise into `folder` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in specs:
        path = folder / spec.info.notebook
        text = json.dumps(notebook_document(spec), indent=1, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Write the notebooks into the folder given on the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.workshop.notebooks",
        description="Write the workshop notebooks from the exercise specs, without outputs.",
    )
    parser.add_argument("folder", type=Path, help="the folder to write into, such as "
                        "notebooks/workshop")
    arguments = parser.parse_args(argv)
    for path in write_notebooks(arguments.folder):
        print(path)
    return 0


def _cell(spec: ExerciseSpec, index: int, kind: str, text: str) -> dict[str, Any]:
    lines = text.splitlines(keepends=True)
    cell: dict[str, Any] = {
        "cell_type": "markdown" if kind == "md" else "code",
        "id": f"{spec.info.key}-{index}",
        "metadata": {},
        "source": lines,
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def _header(spec: ExerciseSpec) -> str:
    info = spec.info
    choices = "\n".join(f"- **({choice.letter})** {choice.text}" for choice in spec.choices)
    port_note = _PORT_NOTE if info.topic in ("TLS tick", "certificates") else ""
    return (
        f"# Exercise {info.number:02d}: {info.title}\n\n"
        f"Topic: {info.topic}. Difficulty: {info.difficulty.value}. "
        f"About {info.minutes} minutes.\n\n"
        f"## The ticket\n\n> {spec.ticket}\n\n"
        f"## The question\n\n**{spec.question}**\n\n{choices}\n\n"
        f"Use the toolkit's checks below to find out, then answer at the end. "
        f"{_SANDBOX_NOTE}{port_note}"
    )


def _start_cell(key: str, imports: frozenset[str]) -> str:
    third_party = sorted(line for line in imports if not line.startswith("from toolkit"))
    own = sorted(line for line in imports if line.startswith("from toolkit"))
    head = "\n".join(third_party) + "\n\n" if third_party else ""
    return f'{head}{chr(10).join(own)}\n\nexercise = start_exercise("{key}")\n' \
           "settings_frame([exercise.entry])"


def _topic_steps(spec: ExerciseSpec) -> tuple[frozenset[str], list[Step]]:
    topic = spec.info.topic
    if topic in ("TLS tick", "certificates"):
        return _tls_steps(certificate=topic == "certificates")
    if topic == "Basic login":
        return _basic_login_steps()
    if topic.startswith("OAuth"):
        return _oauth_steps()
    if topic == "storage folder":
        return _folder_steps()
    if topic == "From address":
        return _from_steps()
    raise ValueError(f"exercise {spec.info.key!r} has the topic {topic!r}, which has no "
                     "notebook steps; add them in toolkit.workshop.notebooks")


def _tls_steps(*, certificate: bool) -> tuple[frozenset[str], list[Step]]:
    imports = _BASE_IMPORTS | {
        "from toolkit.checks import check_server",
        "from toolkit.login.check import check_login",
        "from toolkit.probe_view import probes_frame",
        "from toolkit.tls_check import check_entry_tls",
    }
    steps: list[Step] = [
        *_SETTINGS_STEPS,
        ("md", "## Step 2: probe the port in both modes\n\n"
               "The TLS check connects twice, once with implicit TLS (TLS ticked) and once with "
               "STARTTLS (TLS unticked), and sends no password. The verdict says which mode works "
               "and what to change."),
        ("code", "tls = check_entry_tls(exercise.entry, exercise.timeouts)\n"
                 "print(tls.verdict.sentence)\n"
                 'print("Change:", tls.verdict.change)\n'
                 "findings_styler(tls.verdict.findings)"),
        ("md", "What each mode saw: the reason it stopped, the TLS version, the greeting and the "
               "certificate's verification."),
        ("code", "probes_frame([tls.implicit, tls.starttls]).T"),
    ]
    if certificate:
        imports |= {"import pandas as pd"}
        steps += [
            ("md", "The certificate the server sent in the mode that worked: its names, issuer, "
                   "dates, and what it was verified against."),
            ("code", "certificate = tls.implicit.certificate or tls.starttls.certificate\n"
                     "pd.Series(certificate.to_dict())"),
        ]
    steps += [
        ("md", "## Step 3: the login test\n\n"
               "The login test logs in the way the product does: TLS per the entry's tick, the "
               "certificate verified against the system's authorities plus the entry's CA file, "
               "then the login. Its findings name the likely cause."),
        ("code", "login = check_login(exercise.entry, timeouts=exercise.timeouts)\n"
                 "print(login.result.summary())\n"
                 "findings_styler(login.findings)"),
    ]
    return imports, steps


def _basic_login_steps() -> tuple[frozenset[str], list[Step]]:
    imports = _BASE_IMPORTS | {
        "import pandas as pd",
        "from toolkit.checks import check_server",
        "from toolkit.login.check import check_login",
    }
    steps: list[Step] = [
        *_SETTINGS_STEPS,
        ("md", "## Step 2: the login test\n\n"
               "The login test logs in the way the product does, with the password the admin "
               "entered, and explains the server's reply."),
        ("code", "login = check_login(exercise.entry, timeouts=exercise.timeouts)\n"
                 "print(login.result.summary())\n"
                 'print("Server said:", login.result.server_text)\n'
                 "findings_styler(login.findings)"),
        ("md", "The transcript of the session, with the password redacted where each line was "
               "written:"),
        ("code", "pd.DataFrame(\n"
                 '    [{"from": line.direction, "line": line.text} for line in '
                 "login.result.transcript]\n"
                 ")"),
    ]
    return imports, steps


def _oauth_steps() -> tuple[frozenset[str], list[Step]]:
    imports = _BASE_IMPORTS | {
        "import pandas as pd",
        "from toolkit.login.check import check_login",
        "from toolkit.oauth.claims import diagnose_token",
    }
    steps: list[Step] = [
        ("md", "## Step 1: the login test\n\n"
               "The login test logs in with XOAUTH2, as the product does, and decodes the entry's "
               "token to check it against the entry."),
        ("code", "login = check_login(exercise.entry, timeouts=exercise.timeouts)\n"
                 "print(login.result.summary())\n"
                 'print("Server said:", login.result.server_text)\n'
                 "findings_styler(login.findings)"),
        ("md", "## Step 2: read the token's claims\n\n"
               "Microsoft 365 access tokens are JWTs, so their claims can be read here, with no "
               "network and no web decoder. The token itself is never printed."),
        ("code", "diagnosis = diagnose_token(\n"
                 "    exercise.entry.token.reveal(),  # read locally, not sent anywhere\n"
                 "    protocol=exercise.entry.protocol,\n"
                 "    user=exercise.entry.user,\n"
                 "    tenant=exercise.entry.oauth.tenant,\n"
                 ")\n"
                 "pd.DataFrame(diagnosis.claims.rows())"),
        ("code", "findings_styler(diagnosis.findings)"),
    ]
    return imports, steps


def _folder_steps() -> tuple[frozenset[str], list[Step]]:
    imports = _BASE_IMPORTS | {
        "from toolkit.checks import check_server",
        "from toolkit.folders import FolderTree, check_storage_folder, list_folders, render_text",
        "from toolkit.folders_view import folders_frame",
    }
    steps: list[Step] = [
        *_SETTINGS_STEPS,
        ("md", "## Step 2: list the folders on the server\n\n"
               "The listing logs in and asks the server for its namespaces and folders (NAMESPACE "
               "and LIST). It opens and changes no folder."),
        ("code", "listing = list_folders(exercise.entry, exercise.timeouts)\n"
                 'print(f"Personal namespace: {listing.personal}, delimiter: '
                 '{listing.delimiter!r}")\n'
                 "print(render_text(FolderTree(listing.folders), "
                 "highlight=exercise.entry.storage_folder))"),
        ("md", "One row per folder: its full name as the server lists it, the attributes and "
               "whether it can hold mail."),
        ("code", "folders_frame(listing)"),
        ("md", "## Step 3: check a storage folder name\n\n"
               "The cell checks the entry's storage folder against the listing. To test a fix, "
               "put another name in `candidate` and run the cell again."),
        ("code", "candidate = exercise.entry.storage_folder\n"
                 "findings_styler(check_storage_folder(listing, candidate, server=candidate))"),
    ]
    return imports, steps


def _from_steps() -> tuple[frozenset[str], list[Step]]:
    imports = _BASE_IMPORTS | {
        "from toolkit.fromaddr import build_report",
        "from toolkit.fromaddr.predict import predict_pairing, predict_table",
        "from toolkit.fromaddr.tenant import tenant_setup_from_text, with_secrets",
        "from toolkit.fromaddr_view import cleanup_summary, table_styler",
    }
    steps: list[Step] = [
        ("md", "## Step 1: the tenant file\n\n"
               "The tenant file lists the entries, the queue (the IMAP entries it reads and the "
               "SMTP entry it replies through) and the sending permissions. It names the "
               "variables that contain passwords and tokens, never the secrets themselves."),
        ("code", "print(exercise.tenant_text)\n"
                 "tenant = tenant_setup_from_text(exercise.tenant_text)"),
        ("md", "## Step 2: predict the table\n\n"
               "Rows are the IMAP accounts (address A), columns the SMTP entries (login B). Each "
               "cell says what the customer sees on a reply. This needs no connection."),
        ("code", "table_styler(predict_table(tenant))"),
        ("md", "## Step 3: the queue's replies\n\n"
               "The prediction for the queue's own pairing, with the rule and its source, and the "
               "findings per queue."),
        ("code", "queue = tenant.queues[0]\n"
                 "prediction = predict_pairing(tenant, queue.imap[0], queue.smtp)\n"
                 'print(f"Queue {queue.name}: {prediction.headline}")\n'
                 "print(prediction.explanation)\n"
                 'print(f"Rule {prediction.rule}: {prediction.source}")\n'
                 "findings_styler(build_report(tenant).findings)"),
        ("md", "## Step 4: check with test messages\n\n"
               "On the sandbox the prediction can be checked for real: one test message per "
               "pairing goes to an observer mailbox, and the check reads what arrived and deletes "
               "the test messages again."),
        ("code", "checked = build_report(with_secrets(tenant, exercise.environment()), "
                 "verify=True)\n"
                 "print(cleanup_summary(checked.verification))\n"
                 "table_styler(checked.table, checked.verification)"),
    ]
    return imports, steps


if __name__ == "__main__":
    raise SystemExit(main())
