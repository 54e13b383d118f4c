"""``maildiag triage`` and ``maildiag replay``: triage one ticket, and replay a saved one.

``triage`` runs the seven steps for one IMAP entry of a settings or tenant file,
prints each step as it ends, then the findings with the fix first, and writes
reports on request. ``replay`` serves a saved JSON report from local listeners
and writes a settings file that points at them, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from toolkit.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, report_unusable
from toolkit.cli_types import seconds
from toolkit.probe.results import Timeouts
from toolkit.replay import ReplayError, ReplayServer
from toolkit.reports import RENDERERS, ReportError, format_for, load_report, write_report
from toolkit.reports.json_report import render_json
from toolkit.settings import SettingsError
from toolkit.triage import StepResult, TriageInputError, TriageResult, triage_file

_WIDTH = 100
# A login may wait this long for the server's reply: Dovecot delays a failed login
# by 2 s by default, and some providers take longer.
LOGIN_READ_SECONDS = 15.0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``triage`` and ``replay`` commands."""
    triage = subparsers.add_parser(
        "triage",
        help="run every check for one IMAP entry and its SMTP entries, and write reports",
        description=(
            "Run the checks in numbered steps: settings, the IMAP and SMTP handshakes, the "
            "IMAP and SMTP logins, the folders and the storage folder, and the From address "
            "of replies. A step that cannot run because an earlier one failed is skipped. "
            "Passwords and tokens come from the variables the entries name and appear in "
            "no output or report."
        ),
    )
    triage.add_argument("file", metavar="FILE", help="TOML settings or tenant file")
    triage.add_argument(
        "--server",
        metavar="SHORT_NAME",
        help="the IMAP entry to triage (needed when the file has more than one)",
    )
    triage.add_argument(
        "--smtp",
        action="append",
        metavar="SHORT_NAME",
        help="an SMTP entry to check with it, repeatable (default: the SMTP entries of its "
        "queues, else those with the same user, else every SMTP entry)",
    )
    triage.add_argument(
        "--report",
        action="append",
        metavar="PATH",
        help="write a report here, repeatable; the suffix .html, .md or .json gives the format",
    )
    triage.add_argument(
        "--format",
        choices=sorted(RENDERERS),
        help="the format of every --report, whatever its suffix",
    )
    triage.add_argument(
        "--json", action="store_true", help="print the JSON report instead of text"
    )
    triage.add_argument(
        "--timeout",
        type=seconds,
        default=5.0,
        metavar="S",
        help="time limit in seconds for each connection stage (default 5); a login waits "
        f"up to {LOGIN_READ_SECONDS:g} s, or S if that is longer, for its reply",
    )
    triage.set_defaults(run=run_triage_command)

    replay = subparsers.add_parser(
        "replay",
        help="serve a saved JSON triage report from local servers, to reproduce it offline",
        description=(
            "Start one local server on 127.0.0.1 per entry of the report, answering as the "
            "recorded servers did, write a settings file that points at them, and wait until "
            "Ctrl-C. A triage of that file gives the report's findings again."
        ),
    )
    replay.add_argument("report", metavar="REPORT.json", help="a JSON report of maildiag triage")
    replay.add_argument(
        "--settings-out",
        type=Path,
        metavar="PATH",
        help="write the settings file here (default: the replay's temporary folder)",
    )
    replay.set_defaults(run=run_replay_command)


def run_triage_command(args: argparse.Namespace) -> int:
    """Run ``maildiag triage`` and return the exit code."""
    reports: list[tuple[Path, str]] = []
    for path in args.report or []:
        try:
            reports.append((Path(path), format_for(path, args.format)))
        except ValueError as error:
            print(f"maildiag triage: --report: {error}", file=sys.stderr)
            return EXIT_USAGE
    timeout = args.timeout
    show_steps = None if args.json else _print_step
    try:
        result = triage_file(
            args.file,
            args.server,
            args.smtp or (),
            probe_timeouts=Timeouts(timeout, timeout, timeout, timeout),
            login_timeouts=Timeouts(timeout, timeout, timeout, max(timeout, LOGIN_READ_SECONDS)),
            on_step_end=show_steps,
        )
    except SettingsError as error:
        return report_unusable(error)
    except TriageInputError as error:
        print(f"maildiag triage: {error}", file=sys.stderr)
        return EXIT_USAGE

    if args.json:
        sys.stdout.write(render_json(result))
    else:
        print()
        print("\n".join(format_findings(result)))
    for path, report_format in reports:
        try:
            written = write_report(result, path, report_format)
        except OSError as error:
            print(f"maildiag triage: cannot write the report {path}: {error}", file=sys.stderr)
            return EXIT_USAGE
        if not args.json:
            print(f"Wrote the {report_format} report {written}")
    return EXIT_FINDINGS if result.has_errors else EXIT_OK


def _print_step(step: StepResult) -> None:
    print("\n".join(format_step(step)), flush=True)


def format_step(step: StepResult) -> list[str]:
    """Return the lines for one finished step: number, title, status, time, summary."""
    head = f"{step.number}. {step.title}: {step.status.value} ({step.seconds:.2f} s)"
    body = textwrap.wrap(step.summary, width=_WIDTH - 5) or [""]
    return [head, *(f"     {line}" for line in body)]


def format_findings(result: TriageResult) -> list[str]:
    """Return the ranked findings with the fix first, then the headline."""
    if not result.findings:
        return ["No findings."]
    counts = result.counts
    lines = [
        f"Findings, most important first: {counts['error']} errors, {counts['warning']} "
        f"warnings, {counts['info']} info."
    ]
    for number, item in enumerate(result.findings, start=1):
        finding = item.finding
        lines.append(
            f"{number:>2}. [{finding.severity.value}] {finding.id} "
            f"({finding.server or '-'}, step {item.step})"
        )
        for label, text in (("fix", finding.fix), ("why", finding.message)):
            wrapped = textwrap.wrap(text, width=_WIDTH - 9) or [""]
            lines.append(f"    {label}: {wrapped[0]}")
            lines.extend(f"         {line}" for line in wrapped[1:])
    lines += ["", result.headline]
    return lines


def run_replay_command(args: argparse.Namespace) -> int:
    """Run ``maildiag replay`` and return the exit code: 0 after Ctrl-C, 2 for a bad report."""
    try:
        document = load_report(args.report)
        replay = ReplayServer(document)
    except (ReportError, ReplayError) as error:
        print(f"maildiag replay: {error}", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            replay.start()
        except (ReplayError, OSError) as error:
            print(f"maildiag replay: cannot start: {error}", file=sys.stderr)
            return EXIT_USAGE
        try:
            settings_path = replay.write_settings(args.settings_out)
            print(format_replay(replay, document, settings_path), flush=True)
            # A timeout keeps the wait responsive where a signal cannot interrupt it.
            while not stop.wait(0.5):
                pass
        finally:
            replay.stop()
    print("Replay stopped.", flush=True)
    return EXIT_OK


def format_replay(replay: ReplayServer, document: dict[str, Any], settings_path: Path) -> str:
    """Return what ``maildiag replay`` prints once its listeners run."""
    lines = [f"Replaying the triage of {document.get('imap')} from {document.get('started')}.", ""]
    lines.append("Endpoints:")
    for endpoint in replay.endpoints:
        certificate = f", certificate {endpoint.certificate}" if endpoint.certificate else ""
        lines.append(
            f"  {endpoint.name}: {endpoint.protocol.value.upper()} {endpoint.host}:"
            f"{endpoint.port} ({endpoint.mode.value}{certificate})"
        )
    for note in replay.notes:
        lines.append(f"  NOTE: {note}")
    lines += ["", f"Settings file: {settings_path}", ""]
    lines.append("Stand-in passwords and tokens (the replay accepts any):")
    lines += [
        f"export {name}={shlex.quote(value)}" for name, value in replay.environment().items()
    ]
    command = ["maildiag", "triage", str(settings_path), "--server", str(document.get("imap"))]
    for name in document.get("smtp") or []:
        command += ["--smtp", str(name)]
    lines += ["", "Then run:", "  " + shlex.join(command), "", "Press Ctrl-C to stop."]
    return "\n".join(lines)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGINT and SIGTERM while the block runs, then restore the old handlers."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, Any] = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            previous[number] = signal.signal(number, handle)
    except ValueError:
        # Handlers can only be set in the main thread; Ctrl-C then raises
        # KeyboardInterrupt, which still stops the replay in `run_replay_command`.
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
