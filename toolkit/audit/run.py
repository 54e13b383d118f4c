"""Audit many settings or tenant files at once: the offline checks, and the TLS verdict online.

Offline, each file goes through `load_settings` and `check_file`, exactly as
``maildiag check`` does. Online, each distinct endpoint (host, port, protocol
and CA file) is probed once in both TLS modes with `check_entry_tls`, a few
endpoints at a time, and every entry on that endpoint gets the verdict for its
own TLS tick. A file that cannot be used becomes a row that names the field and
the fix; it never stops the audit.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from toolkit.audit.model import AuditReport, AuditRow, SettingsVerdict
from toolkit.checks import check_file, check_server
from toolkit.findings import Finding, Severity, ranked
from toolkit.probe.results import Timeouts
from toolkit.settings import FieldError, ServerSettings, SettingsError, shown
from toolkit.settings_file import load_settings, resolve_secrets
from toolkit.tls_check import TlsCheck, check_entry_tls
from toolkit.verdicts import PortVerdict, port_verdict

logger = logging.getLogger(__name__)

# progress(done, total, text): called after each file is checked and each endpoint probed.
Progress = Callable[[int, int, str], None]
# Endpoints probed at once. Each probe opens two connections (implicit TLS and STARTTLS),
# and mail servers limit connections per client address, so keep this modest.
DEFAULT_WORKERS = 4
SETTINGS_GLOB = "*.toml"
UNUSABLE_ID = "settings-unusable"


@dataclass(frozen=True)
class _LoadedFile:
    name: str
    servers: tuple[ServerSettings, ...] = ()
    problems: tuple[FieldError, ...] = ()


def find_settings_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand folders into their ``*.toml`` files, searched recursively and sorted.

    Files are kept as given, even when missing, so the audit reports them. Hidden
    folders (names starting with a dot) are skipped, and a file named twice counts once.
    """
    found: list[str] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        candidates = [path]
        if path.is_dir():
            candidates = sorted(
                child
                for child in path.rglob(SETTINGS_GLOB)
                if child.is_file()
                and not any(part.startswith(".") for part in child.relative_to(path).parts)
            )
            if not candidates:
                found.append(str(path))
                continue
        for candidate in candidates:
            key = candidate.resolve()
            if key not in seen:
                seen.add(key)
                found.append(str(candidate))
    return found


def audit_files(
    paths: Iterable[str | os.PathLike[str]],
    *,
    online: bool = False,
    progress: Progress | None = None,
    timeouts: Timeouts | None = None,
    max_workers: int = DEFAULT_WORKERS,
    environ: Mapping[str, str] | None = None,
) -> AuditReport:
    """Check every settings or tenant file, and with `online` the TLS verdict of every entry.

    `paths` may name files and folders (searched for ``*.toml``). Passwords are read
    from the variables each entry names in `environ` (default: the process
    environment) only for the app-password check, and never appear in the report.
    Online, each distinct endpoint costs two connections, made at once and bounded
    by the per-stage `timeouts` of the probe. Never raises for an unusable file: it
    becomes a row.
    """
    started = time.monotonic()
    files = find_settings_files(paths)
    loaded = [_load(name) for name in files]
    groups = _endpoint_groups(loaded) if online else {}
    total = len(loaded) + len(groups)
    done = 0

    checked: list[tuple[ServerSettings | None, AuditRow]] = []
    for item in loaded:
        checked += _offline_rows(item, environ)
        done += 1
        if progress is not None:
            progress(done, total, _file_summary(item))

    if groups:
        probed = _probe_groups(groups, timeouts, max_workers, progress, done, total)
        checked = [
            (server, _with_tls(row, probed.get(_endpoint_key(server))) if server else row)
            for server, row in checked
        ]

    rows = tuple(row for _, row in checked)
    seconds = time.monotonic() - started
    logger.info(
        "audited %d files, %d rows, online=%s, in %.2f s", len(files), len(rows), online, seconds
    )
    return AuditReport(tuple(files), rows, online, seconds)


def _load(name: str) -> _LoadedFile:
    path = Path(name)
    if path.is_dir():
        problem = FieldError(
            "folder",
            shown(name),
            f"contains no {SETTINGS_GLOB} file",
            "name a settings file, or a folder that contains settings files",
        )
        return _LoadedFile(name, problems=(problem,))
    try:
        return _LoadedFile(name, servers=tuple(load_settings(path)))
    except SettingsError as error:
        return _LoadedFile(name, problems=error.errors)


def _file_summary(item: _LoadedFile) -> str:
    if item.problems:
        return f"{item.name}: unusable ({item.problems[0].field})"
    count = len(item.servers)
    return f"{item.name}: {count} {'entry' if count == 1 else 'entries'} checked"


def _offline_rows(
    item: _LoadedFile, environ: Mapping[str, str] | None
) -> list[tuple[ServerSettings | None, AuditRow]]:
    """Return the rows of one file, each with its entry (None for an unusable file)."""
    if item.problems:
        findings = tuple(
            Finding(
                UNUSABLE_ID,
                Severity.ERROR,
                problem.field,
                f"{item.name} cannot be used: {problem.field}: {problem.value} {problem.problem}.",
                f"{problem.field}: {problem.fix}.",
            )
            for problem in item.problems
        )
        return [
            (None, AuditRow(item.name, "", "", "", None, SettingsVerdict.UNUSABLE, "", findings))
        ]

    servers = [resolve_secrets(server, environ) for server in item.servers]
    per_entry = [check_server(server) for server in servers]
    # check_file adds file-wide findings (duplicate names, IMAP without SMTP) to the
    # per-entry ones; the difference gives those, to attach by entry name.
    file_wide = Counter(check_file(servers)) - Counter(f for fs in per_entry for f in fs)
    rows: list[tuple[ServerSettings | None, AuditRow]] = []
    for server, own in zip(servers, per_entry, strict=True):
        extra = [finding for finding in file_wide.elements() if finding.server == server.name]
        findings = tuple(ranked([*own, *extra]))
        row = AuditRow(
            item.name,
            server.name,
            server.protocol.value,
            server.endpoint,
            server.tls,
            _verdict(findings),
            "",
            findings,
        )
        rows.append((server, row))
    return rows


def _verdict(findings: Sequence[Finding]) -> SettingsVerdict:
    severities = {finding.severity for finding in findings}
    if Severity.ERROR in severities:
        return SettingsVerdict.ERROR
    if Severity.WARNING in severities:
        return SettingsVerdict.WARNING
    return SettingsVerdict.OK


_EndpointKey = tuple[str, int, str, str]


def _endpoint_key(server: ServerSettings) -> _EndpointKey:
    return (server.host, server.port, server.protocol.value, str(server.ca_file or ""))


def _endpoint_groups(loaded: Sequence[_LoadedFile]) -> dict[_EndpointKey, ServerSettings]:
    """Return one entry per distinct endpoint, the first that names it."""
    groups: dict[_EndpointKey, ServerSettings] = {}
    for item in loaded:
        for server in item.servers:
            groups.setdefault(_endpoint_key(server), server)
    return groups


_Probed = dict[_EndpointKey, TlsCheck | str]


def _probe_groups(
    groups: Mapping[_EndpointKey, ServerSettings],
    timeouts: Timeouts | None,
    max_workers: int,
    progress: Progress | None,
    done: int,
    total: int,
) -> _Probed:
    """Probe each endpoint in both modes; a probe that raises leaves its error text instead."""
    probed: _Probed = {}
    workers = max(1, min(max_workers, len(groups)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="maildiag-audit") as pool:
        futures = {
            pool.submit(check_entry_tls, server, timeouts): key for key, server in groups.items()
        }
        for future in as_completed(futures):
            key = futures[future]
            try:
                check = future.result()
            except Exception as error:
                # A bug in one probe must not end the audit of every other endpoint.
                logger.exception("TLS check of %s:%s failed", key[0], key[1])
                probed[key] = f"{type(error).__name__}: {error}"
                text = f"{key[0]}:{key[1]} check failed"
            else:
                probed[key] = check
                text = f"{key[0]}:{key[1]} {key[2].upper()}: {_reasons(check)}"
            done += 1
            if progress is not None:
                progress(done, total, text)
    return probed


def _reasons(check: TlsCheck) -> str:
    return f"implicit TLS {check.implicit.reason.value}, STARTTLS {check.starttls.reason.value}"


def _with_tls(row: AuditRow, result: TlsCheck | str | None) -> AuditRow:
    """Return the row with the TLS verdict for its own tick and the verdict's findings."""
    if result is None or row.tls is None:
        return row
    if isinstance(result, str):
        failure = Finding(
            "tls-check-failed",
            Severity.ERROR,
            "port",
            f"The TLS check of {row.endpoint} failed inside the toolkit ({result}).",
            "Run 'maildiag probe' on this host and port to see the details.",
            row.server,
        )
        return replace(row, tls_verdict="check failed", findings=(*row.findings, failure))
    verdict = port_verdict(
        result.implicit, result.starttls, current_tick=row.tls, server=row.server
    )
    findings = tuple(ranked([*row.findings, *verdict.findings]))
    return replace(row, tls_verdict=tls_verdict_words(verdict), findings=findings)


def tls_verdict_words(verdict: PortVerdict) -> str:
    """Return a short verdict for a table cell, such as ``tick works``."""
    if not verdict.works_ticked and not verdict.works_unticked:
        # The port-unusable finding's message gives the reason, so the cell stays short.
        return "port unusable"
    ids = [finding.id for finding in verdict.findings]
    if "tls-tick-wrong-for-port" in ids:
        return f"wrong tick: {verdict.change}"
    certificate = next((i for i in ids if i.startswith("certificate-")), None)
    return f"tick works; {certificate}" if certificate else "tick works"
