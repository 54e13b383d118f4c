"""The empirical check against real Postfix and Dovecot: a relay that passes every sender through.

The private Postfix of the test session authenticates through Dovecot and
delivers to it. It has no reject_sender_login_mismatch, so it keeps any
envelope sender and header From, which is the pass-through relay rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.realservers.dovecot import DovecotServer
from tests.realservers.postfix import PostfixServer
from toolkit.fromaddr import build_report
from toolkit.fromaddr.observed import Delivery
from toolkit.fromaddr.rules import Outcome
from toolkit.fromaddr.tenant import TenantSetup, tenant_setup_from_document, with_secrets
from toolkit.fromaddr.verify import VerifyOptions

pytestmark = pytest.mark.postfix


def tenant(dovecot: DovecotServer, postfix: PostfixServer, relay_rule: str | None) -> TenantSetup:
    """Return a tenant: IMAP for alice, bob and carol (the observer), SMTP as bob via Postfix."""
    alice, bob, carol = (f"{name}@{dovecot.domain}" for name in ("alice", "bob", "carol"))

    def imap(name: str, user: str) -> dict[str, Any]:
        return {
            "name": name,
            "protocol": "imap",
            "host": dovecot.host,
            "port": dovecot.imap_tls_port,
            "tls": True,
            "auth": "basic",
            "user": user,
            "storage_folder": "INBOX",
            "ca_file": str(dovecot.ca_file),
            "password_env": f"PW_{user.partition('@')[0].upper()}",
        }

    document: dict[str, Any] = {
        "tenant": {"observer": "carol-imap"},
        "server": [
            imap("alice-imap", alice),
            imap("bob-imap", bob),
            imap("carol-imap", carol),
            {
                "name": "bob-postfix",
                "protocol": "smtp",
                "host": postfix.host,
                "port": postfix.smtp_starttls_port,
                "tls": False,
                "auth": "basic",
                "user": bob,
                "ca_file": str(postfix.ca_file),
                "password_env": "PW_BOB",
            },
        ],
        "queue": [{"name": "support", "imap": ["alice-imap"], "smtp": "bob-postfix"}],
        "permissions": {
            "relays": [{"server": "bob-postfix", "rule": relay_rule}] if relay_rule else []
        },
    }
    environment = {
        f"PW_{user.partition('@')[0].upper()}": password for user, password in dovecot.users.items()
    }
    return with_secrets(tenant_setup_from_document(document), environment)


def test_pass_through_relay_keeps_from(dovecot: DovecotServer, postfix: PostfixServer) -> None:
    setup = tenant(dovecot, postfix, "pass-through")
    report = build_report(setup, verify=True, options=VerifyOptions(timeout=10, delivery_wait=15))
    assert report.verification is not None
    observation = next(
        o
        for o in report.verification.observations
        if (o.prediction.imap, o.prediction.smtp) == ("alice-imap", "bob-postfix")
    )
    assert observation.prediction.outcome is Outcome.FROM_A
    assert observation.delivery is Delivery.DELIVERED
    assert observation.from_address == f"alice@{dovecot.domain}"
    assert observation.return_path == f"alice@{dovecot.domain}"
    assert observation.matches is True
    cleanup = report.verification.cleanup
    assert cleanup.left_behind == ()
    assert cleanup.may_arrive_later == ()
    assert cleanup.inbox_before == cleanup.inbox_after


def test_undeclared_relay_is_seen_not_judged(
    dovecot: DovecotServer, postfix: PostfixServer
) -> None:
    setup = tenant(dovecot, postfix, None)
    report = build_report(setup, verify=True, options=VerifyOptions(timeout=10, delivery_wait=15))
    assert report.verification is not None
    observation = next(
        o for o in report.verification.observations if o.prediction.imap == "alice-imap"
    )
    assert observation.prediction.outcome is Outcome.UNKNOWN
    assert observation.matches is None
    assert observation.outcome is Outcome.FROM_A
    assert "reply-from-unknown" in {finding.id for finding in report.findings}
    assert report.verification.cleanup.inbox_before == report.verification.cleanup.inbox_after
