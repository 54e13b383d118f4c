"""msal's device-code flow against the sandbox authority, then XOAUTH2 logins with its token."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import msal
import pytest
from imapclient import IMAPClient
from sandbox_helpers import xoauth2

from tests.loopback_audit import record_connections
from toolkit.sandbox import Sandbox
from toolkit.sandbox.authority import (
    IMAP_SCOPE,
    SANDBOX_PUBLIC_CLIENT_ID,
    SMTP_SCOPE,
    DeviceFlowOutcome,
)
from toolkit.sandbox.msal_support import loopback_msal_options, msal_http_client

ALICE = "alice@m365.sandbox.test"


@pytest.fixture
def loopback_only() -> Iterator[list[str]]:
    with record_connections() as hosts:
        yield hosts


def test_device_flow_token_logs_in_on_both_protocols(
    sandbox: Sandbox, loopback_only: list[str]
) -> None:
    authority = sandbox.authority
    assert authority is not None
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=1))
    session = msal_http_client(str(sandbox.ca_file))
    app = msal.PublicClientApplication(
        SANDBOX_PUBLIC_CLIENT_ID, **loopback_msal_options(authority.authority_url, session)
    )

    flow = app.initiate_device_flow(scopes=[IMAP_SCOPE, SMTP_SCOPE])
    assert "error" not in flow, flow.get("error_description")
    result = app.acquire_token_by_device_flow(flow)
    assert "error" not in result, result.get("error_description")
    token = result["access_token"]

    imap = sandbox.endpoint("imap-tls")
    with IMAPClient(imap.host, port=imap.port, ssl_context=sandbox.client_context()) as client:
        client.oauth2_login(ALICE, token)
        assert client.list_folders()

    smtp_endpoint = sandbox.endpoint("smtp-starttls")
    with smtplib.SMTP(smtp_endpoint.host, smtp_endpoint.port, timeout=10) as smtp:
        smtp.starttls(context=sandbox.client_context())
        smtp.ehlo()
        code, _ = smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(ALICE, token),
                            initial_response_ok=True)
        assert code == 235

    assert loopback_only, "the audit hook recorded no connection"
