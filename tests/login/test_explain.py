"""The reply explainer: every entry of data/replies.toml, each pattern, and the table's rules."""

from __future__ import annotations

import pytest

from toolkit import explain as explain_module
from toolkit.explain import explain, explain_findings, explanation_finding, explanations
from toolkit.findings import Severity

ENTRIES = explanations()


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.id for entry in ENTRIES])
def test_entry_examples_match_only_it(entry: explain_module.Explanation) -> None:
    for example in entry.examples:
        assert [found.id for found in explain(example)] == [entry.id], example


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.id for entry in ENTRIES])
def test_entry_patterns_each_tested(entry: explain_module.Explanation) -> None:
    for pattern in entry.patterns:
        assert any(pattern.search(example) for example in entry.examples), pattern.pattern


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry.id for entry in ENTRIES])
def test_entry_has_source_causes_and_checks(entry: explain_module.Explanation) -> None:
    assert entry.source
    assert entry.causes
    assert all(cause.cause and cause.check for cause in entry.causes)
    assert entry.fix


def test_authenticate_failed_causes_in_order() -> None:
    (entry,) = explain("A01 NO AUTHENTICATE failed.")
    causes = [cause.cause for cause in entry.causes]
    assert "Microsoft Graph" in causes[0]
    assert "licence" in causes[1]
    assert "Add-MailboxPermission" in entry.causes[2].check
    assert "another user" in causes[3]


def test_protocol_filter_keeps_any_entries() -> None:
    gmail = "534-5.7.9 Application-specific password required."
    assert [entry.id for entry in explain(gmail, protocol="imap")] == [
        "gmail-app-password-required"
    ]
    assert explain("NO AUTHENTICATE failed.", protocol="smtp") == []


def test_fallback_only_without_specific_match() -> None:
    assert [e.id for e in explain("535 5.7.8 Error: authentication failed")] == [
        "smtp-credentials-invalid"
    ]
    gmail = "535-5.7.8 Username and Password not accepted. Learn more at"
    assert [e.id for e in explain(gmail)] == ["gmail-bad-credentials"]


def test_unknown_text_has_no_explanation() -> None:
    assert explain("250 OK") == []
    assert explain("") == []


def test_finding_carries_id_causes_and_fix() -> None:
    (entry,) = explain("535 5.7.139 Authentication unsuccessful, basic authentication is disabled.")
    finding = explanation_finding(entry, server="alice-smtp")
    assert finding.id == "m365-smtp-basic-auth-disabled"
    assert finding.severity is Severity.ERROR
    assert "Likely causes" in finding.message
    assert finding.fix == entry.fix
    assert finding.server == "alice-smtp"


def test_explain_findings_no_repeats() -> None:
    findings = explain_findings(["NO LOGIN failed.", "A2 NO LOGIN failed."])
    assert [finding.id for finding in findings] == ["m365-login-failed"]


def test_table_with_duplicate_id_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = explain_module.load_data("replies.toml")
    doubled = {"reply": [raw["reply"][0], raw["reply"][0]]}
    monkeypatch.setattr(explain_module, "load_data", lambda name: doubled)
    explain_module.explanations.cache_clear()
    try:
        with pytest.raises(ValueError, match="appears twice"):
            explain_module.explanations()
    finally:
        monkeypatch.undo()
        explain_module.explanations.cache_clear()


def test_table_with_bad_pattern_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = dict(explain_module.load_data("replies.toml")["reply"][0])
    raw["patterns"] = ["(unclosed"]
    monkeypatch.setattr(explain_module, "load_data", lambda name: {"reply": [raw]})
    explain_module.explanations.cache_clear()
    try:
        with pytest.raises(ValueError, match="does not compile"):
            explain_module.explanations()
    finally:
        monkeypatch.undo()
        explain_module.explanations.cache_clear()
