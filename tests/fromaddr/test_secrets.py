"""No password or token reaches a report, JSON, text output, log, finding or exception.

A sandbox user's password is a canary. The check logs in with it (and once
with a wrong canary), and every output is searched for the canary as text and
in the base64 forms that SMTP AUTH and XOAUTH2 send.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

from toolkit.fromaddr import build_report
from toolkit.fromaddr.tenant import TenantSetup, tenant_setup_from_document, with_secrets
from toolkit.fromaddr.verify import VerifyOptions
from toolkit.fromaddr_cli import format_report, report_dict
from toolkit.fromaddr_view import observations_frame, table_styler
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.sandbox.sandbox_settings import env_key

CANARY = "canary-Pa55word-7f3e"
WRONG_CANARY = "wrong-Pa55word-91c2"
CHRIS = "chris@courier.sandbox.test"
DANA = "dana@dovecot.sandbox.test"
ALICE = "alice@m365.sandbox.test"


def encoded_forms(secret: str) -> list[str]:
    """Return the secret as text and in base64 at each of the three byte offsets."""
    forms = [secret]
    for offset in range(3):
        encoded = base64.b64encode(b"x" * offset + secret.encode()).decode()
        forms.append(encoded[4 if offset else 0 : -4])
    return forms


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A sandbox whose Courier-like user logs in with the canary password."""
    tenant = tenant_from_dict(
        {
            "users": [
                {"address": CHRIS, "personality": "courier", "password": CANARY},
                {"address": DANA, "personality": "dovecot", "password": CANARY},
                {"address": ALICE, "personality": "microsoft365"},
            ]
        }
    )
    with Sandbox(port_base=0, tenant=tenant) as running:
        yield running


def tenant_for(sandbox: Sandbox, chris_password: str) -> TenantSetup:
    """Return a tenant: IMAP for Alice, SMTP as Chris, Dana's inbox as observer."""
    entries = {server.name: server.to_dict() for server in sandbox.settings()}
    document = {
        "tenant": {"observer": "dana-dovecot-imap"},
        "server": [
            entries["alice-m365-imap"],
            entries["dana-dovecot-imap"],
            entries["chris-courier-smtp"],
            entries["alice-m365-smtp"],
        ],
        "queue": [{"name": "q", "imap": ["alice-m365-imap"], "smtp": "chris-courier-smtp"}],
        "permissions": {"relays": [{"server": "chris-courier-smtp", "rule": "pass-through"}]},
    }
    environment = {
        f"MAILDIAG_SANDBOX_PASSWORD_{env_key(CHRIS)}": chris_password,
        f"MAILDIAG_SANDBOX_PASSWORD_{env_key(DANA)}": CANARY,
        f"MAILDIAG_SANDBOX_TOKEN_{env_key(ALICE)}": sandbox.access_token(ALICE).reveal(),
    }
    return with_secrets(tenant_setup_from_document(document), environment)


@pytest.mark.parametrize("password", [CANARY, WRONG_CANARY])
def test_no_secret_in_any_output(
    sandbox: Sandbox, password: str, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = tenant_for(sandbox, password)
    token = tenant.server("alice-m365-smtp").token
    assert token is not None
    with caplog.at_level(logging.DEBUG):
        report = build_report(
            tenant, verify=True, options=VerifyOptions(timeout=5, delivery_wait=5)
        )
    assert report.verification is not None
    delivered = password == CANARY
    assert report.verification.all_match is delivered
    outputs = [
        repr(report),
        repr(tenant),
        str(report_dict(report)),
        format_report(report),
        table_styler(report.table, report.verification).to_html(),
        observations_frame(report.verification).to_csv(),
        caplog.text,
        *(str(finding) for finding in report.findings),
    ]
    for secret in (CANARY, WRONG_CANARY, token.reveal()):
        for form in encoded_forms(secret):
            for output in outputs:
                assert form not in output
