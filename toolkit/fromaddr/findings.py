"""Findings from the From-address predictions per queue, and from the empirical check.

Stable ids, for the CLI, the notebooks and a later triage step:

- ``reply-from-other-account``: customers see the SMTP login B instead of A;
- ``reply-on-behalf``: customers see "B on behalf of A" (From A, Sender B);
- ``reply-rejected``: the SMTP server rejects the replies;
- ``reply-from-unknown``: the SMTP server's sender rule is not known;
- ``reply-relies-on-permission``: replies come from A thanks to a permission or alias;
- ``from-observed-differs``: the check saw another result than predicted;
- ``verification-not-sent``: a test message could not be sent (login, connection);
- ``test-message-left-behind``: the check could not delete a test message.
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.findings import Finding, Severity
from toolkit.fromaddr.observed import Delivery, VerifyReport
from toolkit.fromaddr.predict import Prediction
from toolkit.fromaddr.rules import Outcome


def queue_findings(queue_predictions: Iterable[tuple[str, Prediction]]) -> list[Finding]:
    """Return one finding per queue pairing whose replies do not plainly come from A."""
    findings: list[Finding] = []
    for queue, prediction in queue_predictions:
        finding = _queue_finding(queue, prediction)
        if finding is not None:
            findings.append(finding)
    return findings


def verification_findings(report: VerifyReport) -> list[Finding]:
    """Return findings for observations that differ from the prediction and for leftovers."""
    findings: list[Finding] = []
    for observation in report.observations:
        predicted = observation.prediction
        pairing = f"{predicted.address} through {predicted.smtp}"
        if observation.delivery is Delivery.NOT_SENT:
            findings.append(
                Finding(
                    "verification-not-sent",
                    Severity.WARNING,
                    observation.stage.lower() or "smtp",
                    f"The test message for {pairing} was not sent: {observation.reply}.",
                    "Check the login of the SMTP entry (password or token variable), then run the "
                    "check again.",
                    predicted.smtp,
                )
            )
        elif observation.matches is False:
            expected = predicted.headline
            findings.append(
                Finding(
                    "from-observed-differs",
                    Severity.WARNING,
                    "permissions",
                    f"The test message for {pairing} arrived as {observation.headline!r}, but the "
                    f"rules predict {expected!r} (rule {predicted.rule}).",
                    "Check the permissions in the tenant file against the provider's settings. A "
                    "permission change can take up to an hour to reach Exchange Online.",
                    predicted.smtp,
                )
            )
    cleanup = report.cleanup
    for message_id in (*cleanup.left_behind, *cleanup.may_arrive_later):
        findings.append(
            Finding(
                "test-message-left-behind",
                Severity.ERROR,
                "observer",
                f"The test message {message_id} may still be in the inbox of "
                f"{report.observer_address}.",
                f"Search the inbox of {report.observer_address} for that Message-ID, or for "
                "subjects starting with '[maildiag diagnostics test]', and delete the message.",
                report.observer,
            )
        )
    return findings


def _queue_finding(queue: str, prediction: Prediction) -> Finding | None:
    a, b = prediction.address, prediction.login
    start = (
        f"Replies to mail fetched by {prediction.imap} ({a}) in queue {queue!r} go out "
        f"through {prediction.smtp}, which logs in as {b}."
    )
    field = "queue.smtp"
    if prediction.outcome is Outcome.REWRITTEN:
        return Finding(
            "reply-from-other-account",
            Severity.WARNING,
            field,
            f"{start} Customers see {b} in From, not {a}. {prediction.explanation}",
            prediction.fix,
            prediction.imap,
        )
    if prediction.outcome is Outcome.ON_BEHALF:
        return Finding(
            "reply-on-behalf",
            Severity.WARNING,
            field,
            f"{start} Customers see '{b} on behalf of {a}'. {prediction.explanation}",
            prediction.fix,
            prediction.imap,
        )
    if prediction.outcome is Outcome.REJECTED:
        reply = f" with {prediction.reply}" if prediction.reply else ""
        stage = f" at {prediction.stage}" if prediction.stage else ""
        return Finding(
            "reply-rejected",
            Severity.ERROR,
            field,
            f"{start} The server rejects the replies{reply}{stage}. {prediction.explanation}",
            prediction.fix,
            prediction.imap,
        )
    if prediction.outcome is Outcome.UNKNOWN:
        return Finding(
            "reply-from-unknown",
            Severity.INFO,
            field,
            f"{start} {prediction.explanation}",
            prediction.fix,
            prediction.imap,
        )
    if prediction.needs_configuration:
        return Finding(
            "reply-relies-on-permission",
            Severity.INFO,
            field,
            f"{start} Replies come from {a} because {prediction.configuration}.",
            "Keep that configuration at the provider, because without it customers see "
            "another From address or replies fail.",
            prediction.imap,
        )
    return None
