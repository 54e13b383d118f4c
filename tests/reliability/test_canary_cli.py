"""Every command line run with canary passwords and tokens: none of them may appear anywhere.

A sandbox in this process has users whose passwords are canaries, and its
authority issues the canary tokens. The settings file it writes names
environment variables, which hold the canaries as a user would set them. Each
command runs twice: in a child process whose root logger writes DEBUG records
to a file, and in this process under caplog at DEBUG. Stdout, stderr, JSON
output, the log file, caplog's records and every file left in the working
folder are searched for every form of every canary.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import toolkit.cli
from tests.cli_run import REPO
from tests.reliability.canary import find_leaks, read_tree
from tests.reliability.canary_sandbox import (
    ALICE,
    DANA_PASSWORD,
    GINA_ACCOUNT_PASSWORD,
    GINA_APP_PASSWORD,
    PASSWORDS,
    REFRESH_TOKEN,
    TENANT,
)
from tests.reliability.cli import Finished, Run, run_many
from toolkit.login.check import check_login
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.sandbox.sandbox_settings import env_key
from toolkit.settings_file import load_settings, resolve_secrets


@dataclass(frozen=True)
class Canaries:
    """The running sandbox, its settings file, the environment and every canary in use."""

    sandbox: Sandbox
    folder: Path
    settings_file: Path
    env: dict[str, str]
    secrets: tuple[str, ...]
    token: str


@pytest.fixture(scope="module")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaries]:
    folder = tmp_path_factory.mktemp("canary-cli")
    with Sandbox(port_base=0, tenant=tenant_from_dict(TENANT)) as sandbox:
        token = sandbox.access_token(ALICE).reveal()
        assert sandbox.authority is not None
        expired = sandbox.authority.issue_token(user=ALICE, lifetime=-600)
        settings_file = sandbox.write_settings(folder / "settings.toml")
        env = {**sandbox.environment(), f"MAILDIAG_SANDBOX_TOKEN_{env_key(ALICE)}": token,
               "MAILDIAG_EXPIRED_TOKEN": expired}
        yield Canaries(sandbox, folder, settings_file, env, (*PASSWORDS, token, expired), token)


# A claim value, which `token --decode` prints on purpose: the control that shows the
# search finds a canary in the same outputs where it finds none of the secrets.
CONTROL = "Control-Claim-Value-8a41"


def control_token() -> str:
    """Return an unsigned JWT whose ``name`` claim is the control canary."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'name': CONTROL, 'aud': 'x'})}.sig"


def xoauth2_paste(token: str) -> str:
    return base64.b64encode(f"user={ALICE}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def command_lines(c: Canaries) -> list[Run]:
    """Every command a user runs against the canary sandbox, each with its input."""
    settings = str(c.settings_file)
    ca_file = str(c.sandbox.ca_file)
    port = {name: str(c.sandbox.endpoint(name).port) for name in (
        "imap-tls", "imap-starttls", "smtp-starttls", "smtp-tls")}
    app_variable = f"MAILDIAG_SANDBOX_APP_PASSWORD_{env_key('gina@gmail.sandbox.test')}"
    token_variable = f"MAILDIAG_SANDBOX_TOKEN_{env_key(ALICE)}"
    return [
        Run(["check", settings]),
        Run(["check", settings, "--json"]),
        # A STARTTLS probe of an implicit-TLS port waits for the greeting timeout, so 1 s.
        Run(["probe", "127.0.0.1", "--protocol", "imap", "--port", port["imap-tls"],
             "--port", port["imap-starttls"], "--ca-file", ca_file, "--timeout", "1"]),
        Run(["probe", "127.0.0.1", "--protocol", "smtp", "--port", port["smtp-starttls"],
             "--port", port["smtp-tls"], "--ca-file", ca_file, "--json", "--tls-versions",
             "--timeout", "1"]),
        Run(["login", settings, "--server", "dana-dovecot-imap"]),
        Run(["login", settings, "--server", "dana-dovecot-smtp", "--json"]),
        Run(["login", settings, "--server", "chris-courier-imap", "--mechanism", "plain"]),
        Run(["login", settings, "--server", "chris-courier-smtp", "--mechanism", "login"]),
        # The account password where Gmail wants the app password: rejected by the server.
        Run(["login", settings, "--server", "gina-gmail-smtp"],
            env={app_variable: GINA_ACCOUNT_PASSWORD}),
        Run(["login", settings, "--server", "gina-gmail-imap", "--json"]),
        Run(["login", settings, "--server", "alice-m365-imap"]),
        Run(["login", settings, "--server", "alice-m365-smtp", "--json",
             "--mechanism", "oauthbearer"]),
        Run(["login", settings, "--server", "alice-m365-imap", "--json"],
            env={token_variable: c.env["MAILDIAG_EXPIRED_TOKEN"]}),
        # Credentials in plain text on purpose: the output must still not show them.
        Run(["login", settings, "--server", "imap-no-starttls", "--allow-plaintext"]),
        Run(["login", settings, "--server", "smtp-no-starttls", "--allow-plaintext", "--json"]),
        Run(["login", settings, "--server", "imap-expired-certificate"]),
        Run(["login", settings, "--server", "imap-starttls-required", "--json"]),
        Run(["folders", settings, "--server", "chris-courier-imap"]),
        Run(["folders", settings, "--server", "alice-m365-imap", "--json"]),
        Run(["folders", settings, "--server", "dana-dovecot-imap", "--storage-folder", "Nope"]),
        Run(["token", "--decode"], stdin=c.token),
        Run(["token", "--decode", "--json", "--protocol", "smtp", "--user", ALICE],
            stdin=f"Bearer {c.token}\n"),
        Run(["token", "--decode"], stdin=xoauth2_paste(c.token)),
        Run(["token", "--decode", "--json"],
            stdin=json.dumps({"access_token": c.token, "refresh_token": REFRESH_TOKEN})),
        Run(["token", "--decode"], stdin=c.env["MAILDIAG_EXPIRED_TOKEN"]),
        Run(["token", "--decode"], stdin=REFRESH_TOKEN),
        Run(["token", "--decode", "--json"], stdin=control_token()),
    ]


@pytest.fixture(scope="module")
def child_runs(canaries: Canaries) -> tuple[list[Finished], str]:
    log_file = canaries.folder / "child-debug.log"
    finished = run_many(command_lines(canaries), env=canaries.env, log_file=str(log_file))
    return finished, log_file.read_text(encoding="utf-8")


def test_child_commands_worked(child_runs: tuple[list[Finished], str]) -> None:
    finished, log = child_runs
    # The runs did real work: logins succeeded and the log holds their transcripts.
    assert [run.returncode for run in finished].count(2) == 0
    assert all("Traceback" not in run.stderr for run in finished)
    assert "logged in" in finished[4].stdout
    assert "[password redacted]" in log
    assert "AUTHENTICATE XOAUTH2" in log


def test_child_outputs_have_no_canary(
    canaries: Canaries, child_runs: tuple[list[Finished], str]
) -> None:
    finished, log = child_runs
    texts = {"child debug log": log}
    for number, run in enumerate(finished):
        texts[f"stdout of run {number}"] = run.stdout
        texts[f"stderr of run {number}"] = run.stderr
    assert find_leaks(texts, canaries.secrets, ALICE) == []
    assert find_leaks(texts, [CONTROL], ALICE) == [
        f"secret 0 as raw in stdout of run {len(finished) - 1}"
    ]


def test_json_outputs_parse(child_runs: tuple[list[Finished], str]) -> None:
    finished, _log = child_runs
    for run in finished:
        if run.stdout.lstrip().startswith(("{", "[")):
            assert json.loads(run.stdout) is not None


def test_in_process_outputs_have_no_canary(
    canaries: Canaries,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: dict[str, str] = {}
    for number, run in enumerate(command_lines(canaries)):
        with monkeypatch.context() as patch:
            for name, value in {**canaries.env, **run.env}.items():
                patch.setenv(name, value)
            patch.setattr(sys, "stdin", _NotATerminal(run.stdin))
            toolkit.cli.main(list(run.argv))
        captured = capsys.readouterr()
        texts[f"stdout of run {number}"] = captured.out
        texts[f"stderr of run {number}"] = captured.err
    texts["caplog"] = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    # The sandbox runs in this process, so its own DEBUG records are searched too.
    assert any(record.name.startswith("pymap") for record in caplog.records)
    assert find_leaks(texts, canaries.secrets, ALICE) == []
    assert find_leaks(texts, [CONTROL], ALICE) != []


def test_working_folder_has_no_canary(
    canaries: Canaries, child_runs: tuple[list[Finished], str]
) -> None:
    files = read_tree(canaries.folder)
    assert "settings.toml" in files
    assert find_leaks(files, canaries.secrets, ALICE) == []


def test_result_objects_have_no_canary(canaries: Canaries) -> None:
    servers = [resolve_secrets(entry, canaries.env) for entry in load_settings(
        canaries.settings_file)]
    texts = {}
    for entry in servers:
        if entry.name in ("dana-dovecot-imap", "alice-m365-smtp", "gina-gmail-smtp"):
            check = check_login(entry)
            texts[f"repr of {entry.name}"] = repr(check) + repr(entry) + str(entry)
            texts[f"json of {entry.name}"] = json.dumps(check.to_dict())
    assert find_leaks(texts, canaries.secrets, ALICE) == []


class _NotATerminal:
    """Standard input as a pipe: no prompt is shown, and `read` returns the text given."""

    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def read(self) -> str:
        return self._text


SANDBOX_TENANT_TOML = "\n".join(
    [
        "[tenant]",
        'name = "Canary tenant"',
        'domain = "m365.sandbox.test"',
        "",
        "[[tenant.users]]",
        'address = "dana@dovecot.sandbox.test"',
        'personality = "dovecot"',
        f'password = "{DANA_PASSWORD}"',
        "",
        "[[tenant.users]]",
        'address = "gina@gmail.sandbox.test"',
        'personality = "gmail"',
        f'password = "{GINA_ACCOUNT_PASSWORD}"',
        f'app_password = "{GINA_APP_PASSWORD}"',
    ]
)
# Prints the sandbox's documented table of users and the export lines, both with passwords.
_DOCUMENTED_BLOCKS = ("Users (sandbox-only passwords):", "Password variables for the settings")


def without_documented_passwords(text: str) -> str:
    """Drop the two blocks of the sandbox's output that show passwords by design."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith(_DOCUMENTED_BLOCKS):
            skipping = True
            continue
        if skipping and not line.strip():
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


SANDBOX_DRIVER = """
import logging, sys
handler = logging.FileHandler(sys.argv[1], encoding="utf-8")
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.DEBUG)
from toolkit.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_sandbox_command(tmp_path: Path) -> None:
    tenant_file = tmp_path / "tenant.toml"
    tenant_file.write_text(SANDBOX_TENANT_TOML, encoding="utf-8")
    settings_file = tmp_path / "out" / "settings.toml"
    settings_file.parent.mkdir()
    log_file = tmp_path / "out" / "sandbox-debug.log"
    process = subprocess.Popen(
        [sys.executable, "-c", SANDBOX_DRIVER, str(log_file), "sandbox", "--port-base", "0",
         "--tenant", str(tenant_file), "--settings-out", str(settings_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Press Ctrl-C") or not line:
                break
        exports = dict(
            line[len("export "):].strip().split("=", 1) for line in lines
            if line.startswith("export ")
        )
        # Log in through the running sandbox, so its servers see the passwords.
        servers = [resolve_secrets(entry, exports) for entry in load_settings(settings_file)]
        logins = [check_login(entry) for entry in servers
                  if entry.name in ("dana-dovecot-imap", "gina-gmail-smtp")]
        assert [login.result.success for login in logins] == [True, True]
    finally:
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=30)
    stdout = "".join(lines) + rest
    assert process.returncode == 0
    # The control: the user table itself shows the passwords, and the search finds them.
    assert find_leaks({"stdout": stdout}, [DANA_PASSWORD], ALICE) != []
    texts = {"stdout without the documented blocks": without_documented_passwords(stdout),
             "stderr": stderr, **read_tree(settings_file.parent)}
    assert "Sandbox stopped." in texts["stdout without the documented blocks"]
    secrets = (DANA_PASSWORD, GINA_ACCOUNT_PASSWORD, GINA_APP_PASSWORD)
    assert find_leaks(texts, secrets, ALICE) == []
