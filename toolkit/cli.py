"""The ``maildiag`` command line.

Exit codes are the same for every command: 0 when no finding has error
severity, 1 when one does, and 2 when the input cannot be used (the reason goes
to stderr).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence

from toolkit.checks import check_file
from toolkit.findings import Finding, has_errors, ranked
from toolkit.settings import SettingsError
from toolkit.settings_file import load_settings, resolve_secrets

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
# 128 plus SIGPIPE, the status a shell reports for a command whose reader went away.
EXIT_BROKEN_PIPE = 141

# Commands that live beside the code they drive. Each module has add_parser(subparsers),
# which sets a ``run`` default taking the parsed arguments and returning the exit code.
_COMMAND_MODULES = (
    "toolkit.probe_cli",
    "toolkit.login_cli",
    "toolkit.folders_cli",
    "toolkit.fromaddr_cli",
    "toolkit.triage_cli",
    "toolkit.audit_cli",
    "toolkit.discovery_cli",
    "toolkit.sandbox.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="maildiag",
        description="Diagnose IMAP and SMTP settings of email channels.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = subparsers.add_parser(
        "check",
        help="check a settings file against port conventions and provider recommendations",
        description="Check every [[server]] entry of a TOML settings file without connecting.",
    )
    check.add_argument("file", metavar="FILE", help="TOML settings file with [[server]] entries")
    check.add_argument("--json", action="store_true", help="print the findings as JSON objects")
    check.set_defaults(run=run_check)

    for module_name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            # A missing optional part must not take the other commands down with it.
            parser.epilog = f"(command module {module_name} unavailable: {error})"
            continue
        module.add_parser(subparsers)
    return parser


def run_check(args: argparse.Namespace) -> int:
    """Run ``maildiag check FILE``."""
    try:
        servers = load_settings(args.file)
    except SettingsError as error:
        return report_unusable(error)
    # Secrets from the environment let the app-password check run; they are never printed.
    findings = ranked(check_file([resolve_secrets(server) for server in servers]))
    if args.json:
        print(json.dumps([finding.to_dict() for finding in findings], indent=2))
    else:
        print(format_findings(findings, checked=len(servers)))
    return EXIT_FINDINGS if has_errors(findings) else EXIT_OK


def report_unusable(error: SettingsError) -> int:
    """Print every problem of unusable input to stderr and return the usage exit code."""
    source = f" in {error.source}" if error.source else ""
    print(f"maildiag: unusable input{source}:", file=sys.stderr)
    for problem in error.errors:
        print(f"  - {problem}", file=sys.stderr)
    return EXIT_USAGE


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def format_findings(
    findings: Sequence[Finding], *, checked: int, subject: tuple[str, str] = ("entry", "entries")
) -> str:
    """Format findings as a plain-text table: one block per finding, errors first.

    `subject` names what was checked, singular and plural, for the summary line.
    """
    entries = _count(checked, *subject)
    if not findings:
        return f"Checked {entries}: no findings."
    width = 100
    counts = {severity: 0 for severity in ("error", "warning", "info")}
    for finding in findings:
        counts[finding.severity.value] += 1
    server_width = max(6, *(len(finding.server) for finding in findings))
    lines = [
        f"Checked {entries}: {_count(counts['error'], 'error')}, "
        f"{_count(counts['warning'], 'warning')}, {counts['info']} info.",
        "",
        f"{'SEVERITY':<8}  {'SERVER':<{server_width}}  {'FIELD':<15}  ID",
    ]
    for finding in findings:
        lines.append(
            f"{finding.severity.value:<8}  {finding.server:<{server_width}}  "
            f"{finding.field[:15]:<15}  {finding.id}"
        )
        for label, text in (("why", finding.message), ("fix", finding.fix)):
            wrapped = textwrap.wrap(text, width=width - 14) or [""]
            lines.append(f"          {label}: {wrapped[0]}")
            lines.extend(f"               {line}" for line in wrapped[1:])
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        # argparse exits with 2 on bad usage and 0 on --help.
        return int(exit_request.code or 0)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return run(args)
    except KeyboardInterrupt:
        print("maildiag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (as with "| head"). Send the rest of the
        # output to /dev/null so Python's own flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
