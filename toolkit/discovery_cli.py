"""``maildiag discover``: propose IMAP and SMTP settings for an email address."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import textwrap

from toolkit.discovery import DEFAULT_DNS_TIMEOUT, Discovery, discover, make_resolver
from toolkit.discovery.dnsquery import DNS_PORT
from toolkit.discovery.proposals import Proposal
from toolkit.findings import Finding, ranked
from toolkit.settings import Protocol, SettingsError
from toolkit.settings_file import dump_settings

_WIDTH = 96


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``discover`` command."""
    parser = subparsers.add_parser(
        "discover",
        help="propose IMAP and SMTP settings for an email address",
        description=(
            "Propose IMAP and SMTP entries for an address from the shipped provider files "
            "(Thunderbird ISPDB format), else from DNS: SRV records (RFC 6186) and the MX "
            "record. Each proposal names its source and is checked like 'maildiag check'. "
            "Connects to no mail server."
        ),
    )
    parser.add_argument("address", metavar="ADDRESS", help="the email address, such as a@b.com")
    parser.add_argument(
        "--dns-server",
        metavar="IP:PORT",
        help="ask only this DNS server, such as 127.0.0.1:5353 (default: the system resolver; "
        "port 53 when left out)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_DNS_TIMEOUT,
        metavar="S",
        help=f"seconds each DNS lookup may take; they run in parallel (default "
        f"{DEFAULT_DNS_TIMEOUT:g})",
    )
    parser.add_argument(
        "--storage-folder",
        metavar="NAME",
        help="the storage folder for the IMAP proposals, which no source can tell",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run_discover)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give seconds as a number, such as 3"
        ) from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(
            f"invalid value {text!r}: give seconds from 0.1 to 60, such as 3"
        )
    return value


def parse_dns_server(text: str) -> tuple[str, int]:
    """Parse ``IP``, ``IP:PORT`` or ``[IPv6]:PORT``; raise ValueError with the fix."""
    fix = "give an IP address and port, such as 127.0.0.1:5353 or [::1]:5353"
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"--dns-server {text!r} is not an IP address: {fix}") from None
    if not port_text:
        return str(address), DNS_PORT
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"--dns-server {text!r} has no port from 1 to 65535: {fix}")
    return str(address), int(port_text)


def run_discover(args: argparse.Namespace) -> int:
    """Run ``maildiag discover`` and return the exit code."""
    resolver = None
    if args.dns_server is not None:
        try:
            host, port = parse_dns_server(args.dns_server)
        except ValueError as error:
            print(f"maildiag discover: {error}", file=sys.stderr)
            return 2
        resolver = make_resolver(host, port, timeout=args.timeout)
    try:
        result = discover(
            args.address,
            resolver=resolver,
            timeout=args.timeout,
            storage_folder=args.storage_folder,
        )
    except SettingsError as error:
        for problem in error.errors:
            print(f"maildiag discover: {problem}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_discovery(result))
    return 1 if result.has_errors() else 0


def format_discovery(result: Discovery) -> str:
    """Format a discovery as text: the sources asked, the proposals, findings, settings to paste."""
    lines = [f"Proposed settings for {result.address}"]
    if result.lookups:
        asked = ", ".join(
            f"{item.name} {item.rdtype} {item.outcome.value}" for item in result.lookups
        )
        lines += _wrapped(f"DNS server {result.dns_server}: {asked}.", "")
    else:
        lines.append("A provider file lists the domain, so no DNS query was made.")
    for protocol in Protocol:
        proposals = [p for p in result.proposals if p.protocol is protocol]
        count = _count(len(proposals), "proposal") + ", best first" if proposals else "no proposal"
        lines += ["", f"{protocol.value.upper()}: {count}"]
        for number, proposal in enumerate(proposals, start=1):
            lines += _proposal_lines(number, proposal)
    if result.findings:
        lines += ["", "About the discovery:"]
        for finding in ranked(result.findings):
            lines += _finding_lines(finding)
    best = result.best_settings()
    if best:
        lines += [
            "",
            "A settings file with the best proposals (passwords go in the variables that "
            "password_env names):",
            "",
            dump_settings(best).rstrip(),
        ]
    return "\n".join(lines)


def _proposal_lines(number: int, proposal: Proposal) -> list[str]:
    settings = proposal.settings
    tick = "TLS ticked" if settings.tls else "TLS unticked"
    lines = [
        f"  {number}. {settings.endpoint}, {tick}, {settings.auth.value}, user {settings.user} "
        f"(confidence {proposal.confidence.value})"
    ]
    lines += _wrapped(f"from: {proposal.source}", "     ")
    for note in proposal.notes:
        lines += _wrapped(f"note: {note}", "     ")
    for finding in ranked(proposal.findings):
        lines += _finding_lines(finding, "     ")
    return lines


def _finding_lines(finding: Finding, indent: str = "  ") -> list[str]:
    lines = _wrapped(f"[{finding.severity.value}] {finding.id}: {finding.message}", indent)
    lines += _wrapped(f"fix: {finding.fix}", indent + "    ")
    return lines


def _wrapped(text: str, indent: str) -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent=indent, subsequent_indent=indent + "  "
    ) or [indent]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun if number == 1 else noun + 's'}"
