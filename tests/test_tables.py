"""Pandas tables of findings, field errors and server entries."""

from __future__ import annotations

from typing import Any

from toolkit.findings import Finding, Severity
from toolkit.settings import FieldError, ServerSettings, build_settings
from toolkit.tables import (
    FINDING_COLUMNS,
    SEVERITY_COLOURS,
    field_errors_frame,
    field_errors_styler,
    findings_frame,
    findings_styler,
    settings_frame,
)

CANARY = "canary-Pa55word-7f3e"

IMAP_ENTRY: dict[str, Any] = {
    "name": "support-imap",
    "protocol": "imap",
    "host": "imap.example.com",
    "port": 993,
    "tls": True,
    "auth": "basic",
    "user": "support@example.com",
    "storage_folder": "Support",
    "password_env": "SUPPORT_PASSWORD",
}
SMTP_ENTRY: dict[str, Any] = {
    "name": "support-smtp",
    "protocol": "smtp",
    "host": "smtp.example.com",
    "port": 587,
    "tls": False,
    "auth": "oauth2",
    "user": "support@example.com",
    "token_env": "SUPPORT_TOKEN",
    "oauth": {
        "authority": "https://127.0.0.1:8443/tenant-id",
        "client_id": "client-id",
        "scopes": ["https://outlook.office.com/SMTP.Send", "offline_access"],
    },
}


def make_finding(finding_id: str, severity: Severity, message: str = "Message.") -> Finding:
    return Finding(finding_id, severity, "port", message, "Fix.", "support-imap")


FINDINGS = [
    make_finding("info-one", Severity.INFO),
    make_finding("warning-one", Severity.WARNING),
    make_finding("error-one", Severity.ERROR),
    make_finding("error-two", Severity.ERROR),
]


def with_canary(entry: dict[str, Any]) -> ServerSettings:
    return build_settings(entry, password=CANARY, token=CANARY)


def test_findings_frame_columns_in_order() -> None:
    frame = findings_frame(FINDINGS)
    assert list(frame.columns) == list(FINDING_COLUMNS)
    assert list(frame.columns) == ["severity", "server", "field", "id", "message", "fix"]


def test_findings_frame_errors_first() -> None:
    frame = findings_frame(FINDINGS)
    assert list(frame["id"]) == ["error-one", "error-two", "warning-one", "info-one"]
    assert list(frame["severity"]) == ["error", "error", "warning", "info"]


def test_findings_frame_empty_keeps_columns() -> None:
    frame = findings_frame([])
    assert frame.empty
    assert list(frame.columns) == list(FINDING_COLUMNS)


def test_findings_styler_colours_rows_by_severity() -> None:
    html = findings_styler(FINDINGS).to_html()
    for colour in SEVERITY_COLOURS.values():
        assert f"background-color: {colour}" in html
    assert SEVERITY_COLOURS[Severity.ERROR] != SEVERITY_COLOURS[Severity.WARNING]
    assert SEVERITY_COLOURS[Severity.WARNING] != SEVERITY_COLOURS[Severity.INFO]


def test_findings_styler_caption_counts() -> None:
    html = findings_styler(FINDINGS).to_html()
    assert "4 findings: 2 errors, 1 warning, 1 info" in html


def test_findings_styler_empty_says_no_findings() -> None:
    html = findings_styler([]).to_html()
    assert "No findings" in html


def test_findings_styler_escapes_html() -> None:
    finding = make_finding("html-in-message", Severity.ERROR, "Host <b>x</b> & 'y'.")
    html = findings_styler([finding]).to_html()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt; &amp;" in html


def test_field_errors_frame_rows() -> None:
    errors = [
        FieldError("port", "'abc'", "is not a number", "enter a whole number"),
        FieldError("host", "'imap example.com'", "contains a space", "remove the space"),
    ]
    frame = field_errors_frame(errors)
    assert list(frame.columns) == ["field", "value", "problem", "fix"]
    assert list(frame["field"]) == ["port", "host"]
    assert list(frame["problem"]) == ["is not a number", "contains a space"]


def test_field_errors_styler_escapes_and_counts() -> None:
    errors = [FieldError("oauth.authority", "''", "is missing", "use https://host/<tenant>")]
    html = field_errors_styler(errors).to_html()
    assert "1 field needs a fix" in html
    assert "&lt;tenant&gt;" in html
    assert "<tenant>" not in html
    assert SEVERITY_COLOURS[Severity.ERROR] in html


def test_settings_frame_one_row_per_entry() -> None:
    frame = settings_frame([with_canary(IMAP_ENTRY), with_canary(SMTP_ENTRY)])
    assert list(frame["name"]) == ["support-imap", "support-smtp"]
    assert list(frame["port"]) == [993, 587]
    assert list(frame["tls"]) == [True, False]
    assert frame.loc[0, "storage_folder"] == "Support"
    assert frame.loc[0, "password_env"] == "SUPPORT_PASSWORD"
    assert frame.loc[1, "token_env"] == "SUPPORT_TOKEN"


def test_settings_frame_flattens_oauth() -> None:
    frame = settings_frame([with_canary(SMTP_ENTRY)])
    assert frame.loc[0, "oauth.client_id"] == "client-id"
    assert frame.loc[0, "oauth.authority"] == "https://127.0.0.1:8443/tenant-id"
    assert frame.loc[0, "oauth.scopes"] == "https://outlook.office.com/SMTP.Send offline_access"


def test_settings_frame_drops_unused_optional_columns() -> None:
    frame = settings_frame([build_settings({**SMTP_ENTRY, "oauth": None, "token_env": None})])
    assert list(frame.columns) == ["name", "protocol", "host", "port", "tls", "auth", "user"]


def test_settings_frame_has_no_secret() -> None:
    frame = settings_frame([with_canary(IMAP_ENTRY), with_canary(SMTP_ENTRY)])
    assert not {"password", "token"} & set(frame.columns)
    assert CANARY not in frame.to_string()
    assert CANARY not in frame.to_html()
    assert CANARY not in frame.to_json()
    assert CANARY not in frame.to_csv()


def test_settings_frame_empty_keeps_required_columns() -> None:
    frame = settings_frame([])
    assert frame.empty
    assert list(frame.columns) == ["name", "protocol", "host", "port", "tls", "auth", "user"]
