"""The rules file: every rule has a source, and every pairing finds exactly one first rule."""

from __future__ import annotations

import itertools

import pytest

from toolkit.fromaddr.rules import Outcome, Relation, find_rule, from_rules, relay_rules
from toolkit.fromaddr.tenant import RelayRule

# The relations that `relation_of` returns under each rule set.
RELATIONS = {
    "gmail": (Relation.SAME, Relation.ALIAS, Relation.NONE),
    "microsoft365": (
        Relation.SAME,
        Relation.SEND_AS,
        Relation.SEND_ON_BEHALF,
        Relation.SEND_AS_AND_ON_BEHALF,
        Relation.EXTERNAL,
        Relation.NONE,
    ),
    **{
        rule_set: (Relation.SAME, Relation.NONE)
        for rule_set in ("unknown", *(rule.value for rule in RelayRule))
    },
}


def test_every_rule_has_source_and_explanation() -> None:
    for rule in from_rules():
        assert rule.source, rule.id
        assert rule.explanation, rule.id


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in from_rules()]
    assert len(ids) == len(set(ids))


def test_relay_rules_match_tenant_enum() -> None:
    assert set(relay_rules()) == {rule.value for rule in RelayRule}
    assert all(info.source for info in relay_rules().values())


@pytest.mark.parametrize(
    ("rule_set", "relation", "envelope", "shared"),
    [
        (rule_set, relation, envelope, shared)
        for rule_set, relations in RELATIONS.items()
        for relation, envelope, shared in itertools.product(
            relations, ("from", "login"), (False, True)
        )
    ],
)
def test_every_pairing_has_a_rule(
    rule_set: str, relation: Relation, envelope: str, shared: bool
) -> None:
    rule = find_rule(rule_set, relation, envelope, shared)
    assert rule_set in rule.rule_sets


def test_rules_that_keep_a_name_a_from() -> None:
    for rule in from_rules():
        if rule.outcome in (Outcome.FROM_A, Outcome.ON_BEHALF):
            assert rule.from_party == "A", rule.id
        if rule.outcome is Outcome.REWRITTEN:
            assert rule.from_party == "B", rule.id
        if rule.outcome in (Outcome.REJECTED, Outcome.UNKNOWN):
            assert rule.from_party == "", rule.id
            assert rule.fix, rule.id


def test_send_as_wins_cites_microsoft() -> None:
    rule = find_rule("microsoft365", Relation.SEND_AS_AND_ON_BEHALF, "from", False)
    assert rule.id == "microsoft365-send-as-wins"
    assert rule.outcome is Outcome.FROM_A
    assert "Send As permission is always used" in rule.source
    assert "Manage permissions for recipients in Exchange Online" in rule.source


def test_microsoft_rejection_depends_on_envelope() -> None:
    at_mail_from = find_rule("microsoft365", Relation.NONE, "from", False)
    after_data = find_rule("microsoft365", Relation.NONE, "login", False)
    assert (at_mail_from.reply, at_mail_from.stage) == ("550 5.7.60", "MAIL FROM")
    assert (after_data.reply, after_data.stage) == ("554 5.2.252", "DATA")


def test_shared_mailbox_rule_only_for_shared() -> None:
    assert find_rule("microsoft365", Relation.SEND_AS, "from", True).id == (
        "microsoft365-shared-send-as"
    )
    assert find_rule("microsoft365", Relation.SEND_AS, "from", False).id == ("microsoft365-send-as")
