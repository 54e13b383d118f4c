"""Tenants: the default one, custom ones from dicts and TOML, and their validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.sandbox import Personality, default_tenant, load_tenant, tenant_from_dict
from toolkit.sandbox.personalities import AuthOutcome, profile_of
from toolkit.settings import SettingsError


def test_default_tenant_has_every_personality() -> None:
    tenant = default_tenant()
    assert {user.personality for user in tenant.users} == set(Personality)
    gina = tenant.user("Gina@Gmail.Sandbox.Test")
    assert gina is not None
    assert gina.app_password is not None
    assert len(gina.app_password.reveal()) == 16
    assert gina.app_password.reveal().isalpha()
    support = tenant.user("support@m365.sandbox.test")
    assert support is not None
    assert not support.can_sign_in


def test_default_tenant_passwords_differ_per_start() -> None:
    first, second = default_tenant(), default_tenant()
    assert first.users[0].password != second.users[0].password


def test_smtp_auth_switches() -> None:
    tenant = tenant_from_dict({"smtp_auth": False, "users": [
        {"address": "a@m365.sandbox.test", "personality": "microsoft365"},
        {"address": "b@m365.sandbox.test", "personality": "microsoft365", "smtp_auth": True},
    ]})
    first, second = tenant.users
    assert not tenant.smtp_auth_enabled(first)
    assert tenant.smtp_auth_enabled(second)


def test_profile_for_unknown_user_in_known_domain() -> None:
    tenant = default_tenant()
    profile = tenant.profile_for("nobody@gmail.sandbox.test")
    assert profile is not None
    assert profile.personality is Personality.GMAIL
    assert tenant.profile_for("nobody@example.test") is None


def test_load_tenant_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "tenant.toml"
    path.write_text(
        '[tenant]\nname = "Workshop"\ndomain = "m365.sandbox.test"\n\n'
        '[[tenant.users]]\naddress = "alice@m365.sandbox.test"\npersonality = "microsoft365"\n'
        'send_as = ["support@m365.sandbox.test"]\n\n'
        '[[tenant.users]]\naddress = "pat@dovecot.sandbox.test"\npersonality = "dovecot"\n'
        'password = "workshop-pw"\nfolders = ["Support/Contact", "Support/Invoices"]\n',
        encoding="utf-8",
    )
    tenant = load_tenant(path)
    assert tenant.name == "Workshop"
    alice, pat = tenant.users
    assert alice.send_as == ("support@m365.sandbox.test",)
    assert pat.password.reveal() == "workshop-pw"
    assert pat.folders == ("Support/Contact", "Support/Invoices")
    assert len(tenant.tenant_id) == 36


def test_invalid_tenant_lists_every_problem() -> None:
    with pytest.raises(SettingsError) as error:
        tenant_from_dict({"users": [
            {"address": "not-an-address", "personality": "exchange2010"},
            {"address": "a@dovecot.sandbox.test", "personality": "dovecot", "colour": "red",
             "send_as": "b@dovecot.sandbox.test"},
            {"address": "c@dovecot.sandbox.test", "personality": "dovecot"},
            {"address": "C@dovecot.sandbox.test", "personality": "dovecot"},
        ]})
    fields = [problem.field for problem in error.value.errors]
    assert fields == [
        "tenant.users[1].address",
        "tenant.users[1].personality",
        "tenant.users[2].colour",
        "tenant.users[2].send_as",
        "tenant.users[4].address",
    ]


def test_display_name_with_line_break_is_rejected() -> None:
    with pytest.raises(SettingsError, match="display_name"):
        tenant_from_dict({"users": [{"address": "a@dovecot.sandbox.test",
                                     "personality": "dovecot",
                                     "display_name": "A\r\nBcc: victim@example.test"}]})


def test_missing_tenant_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="was not found"):
        load_tenant(tmp_path / "missing.toml")


def test_every_profile_has_a_wrong_password_reply() -> None:
    for personality in Personality:
        profile = profile_of(personality)
        assert profile.imap_replies[AuthOutcome.WRONG_PASSWORD]
        assert profile.smtp_replies[AuthOutcome.WRONG_PASSWORD][:3] in {"535", "534"}
