"""``maildiag folders``: show an IMAP entry's folder tree and check its storage folder.

The password comes from the environment variable that the entry's
``password_env`` names, or from a prompt when the variable is not set and the
command runs in a terminal. The check is read-only; ``--create`` creates the
storage folder as a top-level folder and checks it again.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import textwrap
from collections.abc import Sequence

from toolkit.cli_types import positive_int, seconds
from toolkit.findings import Finding, has_errors, ranked
from toolkit.folders.storage import (
    StorageFolderReport,
    check_entry_storage_folder,
    create_storage_folder,
)
from toolkit.folders.tree import DEFAULT_MAX_LINES, FolderTree, render_text
from toolkit.probe import Timeouts
from toolkit.settings import AuthType, Protocol, ServerSettings, SettingsError
from toolkit.settings_file import load_settings, resolve_secrets

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
_WIDTH = 96


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``folders`` command."""
    parser = subparsers.add_parser(
        "folders",
        help="list an IMAP entry's folders and check its storage folder on the server",
        description=(
            "Log in to one IMAP entry of a settings file, list its folders with NAMESPACE and "
            "LIST, draw the tree, and check the storage folder: it must exist with this exact "
            "name, hold mail and be top-level. Read-only unless --create is given."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="TOML settings file with [[server]] entries")
    parser.add_argument(
        "--server", required=True, metavar="SHORT_NAME", help="the name of the IMAP entry to check"
    )
    parser.add_argument(
        "--storage-folder",
        metavar="NAME",
        help="check this folder name instead of the entry's storage_folder",
    )
    parser.add_argument(
        "--create",
        action="store_true",
        help="create the storage folder as a top-level folder if it does not "
        "exist, then check it again",
    )
    parser.add_argument(
        "--max-lines",
        type=positive_int,
        default=DEFAULT_MAX_LINES,
        metavar="N",
        help=f"lines of the tree to print (default {DEFAULT_MAX_LINES})",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="time limit in seconds for each step of the session (default 10)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the folders, namespaces and findings as JSON"
    )
    parser.set_defaults(run=run_folders)


def run_folders(args: argparse.Namespace) -> int:
    """Run ``maildiag folders`` and return the exit code."""
    try:
        entry = _with_secret(resolve_secrets(_entry(args.file, args.server)))
    except SettingsError as error:
        for problem in error.errors:
            print(f"maildiag folders: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except LookupError as error:
        return _usage(str(error.args[0]))

    timeouts = Timeouts(args.timeout, args.timeout, args.timeout, args.timeout)
    folder = args.storage_folder if args.storage_folder is not None else entry.storage_folder
    if args.create:
        if not folder:
            return _usage(
                "--create needs a folder name. Fix: give --storage-folder NAME or "
                "set storage_folder in the entry"
            )
        try:
            report = create_storage_folder(entry, folder, timeouts)
        except ValueError as error:
            return _usage(f"cannot create the folder: {error}")
    else:
        report = check_entry_storage_folder(entry, folder, timeouts)

    if args.json:
        print(json.dumps({"server": entry.name, **report.to_dict()}, indent=2, ensure_ascii=False))
    else:
        print(format_report(entry, report, max_lines=args.max_lines))
    return EXIT_FINDINGS if has_errors(report.findings) else EXIT_OK


def format_report(
    entry: ServerSettings, report: StorageFolderReport, *, max_lines: int = DEFAULT_MAX_LINES
) -> str:
    """Format the tree and the verdict as text: header, namespace, tree, then each finding."""
    listing = report.listing
    lines = [
        f"== {entry.name}: {entry.user} at {entry.endpoint} "
        f"({'implicit TLS' if entry.tls else 'STARTTLS'})"
    ]
    if listing.ok:
        personal = listing.personal
        if personal is not None:
            lines.append(
                f"Personal namespace: prefix {personal.prefix!r}, delimiter "
                f"{personal.delimiter!r} (NAMESPACE, RFC 2342)"
            )
        else:
            lines.append(f"No NAMESPACE reply; hierarchy delimiter {listing.delimiter!r}")
        lines.append(f"{len(listing.folders):,} folders ({listing.list_command}):")
        tree = FolderTree(listing.folders)
        lines.append(render_text(tree, max_lines=max_lines, highlight=report.folder))
    creation = report.creation
    if creation is not None:
        if creation.created:
            lines.append(f"Created {creation.name!r}.")
        elif creation.existed:
            lines.append(f"{creation.name!r} exists already; nothing was created.")
    lines.append("")
    lines.append(f"Storage folder {report.folder!r}:" if report.folder else "Storage folder:")
    lines.extend(_finding_lines(finding) for finding in ranked(report.findings))
    return "\n".join(lines)


def _finding_lines(finding: Finding) -> str:
    lines = [f"  [{finding.severity.value}] {finding.id}"]
    for label, text in (("why", finding.message), ("fix", finding.fix)):
        wrapped = textwrap.wrap(text, width=_WIDTH - 11) or [""]
        lines.append(f"      {label}: {wrapped[0]}")
        lines.extend(f"           {line}" for line in wrapped[1:])
    return "\n".join(lines)


def _entry(path: str, name: str) -> ServerSettings:
    servers = load_settings(path)
    for server in servers:
        if server.name == name:
            if server.protocol is not Protocol.IMAP:
                raise LookupError(
                    f"entry {name!r} is SMTP; folders exist only on IMAP entries. "
                    "Fix: give the name of an IMAP entry"
                )
            return server
    known = ", ".join(s.name for s in servers if s.protocol is Protocol.IMAP) or "none"
    raise LookupError(
        f"no entry named {name!r} in {path}. Fix: use one of the IMAP entries: {known}"
    )


def _with_secret(entry: ServerSettings) -> ServerSettings:
    """Return the entry with its secret, asking for a missing password in a terminal.

    Raises LookupError, naming the variable to set, when the entry cannot log in.
    """
    if entry.auth is AuthType.OAUTH2:
        if entry.token:
            return entry
        variable = entry.token_env or "token_env"
        raise LookupError(
            f"entry {entry.name!r} uses OAuth2 and has no access token. Fix: set "
            f"the environment variable {variable} to a token"
        )
    if entry.password:
        return entry
    if sys.stdin.isatty():
        typed = getpass.getpass(f"Password for {entry.user} ({entry.name}): ")
        if typed:
            return entry.with_secrets(password=typed)
    variable = entry.password_env or "password_env"
    raise LookupError(
        f"entry {entry.name!r} has no password. Fix: set the environment variable "
        f"{variable}, or run the command in a terminal to type it"
    )


def _usage(message: str) -> int:
    print(f"maildiag folders: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``folders`` on its own, as ``python -m toolkit.folders_cli FILE --server NAME``."""
    parser = argparse.ArgumentParser(prog="maildiag")
    subparsers = parser.add_subparsers(dest="command")
    add_parser(subparsers)
    args = parser.parse_args(["folders", *(sys.argv[1:] if argv is None else argv)])
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
