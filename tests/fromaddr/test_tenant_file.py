"""Tenant files: the example loads, round-trips and stays a settings file; errors name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fromaddr.conftest import EXAMPLE
from toolkit.fromaddr.tenant import (
    EnvelopeSender,
    RelayRule,
    dump_tenant_setup,
    load_tenant_setup,
    tenant_setup_from_text,
    with_secrets,
)
from toolkit.settings import Protocol, SettingsError
from toolkit.settings_file import load_settings

CANARY = "canary-Pa55word-7f3e"

SERVERS = """
[[server]]
name = "a-imap"
protocol = "imap"
host = "imap.example.com"
port = 993
tls = true
auth = "basic"
user = "a@example.com"
storage_folder = "Support"

[[server]]
name = "b-smtp"
protocol = "smtp"
host = "smtp.example.com"
port = 587
tls = false
auth = "basic"
user = "b@example.com"
password_env = "B_PASSWORD"
"""


def errors_of(text: str) -> dict[str, str]:
    """Return the field errors of an unusable tenant text, as field -> problem."""
    with pytest.raises(SettingsError) as raised:
        tenant_setup_from_text(text)
    return {error.field: error.problem for error in raised.value.errors}


def test_example_loads() -> None:
    tenant = load_tenant_setup(EXAMPLE)
    assert tenant.name == "Contoso support (prototype)"
    assert tenant.observer == "observer-imap"
    assert tenant.envelope_sender is EnvelopeSender.FROM_ADDRESS
    assert len(tenant.queues) == 12
    assert tenant.permissions.has_send_as("alice@contoso.example", "support@contoso.example")
    assert tenant.permissions.has_send_on_behalf("bob@contoso.example", "billing@contoso.example")
    assert tenant.permissions.is_shared("Support@Contoso.example")
    assert tenant.permissions.is_gmail_alias(
        "contoso.helpdesk@gmail.com", "help@contoso-shop.example"
    )
    assert tenant.permissions.relay_rule("office-relay") is RelayRule.ENVELOPE_OWNER


def test_example_rows_leave_out_observer() -> None:
    tenant = load_tenant_setup(EXAMPLE)
    rows = [server.name for server in tenant.table_imap]
    assert rows == ["sales-imap", "shop-help-imap", "alice-imap", "billing-imap", "support-imap"]
    assert all(server.protocol is Protocol.SMTP for server in tenant.table_smtp)


def test_example_is_a_settings_file() -> None:
    servers = load_settings(EXAMPLE)
    assert len(servers) == 12


def test_queue_envelope_overrides_tenant() -> None:
    tenant = load_tenant_setup(EXAMPLE)
    queues = {queue.name: queue for queue in tenant.queues}
    assert tenant.envelope_for(queues["m365-neither"]) is EnvelopeSender.FROM_ADDRESS
    assert tenant.envelope_for(queues["m365-neither-login-envelope"]) is EnvelopeSender.LOGIN


def test_dump_round_trips(tmp_path: Path) -> None:
    tenant = load_tenant_setup(EXAMPLE)
    copy = tmp_path / "copy.toml"
    copy.write_text(dump_tenant_setup(tenant), encoding="utf-8")
    loaded = load_tenant_setup(copy)
    assert loaded.servers == tenant.servers
    assert loaded.queues == tenant.queues
    assert loaded.permissions == tenant.permissions
    assert loaded.observer == tenant.observer


def test_dump_never_writes_secret() -> None:
    tenant = with_secrets(
        load_tenant_setup(EXAMPLE),
        {"B_PASSWORD": CANARY, "ALICE_TOKEN": CANARY, "HELPDESK_APP_PASSWORD": CANARY},
    )
    assert any(server.password is not None or server.token is not None for server in tenant.servers)
    text = dump_tenant_setup(tenant)
    assert CANARY not in text
    assert CANARY not in repr(tenant)


def test_with_secrets_reads_named_variables() -> None:
    tenant = with_secrets(tenant_setup_from_text(SERVERS), {"B_PASSWORD": CANARY})
    assert tenant.server("b-smtp").password is not None
    assert tenant.server("b-smtp").password.reveal() == CANARY  # type: ignore[union-attr]
    assert tenant.server("a-imap").password is None


def test_minimal_file_defaults() -> None:
    tenant = tenant_setup_from_text(SERVERS)
    assert tenant.queues == ()
    assert tenant.observer is None
    assert tenant.envelope_sender is EnvelopeSender.FROM_ADDRESS


def test_queue_with_unknown_entry_names_field() -> None:
    errors = errors_of(SERVERS + '[[queue]]\nname = "q"\nimap = ["nope"]\nsmtp = "a-imap"\n')
    assert errors["queue[1].imap[1]"] == "is not the name of a [[server]] entry"
    assert errors["queue[1].smtp"] == "is an IMAP entry"


def test_queue_missing_fields() -> None:
    errors = errors_of(SERVERS + "[[queue]]\nimap = []\n")
    assert errors["queue[1].name"] == "is missing"
    assert errors["queue[1].imap"] == "is not a list of entry names"
    assert errors["queue[1].smtp"] == "is missing"


def test_duplicate_queue_name() -> None:
    queue = '[[queue]]\nname = "q"\nimap = ["a-imap"]\nsmtp = "b-smtp"\n'
    errors = errors_of(SERVERS + queue + queue)
    assert errors["queue[2].name"] == "is the name of another queue"


def test_duplicate_server_name() -> None:
    errors = errors_of(SERVERS + SERVERS)
    assert errors["server"] == "is the name of more than one entry"


def test_unknown_keys_are_named() -> None:
    errors = errors_of(
        SERVERS
        + '[tenant]\nobserverr = "a-imap"\n'
        + '[[queue]]\nname = "q"\nimap = ["a-imap"]\nsmtp = "b-smtp"\ncolour = "red"\n'
        + "[permissions]\nsend_like = []\n"
    )
    assert errors["tenant.observerr"] == "is not a known field"
    assert errors["queue[1].colour"] == "is not a known field"
    assert errors["permissions.send_like"] == "is not a known field"


def test_bad_permissions_are_named() -> None:
    errors = errors_of(
        SERVERS
        + "[permissions]\n"
        + 'shared_mailboxes = ["not an address"]\n'
        + '[[permissions.send_as]]\nuser = "alice"\nmailboxes = ["support@example.com"]\n'
        + '[[permissions.send_on_behalf]]\nuser = "bob@example.com"\n'
        + '[[permissions.gmail_aliases]]\nuser = "g@gmail.com"\naliases = [3]\n'
        + '[[permissions.relays]]\nserver = "a-imap"\nrule = "open"\n'
    )
    assert errors["permissions.shared_mailboxes[1]"] == "is not an email address"
    assert errors["permissions.send_as[1].user"] == "is not an email address"
    assert errors["permissions.send_on_behalf[1].mailboxes"] == "is missing"
    assert errors["permissions.gmail_aliases[1].aliases[1]"] == "is not an email address"
    assert errors["permissions.relays[1].rule"] == "is not a known relay rule"
    assert errors["permissions.relays[1].server"] == "is an IMAP entry"


def test_observer_must_be_imap_entry() -> None:
    errors = errors_of(SERVERS + '[tenant]\nobserver = "b-smtp"\n')
    assert errors["tenant.observer"] == "is an SMTP entry"


def test_bad_envelope_sender() -> None:
    errors = errors_of(SERVERS + '[tenant]\nenvelope_sender = "sender"\n')
    assert errors["tenant.envelope_sender"] == "is not a known envelope sender"


def test_file_needs_both_protocols() -> None:
    imap_only = SERVERS.split("[[server]]")[1]
    errors = errors_of("[[server]]" + imap_only)
    assert errors["server"] == "has no SMTP entry"


def test_server_errors_keep_entry_name() -> None:
    errors = errors_of(SERVERS.replace("port = 993", 'port = "abc"'))
    assert errors["server 1 (a-imap): port"] == "is not a number"


def test_invalid_toml_names_file() -> None:
    with pytest.raises(SettingsError) as raised:
        tenant_setup_from_text("[[queue]\n", source="t.toml")
    assert raised.value.errors[0].field == "file"
    assert "is not valid TOML" in raised.value.errors[0].problem


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_tenant_setup(tmp_path / "none.toml")
    assert raised.value.errors[0].problem == "was not found"


def test_all_errors_at_once() -> None:
    errors = errors_of(
        SERVERS
        + '[tenant]\nobserver = "nope"\nenvelope_sender = 1\n'
        + '[[queue]]\nname = "q"\nimap = ["a-imap"]\nsmtp = "nope"\n'
    )
    assert set(errors) >= {"tenant.observer", "tenant.envelope_sender", "queue[1].smtp"}
