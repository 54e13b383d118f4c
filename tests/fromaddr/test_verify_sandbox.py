"""The empirical check on the sandbox: what arrives equals the prediction, and nothing is left."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import default

import pytest
from imapclient.imapclient import SENT

from toolkit.fromaddr import FromReport, VerifyError, build_report
from toolkit.fromaddr.clients import close_imap, delete_by_uid, open_imap
from toolkit.fromaddr.mailbox import ObserverMailbox
from toolkit.fromaddr.observed import Delivery, Observation
from toolkit.fromaddr.predict import predict_pairing
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.sandbox_scenarios import SHARED_IMAP_ENTRY
from toolkit.fromaddr.tenant import EnvelopeSender, TenantSetup, load_tenant_setup
from toolkit.fromaddr.verify import (
    SUBJECT_PREFIX,
    VerifyOptions,
    build_test_message,
    new_message_id,
    verify_predictions,
)
from toolkit.sandbox import Sandbox
from toolkit.settings import Protocol

FAST = VerifyOptions(timeout=5, delivery_wait=5, poll_interval=0.1)
Snapshot = dict[tuple[str, str], list[bytes]]
Checked = tuple[FromReport, Snapshot, Snapshot]


def folder_contents(setup: TenantSetup, entry: str, sent: bool) -> list[bytes]:
    """Return the header blocks of every message in an entry's INBOX or sent folder."""
    client = open_imap(setup.server(entry), timeout=5)
    try:
        folder = client.find_special_folder(SENT) if sent else "INBOX"
        if folder is None:
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER]"]) if uids else {}
        return sorted(data[b"BODY[HEADER]"] for data in fetched.values())
    finally:
        close_imap(client)


def snapshot(setup: TenantSetup) -> Snapshot:
    """Return the INBOX and sent folder of every IMAP entry that logs in as its own user."""
    entries = [
        server.name
        for server in setup.servers
        if server.protocol is Protocol.IMAP and server.name != SHARED_IMAP_ENTRY
    ]
    return {
        (entry, folder): folder_contents(setup, entry, folder == "sent")
        for entry in entries
        for folder in ("inbox", "sent")
    }


@pytest.fixture(scope="module")
def checked(scenario_setup: TenantSetup) -> Iterator[tuple[FromReport, Snapshot, Snapshot]]:
    """Run the full check once for the module, with every mailbox's contents before and after."""
    before = snapshot(scenario_setup)
    report = build_report(scenario_setup, verify=True, options=FAST)
    after = snapshot(scenario_setup)
    yield report, before, after


def observed(report: FromReport, imap: str, smtp: str, envelope: str = "from") -> Observation:
    assert report.verification is not None
    for observation in report.verification.observations:
        p = observation.prediction
        if (p.imap, p.smtp, p.envelope_sender.value) == (imap, smtp, envelope):
            return observation
    raise AssertionError(f"no observation for {imap} via {smtp} ({envelope})")


def test_every_pairing_observed_as_predicted(checked: Checked) -> None:
    report, _, _ = checked
    assert report.verification is not None
    differing = [
        (o.prediction.imap, o.prediction.smtp, o.prediction.headline, o.headline)
        for o in report.verification.observations
        if o.matches is not True
    ]
    assert differing == []
    assert report.verification.all_match
    # The table's pairings plus the two queues with a login envelope sender.
    assert len(report.verification.observations) == 10 * 7 + 2


def test_no_message_left_behind(checked: Checked) -> None:
    report, before, after = checked
    assert report.verification is not None
    cleanup = report.verification.cleanup
    assert after == before
    assert cleanup.left_behind == ()
    assert cleanup.may_arrive_later == ()
    assert cleanup.problems == ()
    assert cleanup.inbox_before == cleanup.inbox_after
    assert cleanup.deleted == sum(
        o.delivery is Delivery.DELIVERED for o in report.verification.observations
    )
    assert cleanup.sent_copies_deleted > 0
    assert cleanup.unchecked_sent_folders == ("chris@courier.sandbox.test",)


def test_verification_adds_no_findings(checked: Checked) -> None:
    report, _, _ = checked
    ids = {finding.id for finding in report.findings}
    assert ids.isdisjoint(
        {"from-observed-differs", "verification-not-sent", "test-message-left-behind"}
    )


# (IMAP entry, SMTP entry, envelope sender, From, Sender, start of the rejection reply)
SEEDS = [
    ("gabe-gmail-imap", "gina-gmail-smtp", "from", "gina@gmail.sandbox.test", None, None),
    ("help-shop-imap", "gina-gmail-smtp", "from", "help@shop.sandbox.test", None, None),
    ("alice-m365-imap", "alice-m365-smtp", "from", "alice@m365.sandbox.test", None, None),
    ("erin-m365-imap", "alice-m365-smtp", "from", "erin@m365.sandbox.test", None, None),
    (
        "erin-m365-imap",
        "bob-m365-smtp",
        "from",
        "erin@m365.sandbox.test",
        "bob@m365.sandbox.test",
        None,
    ),
    ("erin-m365-imap", "frank-m365-smtp", "from", "erin@m365.sandbox.test", None, None),
    ("erin-m365-imap", "dave-m365-smtp", "from", None, None, "550 5.7.60 "),
    ("erin-m365-imap", "dave-m365-smtp", "login", None, None, "554 5.2.252 SendAsDenied"),
    (SHARED_IMAP_ENTRY, "alice-m365-smtp", "from", "support@m365.sandbox.test", None, None),
    ("gina-gmail-imap", "alice-m365-smtp", "from", None, None, "550 5.7.60 "),
    ("alice-m365-imap", "gina-gmail-smtp", "from", "gina@gmail.sandbox.test", None, None),
    ("erin-m365-imap", "chris-courier-smtp", "from", "erin@m365.sandbox.test", None, None),
    ("erin-m365-imap", "dana-dovecot-smtp", "from", None, None, "553 5.7.1 "),
    ("erin-m365-imap", "dana-dovecot-smtp", "login", "erin@m365.sandbox.test", None, None),
]


@pytest.mark.parametrize(("imap", "smtp", "envelope", "from_address", "sender", "reply"), SEEDS)
def test_seed_scenario_observed(
    checked: Checked,
    imap: str,
    smtp: str,
    envelope: str,
    from_address: str | None,
    sender: str | None,
    reply: str | None,
) -> None:
    observation = observed(checked[0], imap, smtp, envelope)
    assert observation.matches is True
    if reply is None:
        assert observation.delivery is Delivery.DELIVERED
        assert observation.from_address == from_address
        assert observation.sender_address == sender
    else:
        assert observation.delivery is Delivery.REJECTED
        assert observation.reply.startswith(reply)


def test_gmail_rewrites_envelope_too(checked: Checked) -> None:
    observation = observed(checked[0], "gabe-gmail-imap", "gina-gmail-smtp")
    assert observation.outcome is Outcome.REWRITTEN
    assert observation.return_path == "gina@gmail.sandbox.test"


def test_login_envelope_reaches_relay(checked: Checked) -> None:
    observation = observed(checked[0], "erin-m365-imap", "dana-dovecot-smtp", "login")
    assert observation.return_path == "dana@dovecot.sandbox.test"
    assert observation.from_address == "erin@m365.sandbox.test"


def test_cleanup_runs_when_a_step_fails(scenario_setup: TenantSetup) -> None:
    before = folder_contents(scenario_setup, "dana-dovecot-imap", sent=False)
    sent_before = folder_contents(scenario_setup, "alice-m365-imap", sent=True)
    predictions = [
        predict_pairing(scenario_setup, "erin-m365-imap", smtp)
        for smtp in ("chris-courier-smtp", "alice-m365-smtp", "bob-m365-smtp")
    ]

    def fail_after_two(done: int, total: int, label: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        verify_predictions(scenario_setup, predictions, options=FAST, progress=fail_after_two)
    assert folder_contents(scenario_setup, "dana-dovecot-imap", sent=False) == before
    assert folder_contents(scenario_setup, "alice-m365-imap", sent=True) == sent_before


def test_missing_smtp_secret_is_not_sent(scenario_setup: TenantSetup) -> None:
    servers = tuple(
        dataclasses.replace(server, token=None) if server.name == "alice-m365-smtp" else server
        for server in scenario_setup.servers
    )
    tenant = dataclasses.replace(scenario_setup, servers=servers)
    prediction = predict_pairing(tenant, "erin-m365-imap", "alice-m365-smtp")
    report = verify_predictions(tenant, [prediction], options=FAST)
    observation = report.observations[0]
    assert observation.delivery is Delivery.NOT_SENT
    assert observation.stage == "AUTH"
    assert "MAILDIAG_SANDBOX_TOKEN_ALICE_M365_SANDBOX_TEST" in observation.reply
    assert observation.matches is False


def test_observer_without_secret_raises_before_sending(scenario_file: object) -> None:
    tenant = load_tenant_setup(str(scenario_file))  # no secrets resolved
    prediction = predict_pairing(tenant, "erin-m365-imap", "chris-courier-smtp")
    with pytest.raises(VerifyError, match=r"observer's inbox .* cannot be opened"):
        verify_predictions(tenant, [prediction], options=FAST)


def test_tenant_without_observer_raises(scenario_setup: TenantSetup) -> None:
    tenant = dataclasses.replace(scenario_setup, observer=None)
    with pytest.raises(VerifyError, match=r"tenant\.observer is missing"):
        verify_predictions(tenant, [], options=FAST)


def test_test_message_is_tagged(scenario_setup: TenantSetup) -> None:
    prediction = predict_pairing(
        scenario_setup, "erin-m365-imap", "bob-m365-smtp", EnvelopeSender.FROM_ADDRESS
    )
    raw = build_test_message(prediction, "dana@dovecot.sandbox.test", "<x.1@m365.test>")
    message = BytesParser(policy=default).parsebytes(raw)
    assert message["Subject"] == (
        f"{SUBJECT_PREFIX} From-address check: erin-m365-imap via bob-m365-smtp"
    )
    assert message["From"] == "erin@m365.sandbox.test"
    assert message["Message-ID"] == "<x.1@m365.test>"
    assert message["X-Maildiag-Test"] == "from-address-check"
    assert b"\n" not in raw.replace(b"\r\n", b"")


class ClientWithoutUidplus:
    """An IMAP client stand-in without UIDPLUS, for the one branch the sandbox cannot show."""

    def __init__(self, flagged: list[int]) -> None:
        self.flagged = flagged
        self.expunged = False

    def delete_messages(self, uids: list[int]) -> None:
        self.flagged += uids

    def has_capability(self, name: str) -> bool:
        return False

    def search(self, criteria: list[str]) -> list[int]:
        return list(self.flagged)

    def expunge(self) -> None:
        self.expunged = True


def test_delete_without_uidplus_spares_other_flagged() -> None:
    other = ClientWithoutUidplus(flagged=[7])
    assert delete_by_uid(other, [3]) is False  # type: ignore[arg-type]
    assert other.expunged is False
    alone = ClientWithoutUidplus(flagged=[])
    assert delete_by_uid(alone, [3]) is True  # type: ignore[arg-type]
    assert alone.expunged is True


def test_message_in_junk_found_and_deleted(
    scenario_sandbox: Sandbox, scenario_setup: TenantSetup
) -> None:
    message_id = new_message_id("erin@m365.sandbox.test")
    raw = (
        f"From: erin@m365.sandbox.test\r\nTo: dana@dovecot.sandbox.test\r\n"
        f"Message-ID: {message_id}\r\nSubject: filed as junk\r\n\r\nbody\r\n"
    ).encode()
    scenario_sandbox.append_message("dana@dovecot.sandbox.test", raw, folder="Junk")
    mailbox = ObserverMailbox(scenario_setup.server("dana-dovecot-imap"), timeout=5)
    try:
        arrivals = mailbox.wait_for([message_id], wait=1, poll_interval=0.1)
        assert arrivals[message_id].folder == "Junk"
        problems: list[str] = []
        deletion = mailbox.delete([message_id], problems)
        assert deletion.deleted == 1
        assert deletion.missing == set()
        assert problems == []
        assert mailbox.wait_for([message_id], wait=0, poll_interval=0.1) == {}
    finally:
        mailbox.close()
