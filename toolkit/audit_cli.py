"""``maildiag audit``: check many settings or tenant files at once and print one summary table."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap

from toolkit.audit import AuditReport, AuditRow, SettingsVerdict, audit_files
from toolkit.cli_types import seconds
from toolkit.findings import Severity, ranked
from toolkit.probe.results import Timeouts

_WIDTH = 100
# Column widths caps, so that one long file name does not push the table off the screen.
_MAX_WIDTHS = {"file": 40, "server": 28, "endpoint": 30, "tls": 40, "top": 30}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command."""
    parser = subparsers.add_parser(
        "audit",
        help="check many settings or tenant files at once and print one summary table",
        description=(
            "Check every [[server]] entry of the files named, and of the *.toml files in the "
            "folders named (searched recursively), as 'maildiag check' does. With --online, "
            "also probe each distinct host and port in both TLS modes and give the TLS "
            "verdict for each entry's tick (two connections per endpoint, no credentials)."
        ),
    )
    parser.add_argument(
        "paths", nargs="+", metavar="FILE_OR_FOLDER", help="settings files or folders of them"
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also probe each endpoint with implicit TLS and STARTTLS (connects to the hosts)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=5.0,
        metavar="S",
        help="with --online: time limit in seconds for each stage of a probe (connect, "
        "greeting, handshake, read); default 5",
    )
    parser.set_defaults(run=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    """Run ``maildiag audit`` and return the exit code."""
    timeouts = Timeouts(args.timeout, args.timeout, args.timeout, args.timeout)
    line = _ProgressLine() if sys.stderr.isatty() else None
    try:
        report = audit_files(
            args.paths,
            online=args.online,
            timeouts=timeouts,
            progress=line.update if line is not None else None,
        )
    finally:
        if line is not None:
            line.close()

    if not report.usable_files:
        print("maildiag audit: no usable settings file:", file=sys.stderr)
        for row in report.rows:
            for finding in row.findings:
                print(f"  - {finding.message} Fix: {finding.fix}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return 1 if report.has_errors() else 0


class _ProgressLine:
    """One line on stderr that each progress call overwrites; only for a terminal."""

    def __init__(self) -> None:
        self._width = max(20, shutil.get_terminal_size().columns - 1)
        self._used = False

    def update(self, done: int, total: int, text: str) -> None:
        prefix = f"[{done}/{total}] "
        line = prefix + _clip_start(text, self._width - len(prefix))
        sys.stderr.write("\r" + line.ljust(self._width))
        sys.stderr.flush()
        self._used = True

    def close(self) -> None:
        if self._used:
            sys.stderr.write("\r" + " " * self._width + "\r")
            sys.stderr.flush()


def format_report(report: AuditReport) -> str:
    """Format the report as a plain-text table, with the fix under each row that needs one."""
    entries = sum(1 for row in report.rows if row.settings_verdict is not SettingsVerdict.UNUSABLE)
    errors = sum(row.errors for row in report.rows)
    warnings = sum(row.warnings for row in report.rows)
    mode = "online" if report.online else "offline"
    header = (
        f"Audited {_count(len(report.files), 'file')} ({len(report.unusable_files)} unusable), "
        f"{_count(entries, 'entry', 'entries')}, {mode}: {_count(errors, 'error')}, "
        f"{_count(warnings, 'warning')}."
    )
    columns = _columns(report)
    widths = {
        key: min(
            _MAX_WIDTHS.get(key, 99),
            max(len(title), *(len(cells[key]) for cells in _cells_all(report))),
        )
        for key, title in columns
    }
    lines = [header, "", "  ".join(title.ljust(widths[key]) for key, title in columns).rstrip()]
    for row in report.rows:
        cells = _cells(row)
        clipped = [
            (_clip_start if key == "file" else _clip)(cells[key], widths[key]).ljust(widths[key])
            for key, _ in columns
        ]
        lines.append("  ".join(clipped).rstrip())
        lines += _detail_lines(row)
    return "\n".join(lines)


def _columns(report: AuditReport) -> list[tuple[str, str]]:
    columns = [
        ("file", "FILE"),
        ("server", "SERVER"),
        ("protocol", "PROTO"),
        ("endpoint", "HOST:PORT"),
        ("tick", "TICK"),
        ("settings", "SETTINGS"),
    ]
    if report.online:
        columns.append(("tls", "TLS VERDICT"))
    columns += [("top", "TOP FINDING"), ("errors", "E"), ("warnings", "W")]
    return columns


def _cells_all(report: AuditReport) -> list[dict[str, str]]:
    return [_cells(row) for row in report.rows] or [_cells(_EMPTY_ROW)]


_EMPTY_ROW = AuditRow("", "", "", "", None, SettingsVerdict.OK)


def _cells(row: AuditRow) -> dict[str, str]:
    top = row.top
    return {
        "file": row.file,
        "server": row.server or "-",
        "protocol": row.protocol or "-",
        "endpoint": row.endpoint or "-",
        "tick": _tick_words(row.tls),
        "settings": row.settings_verdict.value,
        "tls": row.tls_verdict,
        "top": top.id if top else "",
        "errors": str(row.errors),
        "warnings": str(row.warnings),
    }


def _tick_words(tls: bool | None) -> str:
    if tls is None:
        return ""
    return "on" if tls else "off"


def _detail_lines(row: AuditRow) -> list[str]:
    """Return every problem of an unusable file, or why and how to fix a row's top problem."""
    if row.settings_verdict is SettingsVerdict.UNUSABLE:
        lines: list[str] = []
        for finding in ranked(row.findings):
            lines += _wrapped("problem", finding.message)
            lines += _wrapped("fix", finding.fix)
        return lines
    top = row.top
    if top is None or top.severity is Severity.INFO:
        return []
    return _wrapped("why", top.message) + _wrapped("fix", top.fix)


def _wrapped(label: str, text: str) -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent=f"    {label}: ", subsequent_indent=" " * (6 + len(label))
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _clip_start(text: str, width: int) -> str:
    """Clip from the start, so that a long path keeps its file name."""
    return text if len(text) <= width else "..." + text[len(text) - width + 3 :]


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"

