"""Each exercise's sandbox really shows the documented fault, and the documented fix removes it."""

from __future__ import annotations

import dataclasses

import pytest

from tests.workshop.checks import CHECKS
from toolkit.checks import check_server
from toolkit.folders import check_entry_storage_folder
from toolkit.fromaddr.predict import predict_pairing
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.tenant import tenant_setup_from_text
from toolkit.login.check import check_login
from toolkit.probe import Endpoint, probe
from toolkit.sandbox.ca import OTHER_HOST_NAME
from toolkit.settings import AuthType, Security
from toolkit.workshop import exercises, start_exercise
from toolkit.workshop.catalogue import SPECS

# The check of each notebook that shows the fault, and the finding id it shows.
EXPECTED = {
    "tls-tick-on-starttls-port": ("tls", "tls-tick-wrong-for-port"),
    "tls-tick-off-on-implicit-port": ("tls", "tls-tick-wrong-for-port"),
    "certificate-expired": ("login", "certificate-expired"),
    "certificate-other-host": ("login", "certificate-hostname-mismatch"),
    "certificate-private-ca": ("login", "certificate-untrusted"),
    "gmail-account-password": ("login", "gmail-app-password-required"),
    "m365-basic-retired": ("settings", "auth-not-supported-by-provider"),
    "oauth-token-other-user": ("login", "token-wrong-user"),
    "oauth-graph-token": ("login", "token-wrong-audience"),
    "oauth-missing-imap-scope": ("login", "token-missing-scope"),
    "folder-letter-case": ("folder", "storage-folder-case-mismatch"),
    "folder-delimiter": ("folder", "storage-folder-wrong-delimiter"),
    "folder-namespace": ("folder", "storage-folder-not-found"),
    "folder-gmail-container": ("folder", "storage-folder-noselect"),
    "from-gmail-rewritten": ("from", "reply-from-other-account"),
    "from-m365-on-behalf": ("from", "reply-on-behalf"),
}
# A second check of the same exercise that shows the same fault under its own id.
ALSO_EXPECTED = {
    "tls-tick-on-starttls-port": ("login", "tls-on-plain-port"),
    "certificate-expired": ("tls", "certificate-expired"),
    "certificate-other-host": ("tls", "certificate-hostname-mismatch"),
    "certificate-private-ca": ("tls", "certificate-untrusted"),
    "gmail-account-password": ("settings", "app-password-format"),
    "m365-basic-retired": ("login", "m365-login-failed"),
}


def test_expected_table_covers_catalogue() -> None:
    assert set(EXPECTED) == {info.key for info in exercises()}


@pytest.mark.parametrize("key", list(EXPECTED))
def test_scenario_shows_documented_finding(key: str) -> None:
    check, finding_id = EXPECTED[key]
    with start_exercise(key) as exercise:
        ids = [finding.id for finding in CHECKS[check](exercise)]
    assert finding_id in ids


@pytest.mark.parametrize("key", list(ALSO_EXPECTED))
def test_scenario_shows_second_finding(key: str) -> None:
    check, finding_id = ALSO_EXPECTED[key]
    with start_exercise(key) as exercise:
        ids = [finding.id for finding in CHECKS[check](exercise)]
    assert finding_id in ids


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.info.key)
def test_solution_names_documented_finding_first(spec: object) -> None:
    info = spec.info  # type: ignore[attr-defined]
    solution = spec.solution  # type: ignore[attr-defined]
    assert solution.finding_ids[0] == EXPECTED[info.key][1]


@pytest.mark.parametrize(
    ("key", "tls"),
    [("tls-tick-on-starttls-port", False), ("tls-tick-off-on-implicit-port", True)],
)
def test_tls_fix_logs_in(key: str, tls: bool) -> None:
    with start_exercise(key) as exercise:
        accepted = exercise.check({"tls": tls}).correct
        fixed = dataclasses.replace(exercise.entry, tls=tls)
        ids = [finding.id for finding in check_login(fixed, timeouts=exercise.timeouts).findings]
    assert accepted
    assert ids == ["login-ok"]


def test_implicit_port_fix_logs_in() -> None:
    with start_exercise("tls-tick-on-starttls-port") as exercise:
        port = exercise.sandbox.endpoint("smtp-tls").port
        accepted = exercise.check({"port": port}).correct
        fixed = dataclasses.replace(exercise.entry, port=port)
        ids = [finding.id for finding in check_login(fixed, timeouts=exercise.timeouts).findings]
    assert accepted
    assert ids == ["login-ok"]


def test_ca_file_fix_logs_in() -> None:
    with start_exercise("certificate-private-ca") as exercise:
        ca_file = exercise.sandbox.ca_file
        accepted = exercise.check({"ca_file": str(ca_file)}).correct
        fixed = dataclasses.replace(exercise.entry, ca_file=ca_file)
        ids = [finding.id for finding in check_login(fixed, timeouts=exercise.timeouts).findings]
    assert accepted
    assert ids == ["login-ok"]


def test_other_host_certificate_lists_fixed_host() -> None:
    # The fixed host does not resolve, so the test reads the name from the certificate.
    with start_exercise("certificate-other-host") as exercise:
        entry = exercise.entry
        accepted = exercise.check({"host": OTHER_HOST_NAME}).correct
        result = probe(
            Endpoint(entry.host, entry.port, entry.protocol, Security.IMPLICIT_TLS,
                     str(entry.ca_file)),
            exercise.timeouts,
        )
    assert accepted
    assert result.certificate is not None
    assert result.certificate.san_dns == (OTHER_HOST_NAME,)


def test_oauth2_fix_clears_settings_finding() -> None:
    with start_exercise("m365-basic-retired") as exercise:
        accepted = exercise.check({"auth": "oauth2"}).correct
        fixed = dataclasses.replace(exercise.entry, auth=AuthType.OAUTH2)
    ids = [finding.id for finding in check_server(fixed)]
    assert accepted
    assert "auth-not-supported-by-provider" not in ids


@pytest.mark.parametrize(
    ("key", "folder"),
    [
        ("folder-letter-case", "Support"),
        ("folder-delimiter", "INBOX.Support"),
        ("folder-namespace", "INBOX.Support"),
        ("folder-gmail-container", "Support"),
    ],
)
def test_folder_fix_is_ok_on_server(key: str, folder: str) -> None:
    with start_exercise(key) as exercise:
        accepted = exercise.check({"storage_folder": folder}).correct
        report = check_entry_storage_folder(exercise.entry, folder, exercise.timeouts)
    assert accepted
    assert [finding.id for finding in report.findings] == ["storage-folder-ok"]


@pytest.mark.parametrize(
    ("key", "smtp"),
    [("from-gmail-rewritten", "gabe-gmail-smtp"), ("from-m365-on-behalf", "erin-m365-smtp")],
)
def test_from_fix_replies_from_queue_address(key: str, smtp: str) -> None:
    with start_exercise(key) as exercise:
        accepted = exercise.check({"smtp": smtp}).correct
        assert exercise.tenant_text is not None
        tenant = tenant_setup_from_text(exercise.tenant_text)
    queue = tenant.queues[0]
    prediction = predict_pairing(tenant, queue.imap[0], smtp)
    assert accepted
    assert prediction.outcome is Outcome.FROM_A
