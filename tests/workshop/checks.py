"""The toolkit checks that each exercise's notebook runs, by name, for the scenario tests."""

from __future__ import annotations

from collections.abc import Callable

from toolkit.checks import check_server
from toolkit.findings import Finding
from toolkit.folders import check_entry_storage_folder
from toolkit.fromaddr import build_report
from toolkit.fromaddr.tenant import tenant_setup_from_text
from toolkit.login.check import check_login
from toolkit.tls_check import check_entry_tls
from toolkit.workshop import Exercise


def settings_check(exercise: Exercise) -> list[Finding]:
    """Run the check without a connection on the exercise's entry."""
    return check_server(exercise.entry)


def tls_check(exercise: Exercise) -> list[Finding]:
    """Probe the entry's port in both modes and return the verdict's findings."""
    return list(check_entry_tls(exercise.entry, exercise.timeouts).verdict.findings)


def login_check(exercise: Exercise) -> list[Finding]:
    """Run the login test on the entry."""
    return list(check_login(exercise.entry, timeouts=exercise.timeouts).findings)


def folder_check(exercise: Exercise) -> list[Finding]:
    """List the entry's folders and check its storage folder."""
    return list(check_entry_storage_folder(exercise.entry, timeouts=exercise.timeouts).findings)


def from_check(exercise: Exercise) -> list[Finding]:
    """Predict the From addresses of the exercise's tenant file and return the queue findings."""
    assert exercise.tenant_text is not None
    return list(build_report(tenant_setup_from_text(exercise.tenant_text)).findings)


CHECKS: dict[str, Callable[[Exercise], list[Finding]]] = {
    "settings": settings_check,
    "tls": tls_check,
    "login": login_check,
    "folder": folder_check,
    "from": from_check,
}
