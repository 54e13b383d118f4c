"""``maildiag from-table``: which From address customers see on replies, per IMAP and SMTP pairing.

Without ``--verify`` the command only reads the tenant file and applies the
rules of ``data/from_rules.toml``, and it connects nowhere. With ``--verify`` it
sends one test message per pairing through the SMTP entries to the tenant's
observer mailbox, reads them back, and deletes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence

from toolkit.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, report_unusable
from toolkit.cli_types import seconds, wait_seconds
from toolkit.findings import Finding, has_errors
from toolkit.fromaddr import FromReport, VerifyError, VerifyOptions, build_report
from toolkit.fromaddr.observed import VerifyReport
from toolkit.fromaddr.predict import FromTable, Prediction
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.tenant import TenantSetup, load_tenant_setup, with_secrets
from toolkit.settings import SettingsError

_LABELS = {
    Outcome.FROM_A: "from A",
    Outcome.ON_BEHALF: "on behalf",
    Outcome.REWRITTEN: "rewritten to B",
    Outcome.REJECTED: "rejected",
    Outcome.UNKNOWN: "unknown",
}
_WIDTH = 100


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``from-table`` command."""
    parser = subparsers.add_parser(
        "from-table",
        help="predict which From address customers see on replies, for each IMAP and SMTP pair",
        description=(
            "Read a tenant file ([[server]], [[queue]], [permissions] and [tenant] tables) and "
            "predict, for every IMAP account and SMTP entry, the From and Sender that the "
            "recipient of a reply sees. Connects nowhere unless --verify is given."
        ),
    )
    parser.add_argument("file", metavar="TENANT_FILE", help="TOML tenant file")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="send one test message per pairing to the [tenant] observer mailbox, compare what "
        "arrives with the prediction, and delete the test messages (needs the password "
        "and token variables that the entries name)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        metavar="S",
        help="time limit in seconds for each connection step (default 10)",
    )
    parser.add_argument(
        "--wait",
        type=wait_seconds,
        default=30.0,
        metavar="S",
        help="seconds to wait for test messages to arrive (default 30)",
    )
    parser.set_defaults(run=run_from_table)


def run_from_table(args: argparse.Namespace) -> int:
    """Run ``maildiag from-table`` and return the exit code."""
    try:
        tenant = load_tenant_setup(args.file)
    except SettingsError as error:
        return report_unusable(error)
    if args.verify:
        # Secrets come from the variables that the entries name and are never printed.
        tenant = with_secrets(tenant)
        if tenant.observer is not None:
            print(
                f"maildiag from-table: sending test messages to the observer {tenant.observer}",
                file=sys.stderr,
            )
    options = VerifyOptions(timeout=args.timeout, delivery_wait=args.wait)
    try:
        report = build_report(tenant, verify=args.verify, options=options)
    except VerifyError as error:
        print(f"maildiag from-table: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report_dict(report), indent=2))
    else:
        print(format_report(report))
    return EXIT_FINDINGS if has_errors(report.findings) else EXIT_OK


def report_dict(report: FromReport) -> dict[str, object]:
    """Return the report as plain data for JSON, without any secret."""
    return {
        "source": report.tenant.source,
        "envelope_sender": report.table.envelope_sender.value,
        "table": [prediction.to_dict() for prediction in report.table.predictions],
        "queues": [
            {"queue": queue, **prediction.to_dict()}
            for queue, prediction in report.queue_predictions
        ],
        "findings": [finding.to_dict() for finding in report.findings],
        "verification": report.verification.to_dict() if report.verification else None,
    }


def format_report(report: FromReport) -> str:
    """Format the table, the findings and the check as plain text."""
    lines = [_title(report.tenant, report.table), ""]
    lines += format_table(report.table)
    lines.append("")
    if report.verification is not None:
        lines += format_verification(report.verification)
        lines.append("")
    lines += format_findings_block(report.findings)
    return "\n".join(lines).rstrip()


def format_table(table: FromTable) -> list[str]:
    """Return one block per IMAP account A with one line per SMTP entry B, then the rules used."""
    lines: list[str] = [
        "Each block is an IMAP account A (the address the customer wrote to); each line is an",
        "SMTP entry B that could send the reply, with what the customer then sees in From.",
        "",
    ]
    width = max(len(smtp) for smtp in table.smtp)
    used: dict[str, str] = {}
    for imap in table.imap:
        first = table.cell(imap, table.smtp[0])
        lines.append(f"{first.address} (IMAP entry {imap})")
        for smtp in table.smtp:
            prediction = table.cell(imap, smtp)
            star = " *" if prediction.needs_configuration else ""
            lines.append(
                f"  via {smtp:<{width}}  {_LABELS[prediction.outcome]:<15} "
                f"{_customers_see(prediction)}{star}  [{prediction.rule}]"
            )
            used.setdefault(prediction.rule, prediction.source)
    lines += [
        "",
        "from A: the customer sees A; on behalf: 'B on behalf of A' (Sender B, From A);",
        "rewritten to B: the provider replaces From with B; rejected: the send fails.",
        "* relies on provider configuration (a permission or an alias)",
        "",
        "Rules used, with their sources (data/from_rules.toml):",
    ]
    for rule, source in used.items():
        wrapped = textwrap.wrap(f"{rule}: {source}", width=_WIDTH - 4) or [""]
        lines.append(f"  {wrapped[0]}")
        lines.extend(f"    {line}" for line in wrapped[1:])
    return lines


def format_verification(report: VerifyReport) -> list[str]:
    """Return one line per test message and a line on the cleanup."""
    lines = [f"Check with test messages to {report.observer_address} ({report.observer}):"]
    for observation in report.observations:
        mark = {True: "ok  ", False: "DIFF", None: "seen"}[observation.matches]
        prediction = observation.prediction
        lines.append(
            f"  {mark} {prediction.address} via {prediction.smtp} "
            f"(envelope {prediction.envelope_sender.value}): {observation.headline}"
        )
    cleanup = report.cleanup
    lines.append(
        f"  deleted {cleanup.deleted} test messages and {cleanup.sent_copies_deleted} "
        f"sent copies. Observer inbox {cleanup.inbox_before} messages before, "
        f"{cleanup.inbox_after} after"
    )
    for problem in cleanup.problems:
        lines.append(f"  problem: {problem}")
    return lines


def format_findings_block(findings: Sequence[Finding]) -> list[str]:
    """Return the findings, errors first, each with why and fix wrapped to the line width."""
    if not findings:
        return ["No findings: every queue replies from the address it fetched from."]
    lines = [f"{len(findings)} findings:"]
    for finding in findings:
        lines.append(f"[{finding.severity.value}] {finding.id} ({finding.server})")
        for label, text in (("why", finding.message), ("fix", finding.fix)):
            wrapped = textwrap.wrap(text, width=_WIDTH - 9) or [""]
            lines.append(f"    {label}: {wrapped[0]}")
            lines.extend(f"         {line}" for line in wrapped[1:])
    return lines


def _customers_see(prediction: Prediction) -> str:
    if prediction.outcome is Outcome.REJECTED:
        stage = f" at {prediction.stage}" if prediction.stage else ""
        return f"{prediction.reply or 'reply code not predicted'}{stage}"
    if prediction.outcome is Outcome.UNKNOWN:
        return "declare the relay rule or run --verify"
    return prediction.headline


def _title(tenant: TenantSetup, table: FromTable) -> str:
    name = f" ({tenant.name})" if tenant.name else ""
    return (
        f"From-address table for {tenant.source or 'the tenant'}{name}: "
        f"{len(table.imap)} IMAP accounts x {len(table.smtp)} SMTP entries, envelope sender "
        f"{table.envelope_sender.value!r}."
    )
