"""The From-address table: which address customers see on replies, predicted and verified.

Replies come from the IMAP account A that fetched the customer's mail only when
the SMTP server that sends them (logged in as account B) keeps A in From. The
modules, from input to output:

- `model` and `tenant`: the tenant with servers, queues and permissions, and its file;
- `rules` and ``data/from_rules.toml``: the provider rules, each with its source;
- `predict`: the table of predictions (pure, no I/O);
- `findings`: findings per queue and from the check;
- `clients`, `verify` and `observed`: the empirical check with test messages;
- `sandbox_scenarios`: the seed scenarios on the sandbox, for tests and the notebook.

`build_report` ties them together. It sends mail only with ``verify=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.findings import Finding, ranked
from toolkit.fromaddr.findings import queue_findings, verification_findings
from toolkit.fromaddr.observed import VerifyReport
from toolkit.fromaddr.predict import FromTable, Prediction, predict_queues, predict_table
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.tenant import TenantSetup, load_tenant_setup
from toolkit.fromaddr.verify import (
    Progress,
    VerifyError,
    VerifyOptions,
    verification_targets,
    verify_predictions,
)

__all__ = [
    "FromReport",
    "FromTable",
    "Outcome",
    "Prediction",
    "TenantSetup",
    "VerifyError",
    "VerifyOptions",
    "VerifyReport",
    "build_report",
    "load_tenant_setup",
]


@dataclass(frozen=True)
class FromReport:
    """The table, the queue predictions, their findings and, after a check, what arrived."""

    tenant: TenantSetup
    table: FromTable
    queue_predictions: tuple[tuple[str, Prediction], ...]
    findings: tuple[Finding, ...]
    verification: VerifyReport | None = None


def build_report(
    tenant: TenantSetup,
    *,
    verify: bool = False,
    options: VerifyOptions | None = None,
    progress: Progress | None = None,
) -> FromReport:
    """Predict the table and the queues, and with ``verify=True`` check them with test messages.

    Verification needs the entries' secrets resolved and the tenant's observer
    set, and raises VerifyError when the observer's inbox cannot be opened.
    """
    table = predict_table(tenant)
    queues = tuple(predict_queues(tenant))
    findings = queue_findings(queues)
    verification: VerifyReport | None = None
    if verify:
        verification = verify_predictions(
            tenant, verification_targets(tenant, table), options=options, progress=progress
        )
        findings += verification_findings(verification)
    return FromReport(tenant, table, queues, tuple(ranked(findings)), verification)
