"""Settings checks: each rule with cases that hit and cases that do not."""

from __future__ import annotations

from typing import Any

import pytest

from toolkit.checks import FINDING_IDS, check_file, check_server
from toolkit.findings import Finding, Severity, has_errors, ranked
from toolkit.settings import ServerSettings, build_settings

CANARY = "canary-Pa55word-7f3e"

GMAIL_IMAP: dict[str, Any] = {
    "name": "gmail-imap",
    "protocol": "imap",
    "host": "imap.gmail.com",
    "port": 993,
    "tls": True,
    "auth": "basic",
    "user": "support@gmail.com",
    "storage_folder": "Support",
}
GMAIL_SMTP: dict[str, Any] = {
    "name": "gmail-smtp",
    "protocol": "smtp",
    "host": "smtp.gmail.com",
    "port": 587,
    "tls": False,
    "auth": "basic",
    "user": "support@gmail.com",
}
M365_IMAP: dict[str, Any] = {
    "name": "m365-imap",
    "protocol": "imap",
    "host": "outlook.office365.com",
    "port": 993,
    "tls": True,
    "auth": "oauth2",
    "user": "support@contoso.example",
    "storage_folder": "Support",
}
M365_SMTP: dict[str, Any] = {
    "name": "m365-smtp",
    "protocol": "smtp",
    "host": "smtp.office365.com",
    "port": 587,
    "tls": True,
    "auth": "oauth2",
    "user": "support@contoso.example",
}
CUSTOM_IMAP: dict[str, Any] = {
    "name": "custom-imap",
    "protocol": "imap",
    "host": "mail.example.org",
    "port": 993,
    "tls": True,
    "auth": "basic",
    "user": "support",
    "storage_folder": "Support",
}
CUSTOM_SMTP: dict[str, Any] = {
    "name": "custom-smtp",
    "protocol": "smtp",
    "host": "mail.example.org",
    "port": 587,
    "tls": False,
    "auth": "basic",
    "user": "support",
}


def entry(base: dict[str, Any], password: str | None = None, **changes: Any) -> ServerSettings:
    raw = {key: value for key, value in {**base, **changes}.items() if value is not None}
    return build_settings(raw, password=password)


def with_id(findings: list[Finding], finding_id: str) -> list[Finding]:
    return [finding for finding in findings if finding.id == finding_id]


@pytest.mark.parametrize(
    ("settings", "expected_severity"),
    [
        (entry(GMAIL_SMTP, tls=True), Severity.ERROR),
        (entry(GMAIL_IMAP, tls=False), Severity.ERROR),
        (entry(CUSTOM_IMAP, port=143, tls=True), Severity.ERROR),
        (entry(CUSTOM_SMTP, port=465, tls=False), Severity.ERROR),
        (entry(CUSTOM_SMTP, port=587, tls=True), Severity.ERROR),
        (entry(CUSTOM_SMTP, port=25, tls=True), Severity.ERROR),
        (entry(M365_SMTP), Severity.WARNING),
        (entry(M365_SMTP, host="smtp.example.org", provider="microsoft365"), Severity.ERROR),
    ],
)
def test_tick_port_mismatch_hits(settings: ServerSettings, expected_severity: Severity) -> None:
    found = with_id(check_server(settings), "tls-tick-port-mismatch")
    assert len(found) == 1
    assert found[0].severity is expected_severity
    assert found[0].field == "tls"
    assert "TLS" in found[0].fix


@pytest.mark.parametrize(
    "settings",
    [
        entry(GMAIL_SMTP),
        entry(GMAIL_IMAP),
        entry(CUSTOM_IMAP, port=143, tls=False),
        entry(CUSTOM_SMTP, port=465, tls=True),
        entry(CUSTOM_SMTP, port=2525, tls=True),
        entry(CUSTOM_IMAP, port=10993, tls=False),
        entry(M365_IMAP),
    ],
)
def test_tick_port_mismatch_misses(settings: ServerSettings) -> None:
    assert not with_id(check_server(settings), "tls-tick-port-mismatch")


def test_gmail_tick_on_587_explains_fix() -> None:
    (finding,) = with_id(check_server(entry(GMAIL_SMTP, tls=True)), "tls-tick-port-mismatch")
    assert "Port 587 speaks STARTTLS" in finding.message
    assert "Untick TLS for port 587" in finding.fix
    assert "port 465" in finding.fix


def test_microsoft_recommendation_on_587_is_named() -> None:
    (finding,) = with_id(check_server(entry(M365_SMTP)), "tls-tick-port-mismatch")
    assert "recommendation ticks TLS on port 587" in finding.message
    assert "STARTTLS" in finding.message
    assert "openssl s_client" in finding.fix


def test_implicit_port_unticked_explains_timeout() -> None:
    (finding,) = with_id(check_server(entry(GMAIL_IMAP, tls=False)), "tls-tick-port-mismatch")
    assert "times out" in finding.message
    assert "Tick TLS for port 993" in finding.fix


@pytest.mark.parametrize(
    ("settings", "finding_id", "severity"),
    [
        (entry(CUSTOM_IMAP, port=587, tls=False), "port-protocol-mismatch", Severity.ERROR),
        (entry(CUSTOM_SMTP, port=993, tls=True), "port-protocol-mismatch", Severity.ERROR),
        (entry(CUSTOM_SMTP, port=25, tls=False), "relay-port", Severity.WARNING),
        (entry(CUSTOM_SMTP, port=2525, tls=False), "non-standard-port", Severity.INFO),
        (entry(CUSTOM_IMAP, provider="yahoo"), "unknown-provider", Severity.WARNING),
    ],
)
def test_port_and_provider_rules_hit(
    settings: ServerSettings, finding_id: str, severity: Severity
) -> None:
    found = with_id(check_server(settings), finding_id)
    assert len(found) == 1
    assert found[0].severity is severity


@pytest.mark.parametrize(
    ("settings", "severity"),
    [
        (entry(M365_IMAP, auth="basic"), Severity.ERROR),
        (entry(M365_SMTP, auth="basic"), Severity.ERROR),
        (entry(GMAIL_IMAP, auth="oauth2"), Severity.WARNING),
        (entry(GMAIL_SMTP, auth="oauth2"), Severity.WARNING),
    ],
)
def test_auth_not_supported_hits(settings: ServerSettings, severity: Severity) -> None:
    (finding,) = with_id(check_server(settings), "auth-not-supported-by-provider")
    assert finding.severity is severity
    assert finding.field == "auth"


@pytest.mark.parametrize(
    "settings",
    [entry(M365_IMAP), entry(M365_SMTP), entry(GMAIL_IMAP), entry(GMAIL_SMTP), entry(CUSTOM_IMAP)],
)
def test_auth_not_supported_misses(settings: ServerSettings) -> None:
    assert not with_id(check_server(settings), "auth-not-supported-by-provider")


def test_oauth2_for_gmail_says_product_limit() -> None:
    (finding,) = with_id(
        check_server(entry(GMAIL_IMAP, auth="oauth2")), "auth-not-supported-by-provider"
    )
    assert (
        "not supported by the product" in finding.message or "product supports" in finding.message
    )


@pytest.mark.parametrize(
    ("settings", "severity", "fix"),
    [
        (entry(GMAIL_IMAP, host="imap.googlemail.com"), Severity.WARNING, "imap.gmail.com"),
        (entry(GMAIL_IMAP, host="smtp.gmail.com"), Severity.ERROR, "imap.gmail.com"),
        (entry(M365_IMAP, host="outlook.office.com"), Severity.WARNING, "outlook.office365.com"),
        (entry(M365_SMTP, host="smtp-mail.outlook.com"), Severity.WARNING, "smtp.office365.com"),
        (entry(M365_SMTP, host="outlook.office365.com"), Severity.ERROR, "smtp.office365.com"),
    ],
)
def test_not_recommended_host_hits(settings: ServerSettings, severity: Severity, fix: str) -> None:
    (finding,) = with_id(check_server(settings), "not-recommended-host")
    assert finding.severity is severity
    assert fix in finding.fix


@pytest.mark.parametrize(
    "settings", [entry(GMAIL_IMAP), entry(M365_SMTP), entry(CUSTOM_IMAP, host="imap.gmail.org")]
)
def test_not_recommended_host_misses(settings: ServerSettings) -> None:
    assert not with_id(check_server(settings), "not-recommended-host")


@pytest.mark.parametrize(
    ("settings", "recommended"),
    [
        (entry(GMAIL_SMTP, port=465, tls=True), "587"),
        (entry(GMAIL_IMAP, port=143, tls=False), "993"),
        (entry(M365_SMTP, port=25), "587"),
    ],
)
def test_not_recommended_port_hits(settings: ServerSettings, recommended: str) -> None:
    (finding,) = with_id(check_server(settings), "not-recommended-port")
    assert recommended in finding.fix


def test_not_recommended_port_misses() -> None:
    assert not with_id(check_server(entry(GMAIL_SMTP)), "not-recommended-port")
    assert not with_id(check_server(entry(CUSTOM_SMTP, port=465, tls=True)), "not-recommended-port")


def test_storage_folder_missing_hits() -> None:
    (finding,) = with_id(
        check_server(entry(CUSTOM_IMAP, storage_folder=None)), "storage-folder-missing"
    )
    assert finding.severity is Severity.ERROR
    assert finding.field == "storage_folder"


def test_storage_folder_missing_misses() -> None:
    assert not with_id(check_server(entry(CUSTOM_IMAP)), "storage-folder-missing")
    assert not with_id(check_server(entry(CUSTOM_SMTP)), "storage-folder-missing")


@pytest.mark.parametrize(
    "folder",
    [
        "Support/Contact",
        "Support.Contact",
        "INBOX/Support",
        "INBOX.Support",
        "inbox.Support",
        "[Gmail]/Support",
    ],
)
def test_storage_folder_nested_hits(folder: str) -> None:
    (finding,) = with_id(
        check_server(entry(CUSTOM_IMAP, storage_folder=folder)), "storage-folder-nested"
    )
    assert finding.severity is Severity.WARNING
    assert "delimiter" in finding.message
    assert "namespace" in finding.message


@pytest.mark.parametrize("folder", ["Support", "Contact Center", "INBOXES", "Über-Support"])
def test_storage_folder_nested_misses(folder: str) -> None:
    assert not with_id(
        check_server(entry(CUSTOM_IMAP, storage_folder=folder)), "storage-folder-nested"
    )


def test_storage_folder_on_smtp_is_ignored() -> None:
    (finding,) = with_id(
        check_server(entry(CUSTOM_SMTP, storage_folder="Support")), "storage-folder-ignored"
    )
    assert finding.severity is Severity.INFO


@pytest.mark.parametrize(
    "password",
    [
        "hunter2",
        "abcd efgh ijkl",
        "abcd-efgh-ijkl-mnop",
        "abcd efgh ijkl mnop q",
        "abcd efgh ijkl mn0p",
    ],
)
def test_app_password_format_hits(password: str) -> None:
    (finding,) = with_id(check_server(entry(GMAIL_SMTP, password=password)), "app-password-format")
    assert finding.field == "password"
    assert password not in finding.message
    assert password not in finding.fix


@pytest.mark.parametrize(
    ("base", "password"),
    [
        (GMAIL_SMTP, "abcd efgh ijkl mnop"),
        (GMAIL_SMTP, "abcdefghijklmnop"),
        (GMAIL_SMTP, " ABCD EFGH IJKL MNOP "),
        (GMAIL_SMTP, None),
        (CUSTOM_SMTP, "hunter2"),
    ],
)
def test_app_password_format_misses(base: dict[str, Any], password: str | None) -> None:
    assert not with_id(check_server(entry(base, password=password)), "app-password-format")


@pytest.mark.parametrize(
    "settings",
    [
        entry(M365_IMAP, user="support"),
        entry(GMAIL_SMTP, host="smtp.gmail.com", user="support"),
        entry(M365_SMTP, user="support@contoso"),
    ],
)
def test_user_not_address_hits(settings: ServerSettings) -> None:
    (finding,) = with_id(check_server(settings), "user-not-address")
    assert finding.severity is Severity.ERROR


def test_user_not_address_misses() -> None:
    assert not with_id(check_server(entry(M365_IMAP)), "user-not-address")
    assert not with_id(check_server(entry(CUSTOM_IMAP, user="support")), "user-not-address")


def test_provider_found_by_user_domain() -> None:
    settings = entry(GMAIL_IMAP, host="mail.example.org", auth="oauth2")
    assert with_id(check_server(settings), "auth-not-supported-by-provider")


def test_file_imap_without_smtp_hits() -> None:
    findings = check_file([entry(GMAIL_IMAP), entry(CUSTOM_SMTP)])
    (finding,) = with_id(findings, "imap-without-smtp-same-user")
    assert finding.severity is Severity.INFO
    assert finding.server == "gmail-imap"
    assert "another" in finding.message


def test_file_imap_with_smtp_misses() -> None:
    findings = check_file([entry(GMAIL_IMAP), entry(GMAIL_SMTP, user="SUPPORT@gmail.com")])
    assert not with_id(findings, "imap-without-smtp-same-user")


def test_file_duplicate_name_hits() -> None:
    findings = check_file([entry(GMAIL_IMAP), entry(GMAIL_SMTP, name="gmail-imap")])
    (finding,) = with_id(findings, "duplicate-name")
    assert finding.severity is Severity.ERROR


def test_recommended_entries_have_no_errors() -> None:
    findings = check_file([entry(GMAIL_IMAP), entry(GMAIL_SMTP)])
    assert not has_errors(findings)
    assert findings == []


def test_every_id_is_listed() -> None:
    cases = [
        entry(
            GMAIL_SMTP,
            tls=True,
            password="x",
            port=25,
            host="imap.gmail.com",
            user="support",
            storage_folder="A",
        ),
        entry(M365_IMAP, auth="basic", storage_folder="INBOX.A", host="outlook.office.com"),
        entry(CUSTOM_IMAP, port=587, tls=False, storage_folder=None, provider="nope"),
        entry(CUSTOM_SMTP, port=2525),
    ]
    found = {finding.id for finding in check_file([*cases, cases[0]])}
    assert found <= set(FINDING_IDS)


def test_ranked_puts_errors_first() -> None:
    findings = ranked(check_file([entry(GMAIL_IMAP, tls=False, storage_folder="A.B")]))
    severities = [finding.severity for finding in findings]
    assert severities == sorted(
        severities, key=[Severity.ERROR, Severity.WARNING, Severity.INFO].index
    )


def test_findings_never_contain_password() -> None:
    settings = entry(GMAIL_SMTP, password=CANARY, tls=True, port=25)
    for finding in check_file([settings]):
        assert CANARY not in repr(finding)
        assert CANARY not in repr(finding.to_dict())


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_stand_in_skips_recommendation(host: str) -> None:
    findings = check_server(entry(GMAIL_SMTP, host=host, port=10587, provider="gmail"))
    assert not with_id(findings, "not-recommended-host")
    assert not with_id(findings, "not-recommended-port")
