"""Findings: the common currency of every check.

Each finding has a stable id that tests, reports and the CLI rely on, a
severity, the settings field it concerns, a message that says what is wrong
and why, and the fix in the product's words.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How much a finding matters: an error stops mail, a warning may, info explains."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class Finding:
    """One result of a check: what is wrong, where, why, and the fix."""

    id: str
    severity: Severity
    field: str
    message: str
    fix: str
    server: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as plain data for JSON and tables."""
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Sort findings with errors first, keeping the order of checks within a severity."""
    return sorted(findings, key=lambda finding: SEVERITY_RANK[finding.severity])


def has_errors(findings: Iterable[Finding]) -> bool:
    """Return whether any finding has error severity."""
    return any(finding.severity is Severity.ERROR for finding in findings)
