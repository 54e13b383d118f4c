"""Ticket triage: every check for one IMAP entry and its SMTP entries, in numbered steps.

The steps run in order, like a connectivity analyzer:

1. settings checks, without connecting;
2. the IMAP handshake verdict;
3. the SMTP handshake verdicts;
4. the IMAP login;
5. the SMTP logins;
6. the folder tree and the storage folder;
7. the From address of replies.

A step that cannot run because an earlier one failed is skipped with that
reason. The modules:

- `model`: the plain result objects, which hold no secrets;
- `steps`: one function per step, each a call into the library's own check;
- `runner`: `run_triage` and `triage_file`, which time the steps and rank the findings;
- `redact`: a last pass that masks any trace of the entries' secrets.
"""

from toolkit.triage.model import (
    STEP_TITLES,
    RankedFinding,
    StepKey,
    StepResult,
    StepStatus,
    Transcript,
    TriageResult,
)
from toolkit.triage.runner import (
    TriageInputError,
    load_tenant,
    run_triage,
    select_entries,
    triage_file,
)

__all__ = [
    "STEP_TITLES",
    "RankedFinding",
    "StepKey",
    "StepResult",
    "StepStatus",
    "Transcript",
    "TriageInputError",
    "TriageResult",
    "load_tenant",
    "run_triage",
    "select_entries",
    "triage_file",
]
