"""The From-address rules of ``data/from_rules.toml`` as typed objects.

The rules are data with a source each. This module reads them, checks their
shape once, and finds the first rule that matches a pairing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from toolkit.data import load_data

RULES_FILE = "from_rules.toml"


class Outcome(StrEnum):
    """What the recipient of a reply sees, in the colour groups of the table."""

    FROM_A = "from-a"  # From is the IMAP account's address A, with no Sender
    ON_BEHALF = "on-behalf"  # From is A and Sender is the SMTP login B
    REWRITTEN = "rewritten"  # From is the SMTP login B
    REJECTED = "rejected"  # the SMTP server rejects the reply
    UNKNOWN = "unknown"  # no rule describes what the SMTP server does


class Relation(StrEnum):
    """The relation between the IMAP account's address A and the SMTP login B."""

    SAME = "same"
    ALIAS = "alias"
    SEND_AS = "send-as"
    SEND_ON_BEHALF = "send-on-behalf"
    SEND_AS_AND_ON_BEHALF = "send-as-and-on-behalf"
    EXTERNAL = "external"
    NONE = "none"


# Rule conditions that match a group of relations.
_RELATION_GROUPS = {
    "any": frozenset(Relation),
    "other": frozenset(Relation) - {Relation.SAME},
}
_ENVELOPES = ("from", "login", "any")
_PARTIES = ("A", "B", "")


@dataclass(frozen=True)
class RelayRuleInfo:
    """A relay sender rule that a tenant file may declare, with its label and source."""

    key: str
    label: str
    source: str


@dataclass(frozen=True)
class FromRule:
    """One row of the rules file: conditions, what arrives, and the fix, with the source.

    `rule_sets` lists the SMTP rule sets the rule applies to. `relations` lists the
    relations of A to B it matches. `envelope` is ``from``, ``login`` or ``any``.
    `shared_only` restricts the rule to a shared mailbox A. `from_party` and
    `sender_party` are ``"A"``, ``"B"`` or ``""``. Texts may contain ``{a}``,
    ``{b}``, ``{smtp}`` and ``{imap}``.
    """

    id: str
    rule_sets: frozenset[str]
    relations: frozenset[Relation]
    envelope: str
    shared_only: bool
    outcome: Outcome
    from_party: str
    sender_party: str
    reply: str
    stage: str
    configuration: str
    fix: str
    explanation: str
    source: str
    note: str

    def matches(self, rule_set: str, relation: Relation, envelope: str, shared: bool) -> bool:
        """Return whether the rule applies to a pairing with these properties."""
        return (
            rule_set in self.rule_sets
            and relation in self.relations
            and self.envelope in ("any", envelope)
            and (shared or not self.shared_only)
        )


@cache
def from_rules() -> tuple[FromRule, ...]:
    """Return the rules in file order. Raises ValueError naming a malformed rule."""
    data = load_data(RULES_FILE)
    known_sets = {"gmail", "microsoft365", "unknown", *data.get("relay_rule", {})}
    return tuple(_rule(raw, known_sets) for raw in data["rule"])


@cache
def relay_rules() -> dict[str, RelayRuleInfo]:
    """Return the relay rules a tenant file may declare, by key."""
    raw = load_data(RULES_FILE).get("relay_rule", {})
    return {key: RelayRuleInfo(key, value["label"], value["source"]) for key, value in raw.items()}


def find_rule(rule_set: str, relation: Relation, envelope: str, shared: bool) -> FromRule:
    """Return the first rule that matches. Raises LookupError when none does."""
    for rule in from_rules():
        if rule.matches(rule_set, relation, envelope, shared):
            return rule
    raise LookupError(
        f"no From-address rule for rule set {rule_set!r}, relation {relation.value!r}, "
        f"envelope sender {envelope!r}; add one to data/{RULES_FILE}"
    )


def _rule(raw: dict[str, Any], known_sets: set[str]) -> FromRule:
    rule_id = str(raw.get("id", "?"))
    rule_sets = frozenset(_strings(raw.get("smtp")))
    relations = _relations(_strings(raw.get("relation", "any")), rule_id)
    envelope = raw.get("envelope", "any")
    problems = []
    if not rule_sets or not rule_sets <= known_sets:
        problems.append(f"smtp {sorted(rule_sets)} is not among {sorted(known_sets)}")
    if envelope not in _ENVELOPES:
        problems.append(f"envelope {envelope!r} is not one of {_ENVELOPES}")
    if raw.get("from", "") not in _PARTIES or raw.get("sender", "") not in _PARTIES:
        problems.append("from and sender must be 'A', 'B' or ''")
    if raw.get("mailbox", "any") not in ("any", "shared"):
        problems.append("mailbox must be 'any' or 'shared'")
    if not raw.get("source"):
        problems.append("the source is missing")
    if problems:
        raise ValueError(f"rule {rule_id!r} in data/{RULES_FILE}: " + "; ".join(problems))
    return FromRule(
        id=rule_id,
        rule_sets=rule_sets,
        relations=relations,
        envelope=envelope,
        shared_only=raw.get("mailbox", "any") == "shared",
        outcome=Outcome(raw["outcome"]),
        from_party=raw.get("from", ""),
        sender_party=raw.get("sender", ""),
        reply=raw.get("reply", ""),
        stage=raw.get("stage", ""),
        configuration=raw.get("configuration", ""),
        fix=raw.get("fix", ""),
        explanation=raw["explanation"],
        source=raw["source"],
        note=raw.get("note", ""),
    )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _relations(values: Iterable[str], rule_id: str) -> frozenset[Relation]:
    relations: set[Relation] = set()
    for value in values:
        if value in _RELATION_GROUPS:
            relations |= _RELATION_GROUPS[value]
            continue
        try:
            relations.add(Relation(value))
        except ValueError:
            raise ValueError(
                f"rule {rule_id!r} in data/{RULES_FILE}: relation {value!r} is not known"
            ) from None
    return frozenset(relations)
