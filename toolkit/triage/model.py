"""The triage result: numbered steps with their status, time, findings and redacted transcripts.

Every object here is plain data without secrets. `TriageResult.to_dict` is the
body of the JSON report (``docs/report-schema.md``), and the HTML and Markdown
reports render the same object, so every format shows the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from toolkit.findings import SEVERITY_RANK, Finding, Severity
from toolkit.settings import ServerSettings


class StepStatus(StrEnum):
    """The outcome of one step."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class StepKey(StrEnum):
    """The seven steps of a triage, as stable ids, in the order they run."""

    SETTINGS = "settings"
    IMAP_HANDSHAKE = "imap-handshake"
    SMTP_HANDSHAKE = "smtp-handshake"
    IMAP_LOGIN = "imap-login"
    SMTP_LOGIN = "smtp-login"
    FOLDERS = "folders"
    FROM_ADDRESS = "from-address"


STEP_TITLES = {
    StepKey.SETTINGS: "Settings checks",
    StepKey.IMAP_HANDSHAKE: "IMAP handshake: which TLS tick works",
    StepKey.SMTP_HANDSHAKE: "SMTP handshake: which TLS tick works",
    StepKey.IMAP_LOGIN: "IMAP login",
    StepKey.SMTP_LOGIN: "SMTP login",
    StepKey.FOLDERS: "Folder tree and storage folder",
    StepKey.FROM_ADDRESS: "From address of replies",
}
STEP_NUMBERS = {key: number for number, key in enumerate(StepKey, start=1)}


@dataclass(frozen=True)
class Transcript:
    """The redacted lines of one connection, such as ``C: p1 CAPABILITY``, under a label."""

    label: str
    lines: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the transcript as JSON-ready data."""
        return {"label": self.label, "lines": list(self.lines)}


@dataclass(frozen=True)
class StepResult:
    """One numbered step: its status, how long it took, a one-sentence summary and its findings.

    `data` contains the step's detailed results as JSON-ready data (probe results,
    verdicts, login results, the folder listing, the From predictions). The
    replay serves a saved case from it. For a skipped step, `skip_reason`
    names the earlier step that failed.
    """

    number: int
    key: StepKey
    title: str
    status: StepStatus
    seconds: float
    summary: str
    findings: tuple[Finding, ...] = ()
    transcripts: tuple[Transcript, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    skip_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the step as JSON-ready data."""
        return {
            "number": self.number,
            "key": self.key.value,
            "title": self.title,
            "status": self.status.value,
            "seconds": round(self.seconds, 4),
            "summary": self.summary,
            "skip_reason": self.skip_reason,
            "findings": [finding.to_dict() for finding in self.findings],
            "transcripts": [transcript.to_dict() for transcript in self.transcripts],
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class RankedFinding:
    """A finding with the number of the step that found it."""

    step: int
    finding: Finding

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready data, with its step number."""
        return {"step": self.step, **self.finding.to_dict()}


def rank_findings(steps: tuple[StepResult, ...]) -> tuple[RankedFinding, ...]:
    """Return every step's findings ranked: errors first, then by step, then in step order."""
    numbered = [(step.number, finding) for step in steps for finding in step.findings]
    ordered = sorted(
        enumerate(numbered),
        key=lambda item: (SEVERITY_RANK[item[1][1].severity], item[1][0], item[0]),
    )
    return tuple(RankedFinding(number, finding) for _, (number, finding) in ordered)


@dataclass(frozen=True)
class TriageResult:
    """A whole triage of one IMAP entry with its SMTP entries.

    `entries` are the entries checked, IMAP first, without passwords or tokens.
    `providers` maps each entry's name to the provider key the toolkit
    identified for it (None for an unknown server). `tenant` contains the
    ``[[queue]]``, ``[permissions]`` and ``[tenant]`` tables of a tenant file,
    and `other_servers` the file's other entries, because step 7 predicts
    replies through every SMTP entry of the file.
    """

    imap: str
    smtp: tuple[str, ...]
    entries: tuple[ServerSettings, ...]
    providers: Mapping[str, str | None]
    steps: tuple[StepResult, ...]
    findings: tuple[RankedFinding, ...]
    started: datetime
    seconds: float
    source: str = ""
    other_servers: tuple[ServerSettings, ...] = ()
    tenant: Mapping[str, Any] | None = None

    @property
    def counts(self) -> dict[str, int]:
        """The number of findings per severity, such as ``{"error": 1, ...}``."""
        counts = {severity.value: 0 for severity in Severity}
        for ranked_finding in self.findings:
            counts[ranked_finding.finding.severity.value] += 1
        return counts

    @property
    def has_errors(self) -> bool:
        """Whether any finding has error severity."""
        return self.counts[Severity.ERROR.value] > 0

    @property
    def headline(self) -> str:
        """One sentence: the top finding's id and fix, or that nothing is wrong."""
        if not self.findings:
            return "No findings: every step passed."
        top = self.findings[0]
        if top.finding.severity is Severity.INFO:
            return "No errors or warnings: every step passed."
        return (
            f"Top finding ({top.finding.severity.value}, step {top.step}): {top.finding.id}. "
            f"Fix: {top.finding.fix}"
        )

    def step(self, key: StepKey) -> StepResult:
        """Return the step with this key. Raises KeyError when the triage has no such step."""
        for step in self.steps:
            if step.key is key:
                return step
        raise KeyError(f"no step {key.value!r} in this triage")

    def to_dict(self) -> dict[str, Any]:
        """Return the triage as JSON-ready data, without any secret."""
        return {
            "imap": self.imap,
            "smtp": list(self.smtp),
            "source": self.source,
            "started": self.started.isoformat(),
            "seconds": round(self.seconds, 4),
            "headline": self.headline,
            "counts": self.counts,
            "entries": [entry.to_dict() for entry in self.entries],
            "providers": dict(self.providers),
            "other_servers": [server.to_dict() for server in self.other_servers],
            "tenant": dict(self.tenant) if self.tenant is not None else None,
            "steps": [step.to_dict() for step in self.steps],
            "findings": [ranked_finding.to_dict() for ranked_finding in self.findings],
        }
