"""``maildiag sandbox``: run the sandbox in the foreground until Ctrl-C or SIGTERM.

The command prints the endpoints, the users with their sandbox-only passwords,
the CA file and the settings file, plus ``export`` lines for the password
variables that the settings file names. It exits with 0 after a clean stop,
with 1 when the sandbox cannot start (a port in use), and with 2 when the
tenant file or the port base cannot be used.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from toolkit.sandbox.authority import SANDBOX_PUBLIC_CLIENT_ID
from toolkit.sandbox.endpoints import DEFAULT_PORT_BASE
from toolkit.sandbox.overview import login_kind, user_notes
from toolkit.sandbox.server import Sandbox, SandboxError
from toolkit.sandbox.tenant import load_tenant
from toolkit.settings import SettingsError

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_START_FAILED = 1
EXIT_UNUSABLE_INPUT = 2


def _port_base(text: str) -> int:
    """Parse ``--port-base``; argparse reports the error with the option's name."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give a whole number such as 10000, or 0 for free ports"
        ) from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sandbox`` subcommand to a ``maildiag`` subparsers object and return its parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="run local IMAP and SMTP servers with provider personalities",
        description="Run the local IMAP and SMTP sandbox on 127.0.0.1 until Ctrl-C or SIGTERM.",
    )
    parser.add_argument(
        "--port-base",
        type=_port_base,
        default=DEFAULT_PORT_BASE,
        metavar="N",
        help=f"add N to each standard port: IMAP STARTTLS is N+143, IMAP TLS N+993, SMTP "
        f"STARTTLS N+587, SMTP TLS N+465; 0 picks free ports (default {DEFAULT_PORT_BASE})",
    )
    parser.add_argument(
        "--settings-out",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the settings file here (default: the sandbox's temporary folder, "
        "removed when the sandbox stops)",
    )
    parser.add_argument(
        "--tenant",
        type=Path,
        default=None,
        metavar="PATH",
        help="TOML file with a [tenant] table of users (default: the built-in workshop tenant)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print how to reach it, and wait for SIGINT or SIGTERM."""
    try:
        tenant = load_tenant(args.tenant) if args.tenant is not None else None
        sandbox = Sandbox(port_base=args.port_base, tenant=tenant)
    except (SettingsError, ValueError) as error:
        print(f"maildiag sandbox: {error}", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT

    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            sandbox.start()
        except SandboxError as error:
            print(f"maildiag sandbox: {error}", file=sys.stderr)
            return EXIT_START_FAILED
        try:
            settings_path = sandbox.write_settings(args.settings_out)
            print(render_summary(sandbox, settings_path), flush=True)
            _log_activity()
            # A timeout keeps the wait responsive where a signal cannot interrupt it.
            while not stop.wait(0.5):
                pass
        finally:
            sandbox.stop()
    print("Sandbox stopped.", flush=True)
    return 0


def render_summary(sandbox: Sandbox, settings_path: Path) -> str:
    """Return the text that ``maildiag sandbox`` prints after start, passwords included."""
    lines = [
        f"Sandbox running on {sandbox.host}, started in {sandbox.start_seconds or 0:.2f} s.",
        "",
        "Endpoints:",
    ]
    lines += _table(
        ("name", "protocol", "security", "port", "description"),
        [
            (e.name, e.protocol.value, e.security.value, str(e.port), e.description)
            for e in sandbox.endpoints
        ],
    )
    lines += ["", "Users (sandbox-only passwords):"]
    lines += _table(
        ("address", "personality", "login", "password", "app password", "notes"),
        [
            (
                u.address,
                u.personality.value,
                login_kind(u),
                u.password.reveal() if u.can_sign_in else "-",
                u.app_password.reveal() if u.app_password is not None else "-",
                user_notes(sandbox.tenant, u),
            )
            for u in sandbox.users
        ],
    )
    if sandbox.authority is not None:
        lines += [
            "",
            f"OAuth2 authority: {sandbox.authority.authority_url}",
            f"Public client ID: {SANDBOX_PUBLIC_CLIENT_ID}",
        ]
    lines += [
        "",
        f"CA file:       {sandbox.ca_file}",
        f"Settings file: {settings_path}",
        "",
        "Password variables for the settings file:",
    ]
    lines += [
        f"export {name}={shlex.quote(value)}" for name, value in sandbox.environment().items()
    ]
    tokens = sandbox_tokens(sandbox)
    if tokens:
        lines += ["", "OAuth2 access token variables (sandbox-only tokens, valid for one hour):"]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in tokens.items()]
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _log_activity() -> None:
    """Show the sandbox's connections, logins and rejections on stderr while it runs.

    Only the sandbox's own loggers at INFO: pymap's and aiosmtpd's protocol
    transcripts stay at DEBUG and are not shown.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    sandbox_logger = logging.getLogger("toolkit.sandbox")
    sandbox_logger.addHandler(handler)
    sandbox_logger.setLevel(logging.INFO)


def sandbox_tokens(sandbox: Sandbox) -> dict[str, str]:
    """Return a fresh access token for each entry that names a token variable.

    Printing them lets a trainer try ``maildiag login`` and ``maildiag token
    --decode`` on the OAuth2 entries without a sign-in. They are made-up sandbox
    tokens, like the sandbox passwords printed beside them.
    """
    if sandbox.authority is None:
        return {}
    tokens: dict[str, str] = {}
    for entry in sandbox.settings():
        if entry.token_env and entry.token_env not in tokens:
            tokens[entry.token_env] = sandbox.access_token(entry.user).reveal()
    return tokens


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGINT and SIGTERM while the block runs, then restore the old handlers."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    try:
        for number in _STOP_SIGNALS:
            previous[number] = signal.signal(number, handle)
    except ValueError:
        # Signal handlers can only be set in the main thread; Ctrl-C then raises
        # KeyboardInterrupt, which still runs the sandbox's stop in `run`.
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
