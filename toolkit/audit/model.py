"""The result of a batch audit: one row per server entry, or per file that cannot be used."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from toolkit.findings import Finding, Severity, has_errors, ranked


class SettingsVerdict(StrEnum):
    """The offline verdict of one row: the worst severity of its settings findings."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    UNUSABLE = "unusable"


@dataclass(frozen=True)
class AuditRow:
    """One server entry of one file, or one file that could not be read as settings.

    For an unusable file, `server`, `protocol` and `endpoint` are empty, `tls` is
    None, and `findings` contains one ``settings-unusable`` finding per problem, each
    naming the field. `tls_verdict` is empty unless the audit ran online.
    """

    file: str
    server: str
    protocol: str
    endpoint: str
    tls: bool | None
    settings_verdict: SettingsVerdict
    tls_verdict: str = ""
    findings: tuple[Finding, ...] = ()

    @property
    def top(self) -> Finding | None:
        """The finding of highest severity, the first among equals, or None without findings."""
        return ranked(self.findings)[0] if self.findings else None

    @property
    def errors(self) -> int:
        """The number of error findings."""
        return sum(1 for finding in self.findings if finding.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        """The number of warning findings."""
        return sum(1 for finding in self.findings if finding.severity is Severity.WARNING)

    def to_dict(self) -> dict[str, Any]:
        """Return the row as JSON-ready data, with every finding."""
        top = self.top
        return {
            "file": self.file,
            "server": self.server,
            "protocol": self.protocol,
            "endpoint": self.endpoint,
            "tls": self.tls,
            "settings_verdict": self.settings_verdict.value,
            "tls_verdict": self.tls_verdict,
            "top_finding": top.id if top else "",
            "fix": top.fix if top else "",
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [finding.to_dict() for finding in ranked(self.findings)],
        }


@dataclass(frozen=True)
class AuditReport:
    """Every row of an audit, in the order of the files and of the entries within each file."""

    files: tuple[str, ...]
    rows: tuple[AuditRow, ...]
    online: bool
    seconds: float = 0.0

    @property
    def unusable_files(self) -> tuple[str, ...]:
        """The files that could not be read as settings."""
        return tuple(
            row.file for row in self.rows if row.settings_verdict is SettingsVerdict.UNUSABLE
        )

    @property
    def usable_files(self) -> tuple[str, ...]:
        """The files whose entries were checked."""
        unusable = set(self.unusable_files)
        return tuple(path for path in self.files if path not in unusable)

    def findings(self) -> list[Finding]:
        """Return the findings of every row, errors first."""
        return ranked(finding for row in self.rows for finding in row.findings)

    def has_errors(self) -> bool:
        """Return whether any row has an error finding, an unusable file included."""
        return has_errors(self.findings())

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "online": self.online,
            "files": list(self.files),
            "usable_files": len(self.usable_files),
            "unusable_files": list(self.unusable_files),
            "entries": sum(
                1 for row in self.rows if row.settings_verdict is not SettingsVerdict.UNUSABLE
            ),
            "errors": sum(row.errors for row in self.rows),
            "warnings": sum(row.warnings for row in self.rows),
            "seconds": round(self.seconds, 3),
            "rows": [row.to_dict() for row in self.rows],
        }
