"""Batch audit: check many settings or tenant files at once, offline or with TLS probes.

- `model`: `AuditRow` and `AuditReport`, the result as plain data;
- `run`: `audit_files` and the folder search;
- `table`: the summary as a pandas table (``maildiag audit`` prints it as text);
- `view`: the notebook progress bar.
"""

from toolkit.audit.model import AuditReport, AuditRow, SettingsVerdict
from toolkit.audit.run import (
    DEFAULT_WORKERS,
    UNUSABLE_ID,
    Progress,
    audit_files,
    find_settings_files,
)

__all__ = [
    "DEFAULT_WORKERS",
    "UNUSABLE_ID",
    "AuditReport",
    "AuditRow",
    "Progress",
    "SettingsVerdict",
    "audit_files",
    "find_settings_files",
]
