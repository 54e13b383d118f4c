"""Run the triage steps in order, time each one, and collect the ranked findings.

`run_triage` works on entries in memory (a notebook form, a workspace);
`triage_file` reads a settings or tenant file, picks the entries and runs it.
Callbacks report each step as it starts and ends, so a notebook or a terminal
can show the numbered steps while they run.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from toolkit.findings import Finding, Severity
from toolkit.fromaddr.tenant import TenantSetup, dump_tenant_setup, load_tenant_setup
from toolkit.probe.results import Timeouts
from toolkit.providers import identify_provider
from toolkit.settings import Protocol, ServerSettings
from toolkit.settings_file import load_settings, resolve_secrets
from toolkit.triage.model import (
    STEP_TITLES,
    StepKey,
    StepResult,
    StepStatus,
    Transcript,
    TriageResult,
    rank_findings,
)
from toolkit.triage.redact import Redactor
from toolkit.triage.steps import STEPS, StepOutcome, TriagePlan

logger = logging.getLogger(__name__)

StepStarted = Callable[[int, str], None]
StepEnded = Callable[[StepResult], None]
# The tables that make a settings file a tenant file (see `toolkit.fromaddr.tenant`).
_TENANT_TABLES = ("queue", "permissions", "tenant")


class TriageInputError(ValueError):
    """The entries to triage cannot be chosen: a name is unknown or of the wrong protocol."""


def run_triage(
    imap: ServerSettings,
    smtp: Sequence[ServerSettings] = (),
    *,
    servers: Sequence[ServerSettings] | None = None,
    tenant: TenantSetup | None = None,
    source: str = "",
    probe_timeouts: Timeouts | None = None,
    login_timeouts: Timeouts | None = None,
    on_step_start: StepStarted | None = None,
    on_step_end: StepEnded | None = None,
) -> TriageResult:
    """Run the seven steps for one IMAP entry and its SMTP entries, and return the result.

    `servers` are the other entries of the same file. Some settings checks and the
    From-address predictions use them. `tenant` adds a tenant file's queues and
    permissions. The entries should carry their passwords or tokens (see
    `toolkit.settings_file.resolve_secrets`), and the result contains none of them.
    Raises TriageInputError when `imap` is not an IMAP entry or an entry of
    `smtp` is not SMTP.
    """
    if imap.protocol is not Protocol.IMAP:
        raise TriageInputError(f"entry {imap.name!r} is SMTP: give an IMAP entry to triage")
    for entry in smtp:
        if entry.protocol is not Protocol.SMTP:
            raise TriageInputError(f"entry {entry.name!r} is IMAP: give SMTP entries only")
    checked = (imap, *smtp)
    names = {entry.name for entry in checked}
    others = [server for server in (servers or ()) if server.name not in names]
    everything = (*checked, *others)
    base = tenant or TenantSetup(servers=everything, source=source)
    plan = TriagePlan(
        imap=imap,
        smtp=tuple(smtp),
        servers=everything,
        tenant=dataclasses.replace(base, servers=everything),
        probe_timeouts=probe_timeouts,
        login_timeouts=login_timeouts,
    )
    redactor = Redactor(everything)
    started_at = datetime.now(UTC)
    started = time.monotonic()
    done: dict[StepKey, StepResult] = {}
    for number, (key, function) in enumerate(STEPS, start=1):
        title = STEP_TITLES[key]
        if on_step_start is not None:
            on_step_start(number, title)
        step_started = time.monotonic()
        try:
            outcome = function(plan, done)
        except Exception as error:
            # One broken step must not lose the others, which may explain the ticket.
            logger.exception("triage step %d (%s) stopped with an error", number, key.value)
            outcome = _crashed(number, title, error, imap.name)
        step = _step_result(number, key, outcome, time.monotonic() - step_started, redactor)
        done[key] = step
        logger.info("triage step %d %s: %s", number, key.value, step.status.value)
        if on_step_end is not None:
            on_step_end(step)

    steps = tuple(done.values())
    return TriageResult(
        imap=imap.name,
        smtp=tuple(entry.name for entry in smtp),
        entries=tuple(_without_secrets(entry) for entry in checked),
        providers={entry.name: _provider_key(entry) for entry in everything},
        steps=steps,
        findings=rank_findings(steps),
        started=started_at,
        seconds=time.monotonic() - started,
        source=redactor.text(source),
        other_servers=tuple(_without_secrets(entry) for entry in others),
        tenant=_tenant_tables(tenant),
    )


def triage_file(
    path: str | os.PathLike[str],
    server: str | None = None,
    smtp: Sequence[str] = (),
    *,
    environ: dict[str, str] | None = None,
    probe_timeouts: Timeouts | None = None,
    login_timeouts: Timeouts | None = None,
    on_step_start: StepStarted | None = None,
    on_step_end: StepEnded | None = None,
) -> TriageResult:
    """Read a settings or tenant file and triage one IMAP entry of it.

    Passwords and tokens come from the variables the entries name, read from
    `environ` (default: the process environment). See `select_entries` for how
    `server` and `smtp` choose the entries. Raises `SettingsError` for a file that
    cannot be used and TriageInputError for names that do not fit it.
    """
    servers = [resolve_secrets(entry, environ) for entry in load_settings(path)]
    tenant = load_tenant(path, servers)
    imap, chosen = select_entries(servers, server, smtp, tenant)
    return run_triage(
        imap,
        chosen,
        servers=servers,
        tenant=tenant,
        source=str(path),
        probe_timeouts=probe_timeouts,
        login_timeouts=login_timeouts,
        on_step_start=on_step_start,
        on_step_end=on_step_end,
    )


def load_tenant(
    path: str | os.PathLike[str], servers: Sequence[ServerSettings]
) -> TenantSetup | None:
    """Return the file's tenant setup when it has tenant tables, else None.

    Raises `SettingsError` when those tables cannot be used.
    """
    document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    if not any(table in document for table in _TENANT_TABLES):
        return None
    tenant = load_tenant_setup(path)
    by_name = {server.name: server for server in servers}
    # The entries with their secrets resolved replace those read again from the file.
    resolved = tuple(by_name.get(server.name, server) for server in tenant.servers)
    return dataclasses.replace(tenant, servers=resolved)


def select_entries(
    servers: Sequence[ServerSettings],
    server: str | None,
    smtp: Sequence[str] = (),
    tenant: TenantSetup | None = None,
) -> tuple[ServerSettings, tuple[ServerSettings, ...]]:
    """Choose the IMAP entry and the SMTP entries of a triage.

    `server` names the IMAP entry; without it the file must have exactly one.
    `smtp` names the SMTP entries. Without them, the triage takes the SMTP
    entries of the tenant's queues that read the IMAP entry, else those that log
    in as the same user, else every SMTP entry of the file. Raises
    TriageInputError naming the entries that exist.
    """
    imap_entries = [entry for entry in servers if entry.protocol is Protocol.IMAP]
    smtp_entries = [entry for entry in servers if entry.protocol is Protocol.SMTP]
    if server is None:
        if len(imap_entries) != 1:
            raise TriageInputError(
                f"the file has {len(imap_entries)} IMAP entries: choose one with --server "
                f"({_names(imap_entries)})"
            )
        imap = imap_entries[0]
    else:
        imap = _named(servers, server, Protocol.IMAP, "--server")
    if smtp:
        return imap, tuple(_named(servers, name, Protocol.SMTP, "--smtp") for name in smtp)
    if tenant is not None:
        queued = [queue.smtp for queue in tenant.queues if imap.name in queue.imap]
        if queued:
            names = list(dict.fromkeys(queued))
            return imap, tuple(entry for entry in smtp_entries if entry.name in names)
    same_user = [entry for entry in smtp_entries if entry.user.casefold() == imap.user.casefold()]
    return imap, tuple(same_user or smtp_entries)


def _named(
    servers: Sequence[ServerSettings], name: str, protocol: Protocol, option: str
) -> ServerSettings:
    matches = [entry for entry in servers if entry.name == name]
    if not matches:
        wanted = [entry for entry in servers if entry.protocol is protocol]
        raise TriageInputError(
            f"{option} {name!r} is not an entry of the file; its {protocol.value.upper()} "
            f"entries are: {_names(wanted)}"
        )
    entry = matches[0]
    if entry.protocol is not protocol:
        raise TriageInputError(
            f"{option} {name!r} is an {entry.protocol.value.upper()} entry; give an "
            f"{protocol.value.upper()} entry"
        )
    return entry


def _names(entries: Sequence[ServerSettings]) -> str:
    return ", ".join(entry.name for entry in entries) or "none"


def _step_result(
    number: int, key: StepKey, outcome: StepOutcome, seconds: float, redactor: Redactor
) -> StepResult:
    return StepResult(
        number=number,
        key=key,
        title=STEP_TITLES[key],
        status=outcome.status,
        seconds=seconds,
        summary=redactor.text(outcome.summary),
        findings=tuple(redactor.finding(finding) for finding in outcome.findings),
        transcripts=tuple(
            Transcript(
                redactor.text(transcript.label),
                tuple(redactor.text(line) for line in transcript.lines),
            )
            for transcript in outcome.transcripts
        ),
        data=redactor.data(dict(outcome.data)),
        skip_reason=redactor.text(outcome.skip_reason),
    )


def _crashed(number: int, title: str, error: Exception, server: str) -> StepOutcome:
    finding = Finding(
        "triage-step-error",
        Severity.ERROR,
        "",
        f"Step {number} ({title}) stopped with an unexpected error: "
        f"{type(error).__name__}: {error}",
        "Run the step's own command (maildiag probe, login or folders) to see more, and "
        "report the error with the JSON report attached.",
        server,
    )
    return StepOutcome(StepStatus.FAILED, finding.message, (finding,))


def _without_secrets(entry: ServerSettings) -> ServerSettings:
    return dataclasses.replace(entry, password=None, token=None)


def _provider_key(entry: ServerSettings) -> str | None:
    provider = identify_provider(entry)
    return provider.key if provider is not None else None


def _tenant_tables(tenant: TenantSetup | None) -> dict[str, Any] | None:
    """Return the tenant tables of a tenant file as plain data, without the server entries."""
    if tenant is None:
        return None
    document = tomllib.loads(dump_tenant_setup(tenant))
    document.pop("server", None)
    return document
