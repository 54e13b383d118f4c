"""Predict the From and Sender a reply arrives with, for every IMAP and SMTP pairing.

A pairing is an IMAP entry, whose account address A the reply is written from,
and an SMTP entry, whose login B sends it. The SMTP side decides what leaves:
its rule set (Gmail, Microsoft 365, a declared relay rule, or unknown) and the
permissions between A and B select one rule of ``data/from_rules.toml``. The
functions here are pure: no I/O, and the sandbox is never consulted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from toolkit.fromaddr.rules import FromRule, Outcome, Relation, find_rule
from toolkit.fromaddr.tenant import EnvelopeSender, Permissions, TenantSetup, mailbox_address
from toolkit.providers import identify_provider
from toolkit.settings import ServerSettings

UNKNOWN_RULE_SET = "unknown"
# The providers that have their own rules in the rules file.
_PROVIDER_RULE_SETS = ("gmail", "microsoft365")


@dataclass(frozen=True)
class Prediction:
    """The predicted result of replying from the IMAP account A through the SMTP entry B.

    `from_address` and `sender_address` are what the recipient's copy carries (None
    for a header that is absent, and both None when the reply is rejected or the
    outcome is unknown). `reply` is the start of the expected rejection reply, such
    as ``550 5.7.60``, and `stage` the SMTP command that gets it. `configuration`
    is the provider configuration that the outcome relies on, and `fix` the change
    that makes the reply come from A. Both are empty when not needed.
    """

    imap: str
    smtp: str
    address: str
    login: str
    envelope_sender: EnvelopeSender
    rule_set: str
    relation: Relation
    outcome: Outcome
    from_address: str | None
    sender_address: str | None
    reply: str
    stage: str
    configuration: str
    fix: str
    explanation: str
    rule: str
    source: str
    note: str

    @property
    def needs_configuration(self) -> bool:
        """True when the outcome relies on a permission or alias set up at the provider."""
        return bool(self.configuration)

    @property
    def headline(self) -> str:
        """A short text for a table cell, such as ``bob@x on behalf of a@x``."""
        if self.outcome is Outcome.REJECTED:
            return f"rejected {self.reply}".strip()
        if self.outcome is Outcome.UNKNOWN:
            return "unknown"
        if self.outcome is Outcome.ON_BEHALF:
            return f"{self.sender_address} on behalf of {self.from_address}"
        return str(self.from_address)

    def to_dict(self) -> dict[str, object]:
        """Return the prediction as plain data for JSON and tables."""
        data = asdict(self)
        data["envelope_sender"] = self.envelope_sender.value
        data["relation"] = self.relation.value
        data["outcome"] = self.outcome.value
        data["needs_configuration"] = self.needs_configuration
        return data


@dataclass(frozen=True)
class FromTable:
    """The predictions of every IMAP row and SMTP column, with the envelope sender they assume."""

    imap: tuple[str, ...]
    smtp: tuple[str, ...]
    predictions: tuple[Prediction, ...]
    envelope_sender: EnvelopeSender

    def cell(self, imap: str, smtp: str) -> Prediction:
        """Return the prediction of one pairing. Raises KeyError for an unknown pairing."""
        for prediction in self.predictions:
            if prediction.imap == imap and prediction.smtp == smtp:
                return prediction
        raise KeyError(f"no pairing of IMAP entry {imap!r} with SMTP entry {smtp!r}")


def rule_set_of(server: ServerSettings, permissions: Permissions) -> str:
    """Return the SMTP rule set of an entry: its declared relay rule, else its provider."""
    relay = permissions.relay_rule(server.name)
    if relay is not None:
        return relay.value
    provider = identify_provider(server)
    if provider is not None and provider.key in _PROVIDER_RULE_SETS:
        return provider.key
    return UNKNOWN_RULE_SET


def relation_of(
    rule_set: str, imap: ServerSettings, login: str, permissions: Permissions
) -> Relation:
    """Return how the IMAP account's address relates to the SMTP login under a rule set."""
    address = mailbox_address(imap)
    if address == login:
        return Relation.SAME
    if rule_set == "gmail":
        return Relation.ALIAS if permissions.is_gmail_alias(login, address) else Relation.NONE
    if rule_set != "microsoft365":
        return Relation.NONE
    send_as = permissions.has_send_as(login, address)
    on_behalf = permissions.has_send_on_behalf(login, address)
    if send_as and on_behalf:
        return Relation.SEND_AS_AND_ON_BEHALF
    if send_as:
        return Relation.SEND_AS
    if on_behalf:
        return Relation.SEND_ON_BEHALF
    imap_provider = identify_provider(imap)
    if imap_provider is not None and imap_provider.key != "microsoft365":
        return Relation.EXTERNAL
    return Relation.NONE


def predict_pairing(
    tenant: TenantSetup, imap_name: str, smtp_name: str, envelope: EnvelopeSender | None = None
) -> Prediction:
    """Predict one pairing. `envelope` defaults to the tenant's envelope sender.

    Raises KeyError for an unknown entry name.
    """
    imap = tenant.server(imap_name)
    smtp = tenant.server(smtp_name)
    envelope = envelope or tenant.envelope_sender
    address = mailbox_address(imap)
    login = mailbox_address(smtp)
    rule_set = rule_set_of(smtp, tenant.permissions)
    relation = relation_of(rule_set, imap, login, tenant.permissions)
    shared = tenant.permissions.is_shared(address)
    rule = find_rule(rule_set, relation, envelope.value, shared)
    return _prediction(rule, imap, smtp, address, login, envelope, rule_set, relation)


def predict_table(tenant: TenantSetup) -> FromTable:
    """Predict every pairing of the table's IMAP rows and SMTP columns."""
    rows = tuple(server.name for server in tenant.table_imap)
    columns = tuple(server.name for server in tenant.table_smtp)
    predictions = tuple(predict_pairing(tenant, imap, smtp) for imap in rows for smtp in columns)
    return FromTable(rows, columns, predictions, tenant.envelope_sender)


def predict_queues(tenant: TenantSetup) -> list[tuple[str, Prediction]]:
    """Predict each queue's pairings with the queue's envelope sender: (queue name, prediction)."""
    return [
        (queue.name, predict_pairing(tenant, imap, queue.smtp, tenant.envelope_for(queue)))
        for queue in tenant.queues
        for imap in queue.imap
    ]


def _prediction(
    rule: FromRule,
    imap: ServerSettings,
    smtp: ServerSettings,
    address: str,
    login: str,
    envelope: EnvelopeSender,
    rule_set: str,
    relation: Relation,
) -> Prediction:
    values = {"{a}": address, "{b}": login, "{smtp}": smtp.name, "{imap}": imap.name}

    def fill(text: str) -> str:
        # Plain replacement, not str.format: entry names are free text.
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    parties = {"A": address, "B": login, "": None}
    return Prediction(
        imap=imap.name,
        smtp=smtp.name,
        address=address,
        login=login,
        envelope_sender=envelope,
        rule_set=rule_set,
        relation=relation,
        outcome=rule.outcome,
        from_address=parties[rule.from_party],
        sender_address=parties[rule.sender_party],
        reply=rule.reply,
        stage=rule.stage,
        configuration=fill(rule.configuration),
        fix=fill(rule.fix),
        explanation=fill(rule.explanation),
        rule=rule.id,
        source=rule.source,
        note=fill(rule.note),
    )
