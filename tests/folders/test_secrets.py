"""A canary password and a real OAuth2 token never reach logs, reprs, JSON or output."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest

import toolkit.cli
from tests.test_notebook_secrets import encoded_forms
from toolkit.folders import check_entry_storage_folder, create_storage_folder, list_folders
from toolkit.folders_view import StorageFolderPanel
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.settings import ServerSettings
from toolkit.settings_file import resolve_secrets

CANARY = "canary-F0lder-pw-5e1d"


@pytest.fixture(scope="module")
def canary_sandbox() -> Iterator[Sandbox]:
    tenant = tenant_from_dict({"users": [
        {"address": "canary@courier.sandbox.test", "personality": "courier",
         "password": CANARY},
        {"address": "alice@m365.sandbox.test", "personality": "microsoft365"},
    ]})
    with Sandbox(port_base=0, tenant=tenant) as sandbox:
        yield sandbox


def entries(sandbox: Sandbox) -> tuple[ServerSettings, ServerSettings]:
    environment = sandbox.environment()
    imap = [resolve_secrets(s, environment) for s in sandbox.settings() if s.protocol == "imap"]
    courier = next(s for s in imap if s.user.startswith("canary"))
    alice = next(s for s in imap if s.user.startswith("alice"))
    return courier, alice.with_secrets(token=sandbox.access_token(alice.user))


def secret_forms(token: str) -> list[str]:
    xoauth2 = f"user=alice@m365.sandbox.test\1auth=Bearer {token}\1\1"
    return [*encoded_forms(CANARY), *encoded_forms(token), base64.b64encode(
        xoauth2.encode()).decode(), token]


def assert_clean(text: str, forms: list[str]) -> None:
    for form in forms:
        assert form not in text


def test_sessions_log_no_secret(
    canary_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    courier, alice = entries(canary_sandbox)
    assert alice.token is not None
    forms = secret_forms(alice.token.reveal())
    with caplog.at_level(logging.DEBUG):
        results = [
            list_folders(courier),
            list_folders(alice),
            list_folders(courier.with_secrets(password=CANARY + "x")),
            list_folders(dataclasses.replace(courier, port=canary_sandbox.endpoint(
                "imap-expired-certificate").port)),
        ]
        report = create_storage_folder(courier, "Canary Test")
        checked = check_entry_storage_folder(alice, "Sent Items")
    assert results[0].ok and results[1].ok
    assert any("LOGIN" in record.getMessage() for record in caplog.records)
    assert_clean("\n".join(record.getMessage() for record in caplog.records), forms)
    for item in (*results, report, checked):
        assert_clean(repr(item), forms)
        assert_clean(json.dumps(item.to_dict(), ensure_ascii=False), forms)
    for listing in results:
        assert_clean(listing.error + listing.server_text, forms)


def test_panel_shows_no_secret(canary_sandbox: Sandbox) -> None:
    courier, _ = entries(canary_sandbox)
    panel = StorageFolderPanel(courier)
    panel.check()
    state = json.dumps(panel.widget.get_state(), default=str)
    assert_clean(state + panel.verdict.value + panel.status.value, encoded_forms(CANARY))


def test_cli_prints_no_secret(
    canary_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO())
    for name, value in canary_sandbox.environment().items():
        monkeypatch.setenv(name, value)
    path = canary_sandbox.write_settings()
    courier, _ = entries(canary_sandbox)
    for extra in ([], ["--json"]):
        toolkit.cli.main(["folders", str(path), "--server", courier.name, *extra])
    captured = capsys.readouterr()
    assert "INBOX.Support" in captured.out
    assert_clean(captured.out + captured.err, encoded_forms(CANARY))
