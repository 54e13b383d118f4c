"""Reports in every format: their content, their schema, and no trace of a password or token."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from tests.login.canary import assert_absent
from tests.triage.conftest import FAST
from toolkit.reports import (
    SCHEMA,
    ReportError,
    format_for,
    load_report,
    render_html,
    render_markdown,
    write_report,
)
from toolkit.settings import ServerSettings
from toolkit.triage import StepKey, TriageResult, run_triage

PASSWORD_CANARY = "canary-Pa55word-7f3e-triage"
TOKEN_CANARY = "canary-T0ken-91c2-triage-xoauth2"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def password_case(entries: dict[str, ServerSettings]) -> TriageResult:
    """A triage whose IMAP and SMTP entries carry the password canary; the server rejects it."""
    imap = entries["dana-dovecot-imap"].with_secrets(password=PASSWORD_CANARY)
    smtp = entries["dana-dovecot-smtp"].with_secrets(password=PASSWORD_CANARY)
    return run_triage(imap, [smtp], servers=list(entries.values()), probe_timeouts=FAST)


@pytest.fixture(scope="module")
def token_case(entries: dict[str, ServerSettings]) -> TriageResult:
    """A triage of OAuth2 entries whose token is the canary, sent inside XOAUTH2 strings."""
    imap = entries["alice-m365-imap"].with_secrets(token=TOKEN_CANARY)
    smtp = entries["alice-m365-smtp"].with_secrets(token=TOKEN_CANARY)
    return run_triage(imap, [smtp], servers=list(entries.values()), probe_timeouts=FAST)


def written(result: TriageResult, folder: Path) -> dict[str, str]:
    texts = {}
    for report_format in ("html", "md", "json"):
        path = write_report(result, folder / f"report.{report_format}")
        texts[report_format] = path.read_text(encoding="utf-8")
    return texts


def test_password_canary_absent_from_every_format(
    password_case: TriageResult, tmp_path: Path
) -> None:
    # The canary was sent: the login step ran and the server rejected it.
    login = password_case.step(StepKey.IMAP_LOGIN).data["entries"][0]["login"]
    assert login["credentials_sent"] is True

    texts = written(password_case, tmp_path)
    for report_format, text in texts.items():
        assert_absent(PASSWORD_CANARY, [text], user="dana@dovecot.sandbox.test")
        assert "[password redacted]" in text or "redacted" in text, report_format


def test_token_canary_absent_from_every_format(token_case: TriageResult, tmp_path: Path) -> None:
    login = token_case.step(StepKey.IMAP_LOGIN).data["entries"][0]["login"]
    assert login["mechanism"] == "XOAUTH2"
    assert login["credentials_sent"] is True

    texts = written(token_case, tmp_path)
    for text in texts.values():
        assert_absent(TOKEN_CANARY, [text], user="alice@m365.sandbox.test")


def test_canaries_absent_from_repr_and_logs(
    entries: dict[str, ServerSettings], caplog: pytest.LogCaptureFixture
) -> None:
    imap = entries["dana-dovecot-imap"].with_secrets(password=PASSWORD_CANARY)
    with caplog.at_level(logging.DEBUG):
        result = run_triage(imap, servers=list(entries.values()), probe_timeouts=FAST)

    assert_absent(PASSWORD_CANARY, [repr(result), caplog.text], user="dana@dovecot.sandbox.test")


def test_json_report_has_schema_and_steps(password_case: TriageResult, tmp_path: Path) -> None:
    path = write_report(password_case, tmp_path / "case.json")
    document = json.loads(path.read_text(encoding="utf-8"))

    assert document["schema"] == SCHEMA == "maildiag-triage/1"
    assert [step["number"] for step in document["steps"]] == [1, 2, 3, 4, 5, 6, 7]
    assert document["findings"][0]["id"] == "login-rejected"
    assert document["findings"][0]["step"] == 4
    assert document["counts"]["error"] >= 1
    assert "password" not in document["entries"][0]


def test_schema_document_names_every_key(password_case: TriageResult, tmp_path: Path) -> None:
    document = load_report(write_report(password_case, tmp_path / "case.json"))
    schema_text = (REPO / "docs" / "report-schema.md").read_text(encoding="utf-8")

    step_keys = set().union(*(step.keys() for step in document["steps"]))
    for key in [*document, *step_keys]:
        assert f"`{key}`" in schema_text, key


def test_html_report_is_self_contained(password_case: TriageResult) -> None:
    page = render_html(password_case)

    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    for forbidden in ("<script", "<link", "src=", "href=", "@import", "url("):
        assert forbidden not in page.lower(), forbidden
    assert "login-rejected" in page
    assert "Fix" in page or "fix" in page


def test_html_report_escapes_server_text(password_case: TriageResult) -> None:
    page = render_html(password_case)

    # Server replies quote brackets and user input; no tag may come from them.
    tags = set(re.findall(r"<([a-z0-9]+)", page))
    allowed = {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "table",
        "tr", "th", "td", "code", "pre", "details", "summary",
    }
    assert tags <= allowed


def test_markdown_report_lists_steps_and_fix_first(password_case: TriageResult) -> None:
    text = render_markdown(password_case)

    assert text.startswith("# Ticket triage of dana-dovecot-imap with dana-dovecot-smtp")
    assert "| 4 | IMAP login | failed |" in text
    first = text.index("`login-rejected`")
    assert text.index("**Fix:**", first) < text.index("**Why:**", first)
    assert "```text" in text


def test_format_for_reads_suffix_and_override() -> None:
    assert format_for("case.HTML") == "html"
    assert format_for("case.md") == "md"
    assert format_for("case.txt", "json") == "json"
    with pytest.raises(ValueError, match="suffix"):
        format_for("case.txt")
    with pytest.raises(ValueError, match="unknown report format"):
        format_for("case.html", "pdf")


def test_load_report_rejects_other_schema(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"schema": "maildiag-triage/9"}), encoding="utf-8")

    with pytest.raises(ReportError, match="maildiag-triage/9"):
        load_report(path)


def test_load_report_rejects_non_json(tmp_path: Path) -> None:
    path = tmp_path / "case.html"
    path.write_text("<html></html>", encoding="utf-8")

    with pytest.raises(ReportError, match="not JSON"):
        load_report(path)
