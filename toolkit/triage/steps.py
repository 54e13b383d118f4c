"""The seven triage steps, each a call into the library's own check for that concern.

A step returns a `StepOutcome`: its status, a one-sentence summary, findings,
redacted transcripts and JSON-ready data. The runner numbers and times the
steps and redacts every text once more. A step that depends on an earlier one
returns a skip, naming the step that failed, instead of failing again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.checks import check_file
from toolkit.findings import Finding, Severity, has_errors
from toolkit.folders import FolderTree, check_entry_storage_folder, render_text
from toolkit.fromaddr.findings import queue_findings
from toolkit.fromaddr.predict import Prediction, predict_pairing
from toolkit.fromaddr.tenant import TenantSetup
from toolkit.login.check import check_login
from toolkit.login.results import LoginResult
from toolkit.oauth.claims import TokenDecodeError, decode_token
from toolkit.probe.results import ProbeResult, Timeouts, TranscriptLine
from toolkit.settings import AuthType, ServerSettings
from toolkit.tls_check import TlsCheck, check_entry_tls
from toolkit.triage.model import StepKey, StepResult, StepStatus, Transcript

# Lines of the folder tree kept in a report.
TREE_LINES = 200
# Token claims that the token checks read, kept so a replay can rebuild a token
# with the same claims. The signature, which makes a token a credential, is never kept.
TOKEN_CLAIMS = (
    "aud",
    "scp",
    "roles",
    "idtyp",
    "upn",
    "unique_name",
    "preferred_username",
    "tid",
    "appid",
    "azp",
    "exp",
    "nbf",
    "iat",
)
# The queue name given to a pairing that no queue of the file describes. The
# sentence "in queue '...'" is removed from the finding's message again.
_PAIRING_QUEUE = "(triage pairing)"


@dataclass(frozen=True)
class TriagePlan:
    """The entries a triage checks: one IMAP entry, its SMTP entries, and the file around them.

    `servers` are all entries of the file, because some settings checks compare
    entries with each other. `tenant` gives step 7 the file's queues and
    permissions. A plain settings file is a tenant without either.
    """

    imap: ServerSettings
    smtp: tuple[ServerSettings, ...]
    servers: tuple[ServerSettings, ...]
    tenant: TenantSetup
    probe_timeouts: Timeouts | None = None
    login_timeouts: Timeouts | None = None


@dataclass(frozen=True)
class StepOutcome:
    """The result of one step, before the runner numbers, times and redacts it."""

    status: StepStatus
    summary: str
    findings: tuple[Finding, ...] = ()
    transcripts: tuple[Transcript, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    skip_reason: str = ""


def skipped(reason: str) -> StepOutcome:
    """Return the outcome of a step that did not run, with the reason as its summary."""
    return StepOutcome(StepStatus.SKIPPED, reason, skip_reason=reason)


def _status(findings: Sequence[Finding], ok: bool = True) -> StepStatus:
    return StepStatus.PASSED if ok and not has_errors(findings) else StepStatus.FAILED


def _blocked(done: Mapping[StepKey, StepResult], key: StepKey, what: str) -> str | None:
    """Return why a step cannot run after step `key`, or None when it can."""
    earlier = done.get(key)
    if earlier is None or earlier.status is StepStatus.PASSED:
        return None
    if earlier.status is StepStatus.SKIPPED:
        # The root cause is the step that failed first, so its reason is passed on.
        return earlier.skip_reason
    return f"skipped: the {what} failed in step {earlier.number}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _severity_words(findings: Sequence[Finding]) -> str:
    errors = sum(finding.severity is Severity.ERROR for finding in findings)
    warnings = sum(finding.severity is Severity.WARNING for finding in findings)
    return f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"


# Step 1 ---------------------------------------------------------------------------------


def settings_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """Check the entries against port conventions and provider data, without connecting."""
    checked = {plan.imap.name, *(server.name for server in plan.smtp)}
    findings = tuple(finding for finding in check_file(plan.servers) if finding.server in checked)
    summary = (
        f"Checked {len(checked)} {'entry' if len(checked) == 1 else 'entries'} without "
        f"connecting: {_severity_words(findings)}."
    )
    return StepOutcome(
        _status(findings), summary, findings, data={"checked": sorted(checked)}
    )


# Steps 2 and 3 --------------------------------------------------------------------------


def imap_handshake_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """Probe the IMAP entry's port in both TLS modes and compare the verdict with its tick."""
    return _handshakes([plan.imap], plan.probe_timeouts)


def smtp_handshake_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """Probe each SMTP entry's port in both TLS modes and compare the verdicts with the ticks."""
    if not plan.smtp:
        return skipped("skipped: there is no SMTP entry to check")
    return _handshakes(list(plan.smtp), plan.probe_timeouts)


def _handshakes(servers: Sequence[ServerSettings], timeouts: Timeouts | None) -> StepOutcome:
    findings: list[Finding] = []
    transcripts: list[Transcript] = []
    entries: list[dict[str, Any]] = []
    sentences: list[str] = []
    for server in servers:
        check = check_entry_tls(server, timeouts)
        findings += check.verdict.findings
        transcripts.append(_probe_transcript(server, check.implicit))
        transcripts.append(_probe_transcript(server, check.starttls))
        entries.append(_handshake_data(server, check))
        sentence = check.verdict.sentence or next(
            (finding.message for finding in check.verdict.findings), ""
        )
        prefix = f"{server.name}: " if len(servers) > 1 else ""
        change = f" {check.verdict.change}" if check.verdict.change else ""
        sentences.append(f"{prefix}{sentence}{change}".strip())
    return StepOutcome(
        _status(findings),
        " ".join(sentences),
        tuple(findings),
        tuple(transcripts),
        {"entries": entries},
    )


def _handshake_data(server: ServerSettings, check: TlsCheck) -> dict[str, Any]:
    return {
        "server": server.name,
        "verdict": check.verdict.to_dict(),
        "implicit": check.implicit.to_dict(),
        "starttls": check.starttls.to_dict(),
    }


def _probe_transcript(server: ServerSettings, result: ProbeResult) -> Transcript:
    mode = "implicit TLS" if result.endpoint.security.value == "implicit-tls" else "STARTTLS"
    label = f"{server.name}: probe of {server.endpoint} with {mode} ({result.reason.value})"
    return Transcript(label, _lines(result.transcript))


def _lines(transcript: Sequence[TranscriptLine]) -> tuple[str, ...]:
    return tuple(f"{line.direction}: {line.text}" for line in transcript)


# Steps 4 and 5 --------------------------------------------------------------------------


def imap_login_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """Log in to the IMAP entry the way the product does, unless its handshake failed."""
    reason = _blocked(done, StepKey.IMAP_HANDSHAKE, "IMAP handshake")
    if reason is not None:
        return skipped(reason)
    return _logins([plan.imap], plan.login_timeouts, {})


def smtp_login_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """Log in to each SMTP entry whose handshake worked."""
    if not plan.smtp:
        return skipped("skipped: there is no SMTP entry to check")
    handshake = done.get(StepKey.SMTP_HANDSHAKE)
    blocked: dict[str, str] = {}
    if handshake is not None:
        for entry in handshake.data.get("entries", []):
            verdict_findings = entry["verdict"]["findings"]
            if any(finding["severity"] == Severity.ERROR.value for finding in verdict_findings):
                blocked[entry["server"]] = (
                    f"skipped: the SMTP handshake failed in step {handshake.number}"
                )
    if len(blocked) == len(plan.smtp):
        return skipped(next(iter(blocked.values())))
    return _logins(list(plan.smtp), plan.login_timeouts, blocked)


def _logins(
    servers: Sequence[ServerSettings], timeouts: Timeouts | None, blocked: Mapping[str, str]
) -> StepOutcome:
    findings: list[Finding] = []
    transcripts: list[Transcript] = []
    entries: list[dict[str, Any]] = []
    sentences: list[str] = []
    ok = True
    for server in servers:
        if server.name in blocked:
            entries.append({"server": server.name, "skipped": blocked[server.name]})
            sentences.append(f"{server.name}: {blocked[server.name]}.")
            continue
        check = check_login(server, timeouts=timeouts)
        result = check.result
        ok = ok and result.success
        findings += check.findings
        transcripts.append(_login_transcript(result))
        entry: dict[str, Any] = {"server": server.name, "login": result.to_dict()}
        claims = _token_claims(server)
        if claims is not None:
            entry["token_claims"] = claims
        entries.append(entry)
        sentences.append(result.summary() + ".")
    return StepOutcome(
        _status(findings, ok),
        " ".join(sentences),
        tuple(findings),
        tuple(transcripts),
        {"entries": entries},
    )


def _login_transcript(result: LoginResult) -> Transcript:
    how = f" with {result.mechanism}" if result.mechanism else ""
    label = f"{result.server}: login to {result.host}:{result.port}{how} ({result.reason.value})"
    return Transcript(label, _lines(result.transcript))


def _token_claims(server: ServerSettings) -> dict[str, Any] | None:
    """Return the claims of an OAuth2 entry's token that the token checks read, if it is a JWT."""
    if server.auth is not AuthType.OAUTH2 or server.token is None:
        return None
    try:
        # The token is decoded locally to keep its claims; the token itself is not kept.
        claims = decode_token(server.token.reveal()).claims
    except TokenDecodeError:
        return None
    return {name: claims[name] for name in TOKEN_CLAIMS if name in claims}


# Step 6 ---------------------------------------------------------------------------------


def folders_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """List the IMAP entry's folders and check its storage folder, unless the login failed."""
    reason = _blocked(done, StepKey.IMAP_LOGIN, "IMAP login")
    if reason is not None:
        return skipped(reason)
    report = check_entry_storage_folder(plan.imap, timeouts=plan.login_timeouts)
    listing = report.listing
    tree = ""
    if listing.ok:
        tree = render_text(
            FolderTree(listing.folders), max_lines=TREE_LINES, highlight=report.folder
        )
        verdict = report.findings[0].id if report.findings else "no finding"
        summary = (
            f"Listed {_count(len(listing.folders), 'folder')} with {listing.list_command}; "
            f"storage folder {report.folder!r}: {verdict}."
        )
    else:
        summary = f"The folders could not be listed: {listing.reason.value} at {listing.stage}."
    return StepOutcome(
        _status(report.findings),
        summary,
        report.findings,
        data={"server": plan.imap.name, "report": report.to_dict(), "tree": tree},
    )


# Step 7 ---------------------------------------------------------------------------------


def from_address_step(plan: TriagePlan, done: Mapping[StepKey, StepResult]) -> StepOutcome:
    """Predict the From address of replies from the IMAP account through each SMTP entry.

    Findings come from the file's queues that read the IMAP entry, or, where no
    queue does, from the pairings with the SMTP entries under triage.
    """
    tenant = plan.tenant
    imap = plan.imap
    columns = tenant.table_smtp
    if not columns:
        return skipped("skipped: the file has no SMTP entry, so there is no reply to predict")
    predictions = [predict_pairing(tenant, imap.name, smtp.name) for smtp in columns]
    queues = [
        (queue.name, predict_pairing(tenant, imap.name, queue.smtp, tenant.envelope_for(queue)))
        for queue in tenant.queues
        if imap.name in queue.imap
    ]
    if queues:
        findings = queue_findings(queues)
        shown = [prediction for _, prediction in queues]
    else:
        shown = [p for p in predictions if p.smtp in {server.name for server in plan.smtp}]
        findings = [_without_queue(f) for f in queue_findings((_PAIRING_QUEUE, p) for p in shown)]
    sentences = dict.fromkeys(_prediction_sentence(prediction) for prediction in shown)
    summary = " ".join(sentences) or (
        f"Predicted replies through {len(predictions)} SMTP "
        f"{'entry' if len(predictions) == 1 else 'entries'}; none of them is under triage."
    )
    data = {
        "imap": imap.name,
        "predictions": [prediction.to_dict() for prediction in predictions],
        "queues": [{"queue": name, **prediction.to_dict()} for name, prediction in queues],
    }
    return StepOutcome(_status(findings), summary, tuple(findings), data=data)


def _without_queue(finding: Finding) -> Finding:
    # queue_findings words its message for a queue; a pairing outside any queue has none.
    message = finding.message.replace(f" in queue {_PAIRING_QUEUE!r}", "")
    return dataclasses.replace(finding, message=message)


def _prediction_sentence(prediction: Prediction) -> str:
    return (
        f"Replies from {prediction.address} through {prediction.smtp}: "
        f"{prediction.headline} ({prediction.outcome.value})."
    )


STEPS = (
    (StepKey.SETTINGS, settings_step),
    (StepKey.IMAP_HANDSHAKE, imap_handshake_step),
    (StepKey.SMTP_HANDSHAKE, smtp_handshake_step),
    (StepKey.IMAP_LOGIN, imap_login_step),
    (StepKey.SMTP_LOGIN, smtp_login_step),
    (StepKey.FOLDERS, folders_step),
    (StepKey.FROM_ADDRESS, from_address_step),
)
"""The steps in the order they run, each with its function."""

