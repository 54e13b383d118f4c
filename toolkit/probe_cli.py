"""``maildiag probe``: probe the ports of a host in both TLS modes and give a verdict per port."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
from collections.abc import Sequence

from toolkit.cli_types import seconds
from toolkit.findings import has_errors
from toolkit.probe.matrix import probe_many
from toolkit.probe.results import CertificateFacts, Endpoint, ProbeResult, Reason, Timeouts
from toolkit.probe.versions import VersionSupport, tls_versions
from toolkit.settings import (
    IMPLICIT_TLS_PORTS,
    STARTTLS_PORTS,
    FieldError,
    Protocol,
    Security,
    SettingsError,
    parse_host,
    parse_port,
    parse_protocol,
)
from toolkit.verdicts import PortVerdict, mode_works, port_verdict, version_findings

_MODES = {
    "tls": (Security.IMPLICIT_TLS,),
    "starttls": (Security.STARTTLS,),
    "both": (Security.IMPLICIT_TLS, Security.STARTTLS),
}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``probe`` command."""
    parser = subparsers.add_parser(
        "probe",
        help="probe ports in implicit TLS and STARTTLS and say which TLS tick works",
        description=(
            "Connect to each port in each mode, read the greeting and capabilities, upgrade, "
            "and describe the certificate. Sends no credentials and changes nothing. "
            "One connection per port and mode."
        ),
    )
    parser.add_argument("host", metavar="HOST", help="server name or address; host:port works")
    parser.add_argument("--protocol", required=True, help="imap or smtp")
    parser.add_argument(
        "--port",
        action="append",
        metavar="N",
        help="port to probe, repeatable (default: 993 and 143 for IMAP, 465 and 587 for SMTP)",
    )
    parser.add_argument(
        "--mode",
        choices=sorted(_MODES),
        default="both",
        help="tls (implicit TLS), starttls, or both (default)",
    )
    parser.add_argument(
        "--tick",
        choices=("on", "off"),
        help="the entry's current TLS tick, so the verdict can say what to change",
    )
    parser.add_argument(
        "--ca-file", metavar="PEM", help="CA certificate file for servers with a private CA"
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=None,
        metavar="S",
        help="time limit in seconds for each stage (connect, greeting, handshake, read); default 5",
    )
    parser.add_argument(
        "--tls-versions",
        action="store_true",
        help="also probe TLS 1.0, 1.1, 1.2 and 1.3 one by one on each "
        "implicit-TLS or STARTTLS port (one more connection per version)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run_probe)


def run_probe(args: argparse.Namespace) -> int:
    """Run ``maildiag probe`` and return the exit code."""
    try:
        protocol, host, ports = _parse_target(args)
    except SettingsError as error:
        for problem in error.errors:
            print(f"maildiag probe: {problem}", file=sys.stderr)
        return 2
    if args.ca_file is not None:
        try:
            with open(args.ca_file, "rb"):
                pass
        except OSError as error:
            print(
                f"maildiag probe: --ca-file {args.ca_file!r} cannot be read ({error.strerror}). "
                "Fix: give the path of a PEM file",
                file=sys.stderr,
            )
            return 2
    timeout = args.timeout or 5.0
    timeouts = Timeouts(timeout, timeout, timeout, timeout)
    endpoints = [
        Endpoint(host, port, protocol, security, args.ca_file)
        for port in ports
        for security in _MODES[args.mode]
    ]
    results = probe_many(endpoints, timeouts)
    current_tick = None if args.tick is None else args.tick == "on"
    verdicts = [_verdict_for(port, results, current_tick) for port in ports]
    versions: dict[int, list[VersionSupport]] = {}
    if args.tls_versions:
        verdicts = [_with_versions(verdict, results, timeouts, versions) for verdict in verdicts]

    if args.json:
        print(
            json.dumps(
                {
                    "probes": [result.to_dict() for result in results],
                    "verdicts": [verdict.to_dict() for verdict in verdicts],
                    "tls_versions": {
                        str(port): [
                            {
                                "version": item.version,
                                "accepted": item.accepted,
                                "reason": item.reason.value,
                            }
                            for item in support
                        ]
                        for port, support in versions.items()
                    },
                },
                indent=2,
            )
        )
    else:
        print(format_report(results, verdicts, versions))
    findings = [finding for verdict in verdicts for finding in verdict.findings]
    return 1 if has_errors(findings) else 0


def _parse_target(args: argparse.Namespace) -> tuple[Protocol, str, list[int]]:
    errors: list[FieldError] = []
    protocol: Protocol | None = None
    try:
        protocol = parse_protocol(args.protocol)
    except SettingsError as error:
        errors += [FieldError("--protocol", e.value, e.problem, e.fix) for e in error.errors]
    try:
        parsed = parse_host(args.host, protocol)
    except SettingsError as error:
        errors += [FieldError("HOST", e.value, e.problem, e.fix) for e in error.errors]
        parsed = None
    ports: list[int] = []
    for value in args.port or []:
        try:
            ports.append(parse_port(value, "--port"))
        except SettingsError as error:
            errors += error.errors
    if errors:
        raise SettingsError(errors)
    assert parsed is not None
    protocol = protocol or parsed.protocol
    assert protocol is not None
    if not ports:
        ports = (
            [parsed.port]
            if parsed.port
            else [IMPLICIT_TLS_PORTS[protocol], STARTTLS_PORTS[protocol]]
        )
    return protocol, parsed.host, list(dict.fromkeys(ports))


def _with_versions(
    verdict: PortVerdict,
    results: Sequence[ProbeResult],
    timeouts: Timeouts,
    versions: dict[int, list[VersionSupport]],
) -> PortVerdict:
    """Probe each TLS version in the mode that works on the port and add the findings."""
    working = [
        result for result in results if result.endpoint.port == verdict.port and mode_works(result)
    ]
    if not working:
        return verdict
    support = tls_versions(working[0].endpoint, timeouts)
    versions[verdict.port] = support
    extra = version_findings(support, f"{verdict.host}:{verdict.port}")
    return dataclasses.replace(verdict, findings=(*verdict.findings, *extra))


def _verdict_for(port: int, results: Sequence[ProbeResult], tick: bool | None) -> PortVerdict:
    on_port = [result for result in results if result.endpoint.port == port]
    implicit = next((r for r in on_port if r.endpoint.security is Security.IMPLICIT_TLS), None)
    starttls = next((r for r in on_port if r.endpoint.security is Security.STARTTLS), None)
    return port_verdict(implicit, starttls, current_tick=tick)


def format_report(
    results: Sequence[ProbeResult],
    verdicts: Sequence[PortVerdict],
    versions: dict[int, list[VersionSupport]] | None = None,
) -> str:
    """Format probes and verdicts as text: the verdict first, then each probe's details."""
    lines: list[str] = []
    for verdict in verdicts:
        lines.append(f"== {verdict.host} port {verdict.port} ({verdict.protocol.value.upper()})")
        lines += textwrap.wrap(verdict.sentence, 96)
        if verdict.change:
            label = "Change" if verdict.current_tick is not None else "Setting"
            lines.append(f"{label}: {verdict.change}")
        for result in results:
            if result.endpoint.port == verdict.port:
                lines += _probe_lines(result)
        support = (versions or {}).get(verdict.port)
        if support:
            accepted = ", ".join(
                f"{item.version} {'yes' if item.accepted else 'no'}" for item in support
            )
            lines.append(f"  - TLS versions accepted: {accepted}")
        for finding in verdict.findings:
            lines.append(f"  [{finding.severity.value}] {finding.id}: {finding.message}")
            lines.append(f"      fix: {finding.fix}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _validity_words(certificate: CertificateFacts) -> str:
    if certificate.days_left < 0:
        return f"expired on {certificate.not_after:%Y-%m-%d}, {-certificate.days_left} days ago"
    return f"valid until {certificate.not_after:%Y-%m-%d} ({certificate.days_left} days left)"


def _probe_lines(result: ProbeResult) -> list[str]:
    mode = "implicit TLS" if result.endpoint.security is Security.IMPLICIT_TLS else "STARTTLS"
    timings = ", ".join(
        f"{stage} {seconds * 1000:.0f} ms" for stage, seconds in result.timings.items()
    )
    lines = [f"  - {mode}: {result.reason.value} (stage {result.stage}; {timings})"]
    if result.error and result.reason is not Reason.OK:
        lines.append(f"      error: {result.error}")
    if result.server_text:
        lines.append(f"      server said: {result.server_text[:200]}")
    if result.greeting:
        lines.append(f"      greeting: {result.greeting[:200]}")
    if result.capabilities_before:
        lines.append(f"      capabilities before TLS: {' '.join(result.capabilities_before)}")
    if result.capabilities_after and result.endpoint.security is Security.STARTTLS:
        lines.append(f"      capabilities after TLS:  {' '.join(result.capabilities_after)}")
    if result.tls_version:
        lines.append(f"      TLS: {result.tls_version}, {result.cipher}")
    certificate = result.certificate
    if certificate is not None:
        trust = "verified" if certificate.chain_verified else "NOT verified"
        lines.append(
            f"      certificate: {certificate.subject}; names "
            f"{', '.join(certificate.san_dns + certificate.san_ip) or 'none'}; "
            f"issuer {certificate.issuer}; {_validity_words(certificate)}; chain {trust} "
            f"against {certificate.verified_against}"
        )
    return lines
