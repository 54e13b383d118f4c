"""``maildiag login`` and ``maildiag token``: test an entry's login, and read an access token.

``maildiag login FILE --server NAME`` logs in to one entry of a settings file the
way the product does, after TLS, and prints the outcome, the redacted transcript
and the findings. The password comes from the variable that ``password_env``
names, or from a prompt when the command runs in a terminal. The token comes
from ``token_env``, or from msal with ``--device-code`` or ``--client-credentials``.

``maildiag token --decode`` reads an access token from standard input (a prompt
without echo in a terminal) and prints its claims and the findings about them.
It never prints the token or its signature, and needs no network.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from toolkit.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, format_findings, report_unusable
from toolkit.cli_types import seconds
from toolkit.explain import explain_findings
from toolkit.findings import Finding, Severity, has_errors, ranked
from toolkit.login.check import LoginCheck, check_login
from toolkit.login.sasl import Mechanism, parse_mechanism
from toolkit.oauth.cache import TokenCache
from toolkit.oauth.claims import TokenDecodeError, diagnose_token, extract_token
from toolkit.oauth.msal_client import (
    AccessToken,
    DeviceCodePrompt,
    TokenError,
    acquire_token_client_credentials,
    acquire_token_device_code,
)
from toolkit.probe.results import Timeouts
from toolkit.secret import Secret
from toolkit.settings import AuthType, ServerSettings, SettingsError, parse_protocol
from toolkit.settings_file import load_settings, resolve_secrets


class _Unusable(Exception):
    """Input the command cannot use; the message goes to stderr and the exit code is 2."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``login`` and ``token`` commands."""
    login = subparsers.add_parser(
        "login",
        help="log in to one entry of a settings file and explain the outcome",
        description=(
            "Log in to one IMAP or SMTP entry with its password or OAuth2 token, after TLS "
            "(implicit or STARTTLS, per the entry's TLS tick), and explain the outcome. "
            "Credentials never appear in the output."
        ),
    )
    login.add_argument("file", metavar="FILE", help="TOML settings file with [[server]] entries")
    login.add_argument("--server", required=True, metavar="NAME", help="the entry's short name")
    login.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="send the credentials even when the server offers no STARTTLS (unencrypted)",
    )
    login.add_argument(
        "--mechanism",
        metavar="M",
        help="login, plain, xoauth2 or oauthbearer (default: IMAP LOGIN or SMTP AUTH PLAIN "
        "for basic entries, XOAUTH2 for oauth2 entries)",
    )
    token_source = login.add_mutually_exclusive_group()
    token_source.add_argument(
        "--device-code",
        action="store_true",
        help="get the token by signing in with a device code (needs [server.oauth])",
    )
    token_source.add_argument(
        "--client-credentials",
        action="store_true",
        help="get an app-only token with the secret in the variable client_secret_env names",
    )
    login.add_argument(
        "--token-cache",
        metavar="PATH",
        help="msal token cache file (default: maildiag's folder in the user's cache folder)",
    )
    login.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        metavar="S",
        help="time limit in seconds for each stage (connect, greeting, handshake, read); "
        "default 5, and 15 for reading replies",
    )
    login.add_argument(
        "--no-mailbox-check",
        action="store_true",
        help="do not open INBOX read-only after an IMAP login",
    )
    login.add_argument("--json", action="store_true", help="print JSON instead of text")
    login.set_defaults(run=run_login)

    token = subparsers.add_parser(
        "token",
        help="decode an OAuth2 access token from standard input and check its claims",
        description=(
            "Read an access token (bare, 'Bearer ...', an XOAUTH2 string or a token response "
            "as JSON) from standard input, print its claims and check them for IMAP or SMTP. "
            "Needs no network; never prints the token."
        ),
    )
    token.add_argument(
        "--decode", action="store_true", required=True, help="decode the token (required)"
    )
    token.add_argument("--protocol", help="imap or smtp: the protocol the token is for")
    token.add_argument("--user", metavar="U", help="the login user the token must belong to")
    token.add_argument("--tenant", metavar="T", help="the tenant id the token must come from")
    token.add_argument("--client-id", metavar="ID", help="the app's client id, to spot ID tokens")
    token.add_argument("--json", action="store_true", help="print JSON instead of text")
    token.set_defaults(run=run_token)


def run_login(args: argparse.Namespace) -> int:
    """Run ``maildiag login`` and return the exit code."""
    try:
        servers = load_settings(args.file)
    except SettingsError as error:
        return report_unusable(error)
    acquired: AccessToken | None = None
    try:
        server = _entry(servers, args.server)
        mechanism = _mechanism(args.mechanism, server)
        timeouts = _timeouts(args.timeout)
        server = resolve_secrets(server)
        if server.auth is AuthType.BASIC:
            server = _with_password(server)
        else:
            server, acquired = _with_token(server, args)
    except _Unusable as error:
        print(f"maildiag login: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TokenError as error:
        return _report_token_error(error, args.server, args.json)

    check = check_login(
        server,
        allow_plaintext=args.allow_plaintext,
        mechanism=mechanism,
        timeouts=timeouts,
        check_mailbox=not args.no_mailbox_check,
    )
    if args.json:
        data = check.to_dict()
        if acquired is not None:
            data["token"] = _token_facts(acquired)
        print(json.dumps(data, indent=2))
    else:
        print(format_login(check, acquired))
    return EXIT_FINDINGS if has_errors(check.findings) else EXIT_OK


def _entry(servers: Sequence[ServerSettings], name: str) -> ServerSettings:
    for server in servers:
        if server.name == name:
            return server
    known = ", ".join(server.name for server in servers)
    raise _Unusable(f"--server {name!r} is not in the file. Fix: use one of {known}")


def _mechanism(text: str | None, server: ServerSettings) -> Mechanism | None:
    if text is None:
        return None
    try:
        mechanism = parse_mechanism(text, server.protocol)
    except ValueError as error:
        raise _Unusable(f"--mechanism {text!r} is invalid: {error}") from None
    if mechanism.uses_token != (server.auth is AuthType.OAUTH2):
        raise _Unusable(
            f"--mechanism {text!r} does not fit the entry's auth = {server.auth.value}. Fix: use "
            + ("xoauth2 or oauthbearer" if server.auth is AuthType.OAUTH2 else "login or plain")
        )
    return mechanism


def _timeouts(limit: float | None) -> Timeouts | None:
    # argparse has checked the range (toolkit.cli_types.seconds).
    if limit is None:
        return None
    return Timeouts(limit, limit, limit, limit)


def _with_password(server: ServerSettings) -> ServerSettings:
    if server.password:
        return server
    if not sys.stdin.isatty():
        variable = server.password_env or "the variable named by password_env"
        raise _Unusable(
            f"no password for {server.name}: {variable} is not set and standard input is not a "
            f"terminal. Fix: set {variable}, or run the command in a terminal to be asked"
        )
    password = getpass.getpass(f"Password for {server.user} at {server.endpoint}: ")
    return server.with_secrets(password=Secret(password))


def _with_token(
    server: ServerSettings, args: argparse.Namespace
) -> tuple[ServerSettings, AccessToken | None]:
    if not (args.device_code or args.client_credentials):
        if server.token:
            return server, None
        variable = server.token_env or "the variable named by token_env"
        raise _Unusable(
            f"no access token for {server.name}: {variable} is not set. Fix: set it, or get a "
            "token with --device-code or --client-credentials"
        )
    if server.oauth is None:
        raise _Unusable(
            f"{server.name} has no [server.oauth] table. Fix: add authority and client_id to it"
        )
    ca_file = server.ca_file
    try:
        cache = TokenCache(args.token_cache)
    except ValueError as error:
        raise _Unusable(f"--token-cache: {error}") from None
    if args.device_code:
        acquired = acquire_token_device_code(
            server.oauth, show=_show_prompt, ca_file=ca_file, cache=cache, login_hint=server.user
        )
    else:
        acquired = acquire_token_client_credentials(
            server.oauth, client_secret=_client_secret(server), ca_file=ca_file, cache=cache
        )
    return server.with_secrets(token=acquired.token), acquired


def _client_secret(server: ServerSettings) -> Secret:
    variable = server.oauth.client_secret_env if server.oauth else None
    if not variable or not os.environ.get(variable):
        raise _Unusable(
            f"no client secret for {server.name}. Fix: name a variable in client_secret_env of "
            "[server.oauth] and set it to the secret's value"
        )
    return Secret(os.environ[variable])


def _show_prompt(prompt: DeviceCodePrompt) -> None:
    text = prompt.message or (
        f"Open {prompt.verification_uri} and enter the code {prompt.user_code}."
    )
    print(text, file=sys.stderr, flush=True)


def _report_token_error(error: TokenError, server: str, as_json: bool) -> int:
    findings = [
        Finding(
            "token-request-failed",
            Severity.ERROR,
            "oauth",
            f"msal could not get a token: {error}.",
            "See the explanation of the error below, where it is known.",
            server,
        ),
        *explain_findings([str(error)], protocol="oauth", server=server),
    ]
    if as_json:
        print(json.dumps({"findings": [finding.to_dict() for finding in findings]}, indent=2))
    else:
        print(format_findings(findings, checked=1))
    return EXIT_FINDINGS


def _token_facts(token: AccessToken) -> dict[str, Any]:
    return {
        "source": token.source,
        "account": token.account,
        "scopes": list(token.scopes),
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


def format_login(check: LoginCheck, token: AccessToken | None = None) -> str:
    """Format a login check as text: the outcome, the redacted transcript, the findings."""
    result = check.result
    lines = [f"== {result.summary()}"]
    if token is not None:
        lines.append(f"Token from {token.source} for {token.account or 'the app'}.")
    if result.server_text and not result.success:
        lines += textwrap.wrap(f"Server said: {result.server_text}", 100)
    if result.transcript:
        lines.append("Transcript (passwords and tokens redacted):")
        lines += [f"  {line.direction}: {line.text}" for line in result.transcript]
    lines.append("")
    lines.append(format_findings(check.findings, checked=1))
    return "\n".join(lines)


def run_token(args: argparse.Namespace) -> int:
    """Run ``maildiag token --decode`` and return the exit code."""
    try:
        protocol = parse_protocol(args.protocol) if args.protocol else None
    except SettingsError as error:
        for problem in error.errors:
            print(f"maildiag token: {problem}", file=sys.stderr)
        return EXIT_USAGE
    text = getpass.getpass("Access token: ") if sys.stdin.isatty() else sys.stdin.read()
    try:
        pasted = extract_token(text)
    except TokenDecodeError as error:
        print(f"maildiag token: {error}", file=sys.stderr)
        return EXIT_USAGE
    diagnosis = diagnose_token(
        pasted.token,
        protocol=protocol,
        user=args.user or pasted.user,
        tenant=args.tenant,
        client_id=args.client_id,
    )
    findings = ranked(diagnosis.findings)
    claims = diagnosis.claims
    if args.json:
        data = {
            "header": claims.header if claims else None,
            "claims": claims.claims if claims else None,
            "findings": [finding.to_dict() for finding in findings],
        }
        print(json.dumps(data, indent=2, default=str))
    else:
        lines: list[str] = []
        if claims is not None:
            header = ", ".join(f"{key} {value}" for key, value in sorted(claims.header.items()))
            lines.append(f"Header: {header}")
            lines.append(f"{'CLAIM':<20}  {'VALUE':<48}  MEANING")
            for row in claims.rows():
                lines.append(f"{row['claim']:<20}  {row['value']:<48}  {row['meaning']}")
            lines.append("")
        lines.append(format_findings(findings, checked=1, subject=("token", "tokens")))
        print("\n".join(lines))
    return EXIT_FINDINGS if has_errors(findings) else EXIT_OK
