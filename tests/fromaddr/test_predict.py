"""Predictions for the example tenant: the seed scenarios, mixed providers, relays, findings."""

from __future__ import annotations

import pytest

from tests.fromaddr.conftest import EXAMPLE
from toolkit.findings import Severity
from toolkit.fromaddr import build_report
from toolkit.fromaddr.findings import queue_findings
from toolkit.fromaddr.predict import predict_pairing, predict_queues, predict_table
from toolkit.fromaddr.rules import Outcome, Relation
from toolkit.fromaddr.tenant import EnvelopeSender, load_tenant_setup, tenant_setup_from_text

TENANT = load_tenant_setup(EXAMPLE)
HELPDESK = "contoso.helpdesk@gmail.com"

# (IMAP entry, SMTP entry, envelope sender, outcome, From, Sender, reply, rule)
SEEDS = [
    (
        "sales-imap",
        "helpdesk-smtp",
        "from",
        Outcome.REWRITTEN,
        HELPDESK,
        None,
        "",
        "gmail-rewritten",
    ),
    (
        "shop-help-imap",
        "helpdesk-smtp",
        "from",
        Outcome.FROM_A,
        "help@contoso-shop.example",
        None,
        "",
        "gmail-verified-alias",
    ),
    (
        "alice-imap",
        "alice-smtp",
        "from",
        Outcome.FROM_A,
        "alice@contoso.example",
        None,
        "",
        "microsoft365-same-account",
    ),
    (
        "billing-imap",
        "alice-smtp",
        "from",
        Outcome.FROM_A,
        "billing@contoso.example",
        None,
        "",
        "microsoft365-send-as",
    ),
    (
        "billing-imap",
        "bob-smtp",
        "from",
        Outcome.ON_BEHALF,
        "billing@contoso.example",
        "bob@contoso.example",
        "",
        "microsoft365-send-on-behalf",
    ),
    (
        "billing-imap",
        "frank-smtp",
        "from",
        Outcome.FROM_A,
        "billing@contoso.example",
        None,
        "",
        "microsoft365-send-as-wins",
    ),
    (
        "billing-imap",
        "dave-smtp",
        "from",
        Outcome.REJECTED,
        None,
        None,
        "550 5.7.60",
        "microsoft365-denied-at-mail-from",
    ),
    (
        "billing-imap",
        "dave-smtp",
        "login",
        Outcome.REJECTED,
        None,
        None,
        "554 5.2.252",
        "microsoft365-denied-after-data",
    ),
    (
        "support-imap",
        "alice-smtp",
        "from",
        Outcome.FROM_A,
        "support@contoso.example",
        None,
        "",
        "microsoft365-shared-send-as",
    ),
    (
        "sales-imap",
        "alice-smtp",
        "from",
        Outcome.REJECTED,
        None,
        None,
        "550 5.7.60",
        "microsoft365-external-denied-at-mail-from",
    ),
    (
        "sales-imap",
        "alice-smtp",
        "login",
        Outcome.REJECTED,
        None,
        None,
        "554 5.2.252",
        "microsoft365-external-denied-after-data",
    ),
    (
        "alice-imap",
        "helpdesk-smtp",
        "from",
        Outcome.REWRITTEN,
        HELPDESK,
        None,
        "",
        "gmail-rewritten",
    ),
    (
        "billing-imap",
        "office-relay",
        "from",
        Outcome.REJECTED,
        None,
        None,
        "553 5.7.1",
        "relay-envelope-owner-rejected",
    ),
    (
        "billing-imap",
        "office-relay",
        "login",
        Outcome.FROM_A,
        "billing@contoso.example",
        None,
        "",
        "relay-envelope-owner-header-kept",
    ),
]


@pytest.mark.parametrize(
    ("imap", "smtp", "envelope", "outcome", "from_address", "sender", "reply", "rule"), SEEDS
)
def test_seed_scenario(
    imap: str,
    smtp: str,
    envelope: str,
    outcome: Outcome,
    from_address: str | None,
    sender: str | None,
    reply: str,
    rule: str,
) -> None:
    prediction = predict_pairing(TENANT, imap, smtp, EnvelopeSender(envelope))
    assert prediction.rule == rule
    assert prediction.outcome is outcome
    assert prediction.from_address == from_address
    assert prediction.sender_address == sender
    assert prediction.reply == reply
    assert prediction.source


def test_table_matches_pairing_predictions() -> None:
    table = predict_table(TENANT)
    assert len(table.predictions) == len(table.imap) * len(table.smtp) == 5 * 6
    for prediction in table.predictions:
        assert prediction == predict_pairing(TENANT, prediction.imap, prediction.smtp)


def test_send_on_behalf_fix_names_send_as() -> None:
    prediction = predict_pairing(TENANT, "billing-imap", "bob-smtp")
    assert prediction.needs_configuration
    assert prediction.fix.startswith("Grant bob@contoso.example Send As on billing@contoso.example")
    assert prediction.headline == "bob@contoso.example on behalf of billing@contoso.example"


def test_same_account_needs_no_configuration() -> None:
    prediction = predict_pairing(TENANT, "alice-imap", "alice-smtp")
    assert not prediction.needs_configuration
    assert prediction.fix == ""
    assert prediction.relation is Relation.SAME


def test_user_case_does_not_matter() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'user = "billing@contoso.example"', 'user = "Billing@Contoso.Example"'
    )
    tenant = tenant_setup_from_text(text)
    assert predict_pairing(tenant, "billing-imap", "alice-smtp").outcome is Outcome.FROM_A


def test_unknown_server_without_relay_rule() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        '[[permissions.relays]]\nserver = "office-relay"\nrule = "envelope-owner"\n', ""
    )
    tenant = tenant_setup_from_text(text)
    prediction = predict_pairing(tenant, "billing-imap", "office-relay")
    assert prediction.outcome is Outcome.UNKNOWN
    assert "[[permissions.relays]]" in prediction.fix


def test_relay_rule_overrides_provider() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'server = "office-relay"\nrule = "envelope-owner"',
        'server = "office-relay"\nrule = "envelope-owner"\n\n'
        '[[permissions.relays]]\nserver = "dave-smtp"\nrule = "pass-through"',
    )
    tenant = tenant_setup_from_text(text)
    prediction = predict_pairing(tenant, "billing-imap", "dave-smtp")
    assert prediction.rule_set == "pass-through"
    assert prediction.outcome is Outcome.FROM_A


@pytest.mark.parametrize(
    ("rule", "envelope", "outcome"),
    [
        ("header-matches-envelope", "from", Outcome.FROM_A),
        ("header-matches-envelope", "login", Outcome.REJECTED),
        ("login-only", "from", Outcome.REJECTED),
        ("login-only", "login", Outcome.REJECTED),
        ("pass-through", "login", Outcome.FROM_A),
    ],
)
def test_relay_rules(rule: str, envelope: str, outcome: Outcome) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'rule = "envelope-owner"', f'rule = "{rule}"'
    )
    tenant = tenant_setup_from_text(text)
    assert (
        predict_pairing(tenant, "billing-imap", "office-relay", EnvelopeSender(envelope)).outcome
        is outcome
    )


def test_queue_predictions_use_queue_envelope() -> None:
    by_queue = dict(predict_queues(TENANT))
    assert by_queue["m365-neither"].reply == "550 5.7.60"
    assert by_queue["m365-neither-login-envelope"].reply == "554 5.2.252"


def test_queue_findings_ids() -> None:
    findings = queue_findings(predict_queues(TENANT))
    ids = {(finding.id, finding.server) for finding in findings}
    assert ("reply-from-other-account", "sales-imap") in ids
    assert ("reply-on-behalf", "billing-imap") in ids
    assert ("reply-rejected", "billing-imap") in ids
    assert ("reply-relies-on-permission", "support-imap") in ids
    same_account = [f for f in findings if "'m365-same-account'" in f.message]
    assert same_account == []


def test_rejected_finding_is_error_with_fix() -> None:
    findings = queue_findings(predict_queues(TENANT))
    rejected = next(f for f in findings if "'m365-neither'" in f.message)
    assert rejected.id == "reply-rejected"
    assert rejected.severity is Severity.ERROR
    assert "550 5.7.60 at MAIL FROM" in rejected.message
    assert rejected.fix.startswith("Grant dave@contoso.example Send As")
    assert rejected.field == "queue.smtp"


def test_build_report_without_verify_sends_nothing() -> None:
    report = build_report(TENANT)
    assert report.verification is None
    assert report.findings[0].severity is Severity.ERROR
    assert len(report.queue_predictions) == 13


def _server(name: str, protocol: str, user: str) -> str:
    host, port, tls = (("imap.gmail.com", 993, "true") if protocol == "imap"
                       else ("smtp.gmail.com", 587, "false"))
    folder = 'storage_folder = "Support"\n' if protocol == "imap" else ""
    return (f'[[server]]\nname = "{name}"\nprotocol = "{protocol}"\nhost = "{host}"\n'
            f'port = {port}\ntls = {tls}\nauth = "basic"\nuser = "{user}"\n{folder}\n')


def test_one_smtp_for_all_queues_replies_from_it() -> None:
    text = (
        _server("a-imap", "imap", "testa@gmail.com")
        + _server("c-imap", "imap", "testc@gmail.com")
        + _server("all-smtp", "smtp", "allreplies@gmail.com")
        + '[[queue]]\nname = "a"\nimap = ["a-imap"]\nsmtp = "all-smtp"\n'
        + '[[queue]]\nname = "c"\nimap = ["c-imap"]\nsmtp = "all-smtp"\n'
    )
    predictions = dict(predict_queues(tenant_setup_from_text(text)))
    assert {queue: p.outcome for queue, p in predictions.items()} == {
        "a": Outcome.REWRITTEN,
        "c": Outcome.REWRITTEN,
    }
    assert {p.from_address for p in predictions.values()} == {"allreplies@gmail.com"}


def test_own_smtp_per_queue_replies_from_own_address() -> None:
    text = (
        _server("a-imap", "imap", "testa@gmail.com")
        + _server("a-smtp", "smtp", "testa@gmail.com")
        + _server("c-imap", "imap", "testc@gmail.com")
        + _server("c-smtp", "smtp", "testc@gmail.com")
        + '[[queue]]\nname = "a"\nimap = ["a-imap"]\nsmtp = "a-smtp"\n'
        + '[[queue]]\nname = "c"\nimap = ["c-imap"]\nsmtp = "c-smtp"\n'
    )
    predictions = dict(predict_queues(tenant_setup_from_text(text)))
    assert predictions["a"].outcome is Outcome.FROM_A
    assert predictions["a"].from_address == "testa@gmail.com"
    assert predictions["c"].outcome is Outcome.FROM_A
    assert predictions["c"].from_address == "testc@gmail.com"
