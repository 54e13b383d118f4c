"""Canary passwords, tokens and client secrets never appear in any output of a login test.

The canary is searched for as text, as base64 at each byte offset, and inside a
PLAIN response and an XOAUTH2 string. The outputs searched are the result reprs,
JSON, the transcript, every log record at DEBUG (the sandbox's and msal's
included) and the command line's stdout and stderr.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.login.canary import assert_absent
from toolkit.login.check import LoginCheck, check_login
from toolkit.login.sasl import Mechanism
from toolkit.oauth.msal_client import (
    TokenError,
    acquire_token_client_credentials,
    acquire_token_device_code,
)
from toolkit.probe.results import Timeouts
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.sandbox.authority import IMAP_SCOPE, MICROSOFT_GRAPH, DeviceFlowOutcome
from toolkit.secret import Secret
from toolkit.settings import OAuthSettings, ServerSettings
from toolkit.settings_file import resolve_secrets

CANARY = "canary-Pa55word-5e1f"
WRONG_CANARY = "canary-Wr0ng-7a2b"
SECRET_CANARY = "canary-cl1ent-secret-3d4e"
DANA = "dana@dovecot.sandbox.test"
ALICE = "alice@m365.sandbox.test"
FAST = Timeouts(connect=3, greeting=3, handshake=3, read=5)


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    """A sandbox whose Dovecot-like user has the canary as password."""
    tenant = tenant_from_dict(
        {
            "domain": "m365.sandbox.test",
            "users": [
                {"address": DANA, "personality": "dovecot", "password": CANARY},
                {"address": ALICE, "personality": "microsoft365"},
            ],
        }
    )
    with Sandbox(port_base=0, tenant=tenant) as running:
        yield running


@pytest.fixture(scope="module")
def canary_entries(canary_sandbox: Sandbox) -> dict[str, ServerSettings]:
    environment = canary_sandbox.environment()
    return {e.name: resolve_secrets(e, environment) for e in canary_sandbox.settings()}


def outputs(check: LoginCheck, caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = [
        repr(check),
        repr(check.result),
        json.dumps(check.to_dict()),
        check.result.summary(),
        *(line.text for line in check.result.transcript),
        *(f"{finding.message} {finding.fix}" for finding in check.findings),
    ]
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
    return texts


@pytest.mark.parametrize("password", [CANARY, WRONG_CANARY])
@pytest.mark.parametrize(
    ("name", "mechanism"),
    [
        ("dana-dovecot-imap", None),
        ("dana-dovecot-imap", Mechanism.PLAIN),
        ("dana-dovecot-smtp", Mechanism.PLAIN),
        ("dana-dovecot-smtp", Mechanism.LOGIN),
    ],
)
def test_password_never_in_output(
    canary_entries: dict[str, ServerSettings],
    caplog: pytest.LogCaptureFixture,
    name: str,
    mechanism: Mechanism | None,
    password: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = canary_entries[name].with_secrets(password=Secret(password))
    check = check_login(server, mechanism=mechanism, timeouts=FAST)
    assert check.result.success is (password == CANARY)
    assert any("AUTH" in record.getMessage() for record in caplog.records)
    assert_absent(password, outputs(check, caplog), DANA)


def test_plaintext_password_never_in_output(
    canary_entries: dict[str, ServerSettings], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = canary_entries["imap-no-starttls"].with_secrets(password=Secret(CANARY))
    check = check_login(server, allow_plaintext=True, timeouts=FAST)
    assert check.result.success
    assert_absent(CANARY, outputs(check, caplog), DANA)


@pytest.mark.parametrize("rejected", [False, True])
@pytest.mark.parametrize("mechanism", [Mechanism.XOAUTH2, Mechanism.OAUTHBEARER])
@pytest.mark.parametrize("name", ["alice-m365-imap", "alice-m365-smtp"])
def test_token_never_in_output(
    canary_sandbox: Sandbox,
    canary_entries: dict[str, ServerSettings],
    caplog: pytest.LogCaptureFixture,
    name: str,
    mechanism: Mechanism,
    rejected: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    authority = canary_sandbox.authority
    assert authority is not None
    audience = MICROSOFT_GRAPH if rejected else "https://outlook.office.com"
    token = authority.issue_token(user=ALICE, audience=audience)
    check = check_login(
        canary_entries[name].with_secrets(token=Secret(token)), mechanism=mechanism, timeouts=FAST
    )
    assert check.result.success is not rejected
    texts = outputs(check, caplog)
    assert_absent(token, texts, ALICE)
    assert_absent(token.split(".")[2], texts, ALICE)


def test_msal_flows_never_log_secrets(
    canary_sandbox: Sandbox, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    authority = canary_sandbox.authority
    assert authority is not None
    authority.register_client("app-canary", secret=SECRET_CANARY, app_roles=["IMAP.AccessAsApp"])
    oauth = OAuthSettings(authority.base_url, "app-canary", authority.tenant_id)
    app_token = acquire_token_client_credentials(
        oauth, client_secret=Secret(SECRET_CANARY), ca_file=canary_sandbox.ca_file
    )
    with pytest.raises(TokenError) as raised:
        acquire_token_client_credentials(
            oauth, client_secret=Secret(WRONG_CANARY), ca_file=canary_sandbox.ca_file
        )
    authority.set_device_flow_outcome(DeviceFlowOutcome(approve_as=ALICE, pending_polls=1))
    public = OAuthSettings(authority.base_url, "5a4db0c5-7e1a-4c1e-8a7e-3f0c11e7a001",
                          authority.tenant_id, (IMAP_SCOPE,))
    user_token = acquire_token_device_code(
        public, show=lambda prompt: None, ca_file=canary_sandbox.ca_file
    )
    texts = [repr(app_token), repr(user_token), str(raised.value), repr(raised.value)]
    for record in caplog.records:
        texts.append(record.getMessage())
    for secret in (SECRET_CANARY, WRONG_CANARY, app_token.token.reveal(),
                   user_token.token.reveal()):
        assert_absent(secret, texts, ALICE)


def test_cli_outputs_have_no_secret(
    canary_sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    maildiag: object,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name, value in canary_sandbox.environment().items():
        monkeypatch.setenv(name, value)
    path = canary_sandbox.write_settings()
    authority = canary_sandbox.authority
    assert authority is not None
    token = authority.issue_token(user=ALICE, audience=MICROSOFT_GRAPH)
    monkeypatch.setenv("MAILDIAG_SANDBOX_TOKEN_ALICE_M365_SANDBOX_TEST", token)
    run = maildiag  # type: ignore[assignment]
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    codes = [
        run(["login", str(path), "--server", "dana-dovecot-imap"]),
        run(["login", str(path), "--server", "dana-dovecot-smtp", "--json"]),
        run(["login", str(path), "--server", "alice-m365-imap"]),
        run(["login", str(path), "--server", "alice-m365-smtp", "--json"]),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO(token))
    codes.append(run(["token", "--decode", "--protocol", "imap"]))
    captured = capsys.readouterr()
    assert codes == [0, 0, 1, 1, 1]
    texts = [captured.out, captured.err, *(r.getMessage() for r in caplog.records)]
    assert_absent(CANARY, texts, DANA)
    assert_absent(token, texts, ALICE)
    assert_absent(token.split(".")[2], texts, ALICE)
