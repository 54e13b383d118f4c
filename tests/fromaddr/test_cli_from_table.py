"""``maildiag from-table``: text, JSON, exit codes, and the check on the sandbox."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import toolkit.cli
from tests.fromaddr.conftest import EXAMPLE
from toolkit.fromaddr.clients import close_imap, open_imap
from toolkit.fromaddr.tenant import TenantSetup

Main = Callable[[Sequence[str]], int]


@pytest.fixture
def maildiag(monkeypatch: pytest.MonkeyPatch) -> Main:
    """Return ``maildiag`` with the from-table command registered, run in this process."""
    if "toolkit.fromaddr_cli" not in toolkit.cli._COMMAND_MODULES:
        monkeypatch.setattr(
            toolkit.cli, "_COMMAND_MODULES", (*toolkit.cli._COMMAND_MODULES, "toolkit.fromaddr_cli")
        )
    return toolkit.cli.main


def refuse_network(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"network access attempted: {args}")


def test_example_text(
    maildiag: Main, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without --verify the command reads the file only: every connection or lookup fails here.
    monkeypatch.setattr(socket, "create_connection", refuse_network)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_network)
    code = maildiag(["from-table", str(EXAMPLE)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == ""
    assert "5 IMAP accounts x 6 SMTP entries" in captured.out
    assert (
        "  via bob-smtp       on behalf       bob@contoso.example on behalf of "
        "billing@contoso.example *  [microsoft365-send-on-behalf]"
    ) in captured.out
    assert "  via dave-smtp      rejected        550 5.7.60 at MAIL FROM" in captured.out
    assert "Rules used, with their sources" in captured.out
    assert "microsoft365-send-on-behalf: Microsoft Learn" in captured.out
    assert "[error] reply-rejected (billing-imap)" in captured.out
    assert "[warning] reply-from-other-account (sales-imap)" in captured.out


def test_example_json(maildiag: Main, capsys: pytest.CaptureFixture[str]) -> None:
    code = maildiag(["from-table", str(EXAMPLE), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["verification"] is None
    assert data["envelope_sender"] == "from"
    assert len(data["table"]) == 30
    cell = next(
        c for c in data["table"] if (c["imap"], c["smtp"]) == ("billing-imap", "frank-smtp")
    )
    assert cell["outcome"] == "from-a"
    assert cell["rule"] == "microsoft365-send-as-wins"
    assert cell["needs_configuration"] is True
    assert {"queue", "imap", "smtp", "outcome", "fix", "source"} <= set(data["queues"][0])
    assert set(data["findings"][0]) == {"id", "severity", "field", "message", "fix", "server"}


def test_unusable_file_exits_2(
    maildiag: Main, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('smtp = "bob-smtp"', 'smtp = "bobby-smtp"'),
        encoding="utf-8",
    )
    code = maildiag(["from-table", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert "unusable input" in captured.err
    assert "queue[5].smtp: 'bobby-smtp' is not the name of a [[server]] entry" in captured.err


def test_missing_file_exits_2(
    maildiag: Main, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert maildiag(["from-table", str(tmp_path / "none.toml")]) == 2
    assert "was not found" in capsys.readouterr().err


def test_bad_timeout_exits_2(maildiag: Main, capsys: pytest.CaptureFixture[str]) -> None:
    assert maildiag(["from-table", str(EXAMPLE), "--timeout", "0"]) == 2
    assert "argument --timeout: invalid value '0'" in capsys.readouterr().err


def observer_inbox(setup: TenantSetup) -> list[int]:
    client = open_imap(setup.server("dana-dovecot-imap"), timeout=5)
    try:
        client.select_folder("INBOX", readonly=True)
        return list(client.search(["ALL"]))
    finally:
        close_imap(client)


def test_verify_on_sandbox(
    maildiag: Main,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    scenario_file: Path,
    scenario_env: dict[str, str],
    scenario_setup: TenantSetup,
) -> None:
    for name, value in scenario_env.items():
        monkeypatch.setenv(name, value)
    before = observer_inbox(scenario_setup)
    code = maildiag(["from-table", str(scenario_file), "--verify", "--json", "--wait", "5"])
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert code == 1  # the scenarios include queues whose replies are rejected
    assert "sending test messages to the observer dana-dovecot-imap" in captured.err
    assert data["verification"]["all_match"] is True
    assert data["verification"]["cleanup"]["left_behind"] == []
    assert observer_inbox(scenario_setup) == before
    for value in scenario_env.values():
        assert value not in captured.out
        assert value not in captured.err


def test_verify_text_on_sandbox(
    maildiag: Main,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    scenario_file: Path,
    scenario_env: dict[str, str],
) -> None:
    for name, value in scenario_env.items():
        monkeypatch.setenv(name, value)
    maildiag(["from-table", str(scenario_file), "--verify", "--wait", "5"])
    out = capsys.readouterr().out
    assert "Check with test messages to dana@dovecot.sandbox.test (dana-dovecot-imap):" in out
    assert (
        "  ok   erin@m365.sandbox.test via bob-m365-smtp (envelope from): "
        "bob@m365.sandbox.test on behalf of erin@m365.sandbox.test"
    ) in out
    assert "DIFF" not in out


def test_verify_without_secrets_exits_2(
    maildiag: Main, capsys: pytest.CaptureFixture[str], scenario_file: Path
) -> None:
    code = maildiag(["from-table", str(scenario_file), "--verify"])
    captured = capsys.readouterr()
    assert code == 2
    assert "cannot be opened" in captured.err
    assert "MAILDIAG_SANDBOX_PASSWORD_DANA_DOVECOT_SANDBOX_TEST" in captured.err


def test_verify_without_observer_exits_2(
    maildiag: Main, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "no-observer.toml"
    path.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace('observer = "observer-imap"\n', ""),
        encoding="utf-8",
    )
    code = maildiag(["from-table", str(path), "--verify"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == (
        "maildiag from-table: tenant.observer is missing: name the IMAP entry "
        "whose mailbox receives the test messages in the [tenant] table\n"
    )
