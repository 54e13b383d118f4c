"""Malformed settings through the form, settings files and the command line.

Every input must give an error that names the field and gives the fix,
never a traceback. The command line must exit with 2 and print the reason to
stderr. The CLI cases run in one child process through `toolkit.cli.main`,
because each start of Python costs about half a second, and three of them also
in processes of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.cli import Finished, run_maildiag, run_many
from toolkit.settings import FieldError, SettingsError
from toolkit.settings_file import load_settings
from toolkit.widgets import SettingsForm

SECRET_IN_URL = "Url-Pa55word-e41c"
SECRET_IN_FILE = "File-Pa55word-0b9d"

# A usable IMAP entry as a form user fills it in; each case changes one field.
FORM_BASE: dict[str, Any] = {
    "protocol": "imap", "name": "support-imap", "host": "imap.example.com", "port": "993",
    "tls": True, "auth": "basic", "user": "support@example.com", "storage_folder": "Support",
}

FORM_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("empty-host", {"host": ""}, "host"),
    ("blank-host", {"host": "   "}, "host"),
    ("host-with-bad-port", {"host": "imap.example.com:99999"}, "host"),
    ("host-is-address", {"host": "support@example.com"}, "host"),
    ("host-with-space", {"host": "imap example.com"}, "host"),
    ("host-empty-label", {"host": "imap..example.com"}, "host"),
    ("host-http-url", {"host": "https://imap.example.com/owa"}, "host"),
    ("host-url-with-password", {"host": f"imaps://bob:{SECRET_IN_URL}@imap.example.com"}, "host"),
    ("host-long-label", {"host": "a" * 64 + ".example.com"}, "host"),
    ("host-hyphen-label", {"host": "-mail-.example.com"}, "host"),
    ("host-bad-ipv4", {"host": "999.1.1.1"}, "host"),
    ("host-unclosed-ipv6", {"host": "[::1"}, "host"),
    ("host-smtp-url-on-imap", {"host": "smtps://smtp.example.com"}, "host"),
    ("host-control-character", {"host": "imap.example.com\x00"}, "host"),
    ("port-letters", {"port": "abc"}, "port"),
    ("port-zero", {"port": "0"}, "port"),
    ("port-too-large", {"port": "65536"}, "port"),
    ("port-negative", {"port": "-1"}, "port"),
    ("port-with-spaces-inside", {"port": "9 9 3"}, "port"),
    ("port-arabic-digits", {"port": "\u0669\u0669\u0663"}, "port"),
    ("port-empty", {"port": ""}, "port"),
    ("port-differs-from-url", {"host": "imaps://imap.example.com:993", "port": "143"}, "port"),
    ("tls-contradicts-url", {"host": "imaps://imap.example.com", "port": "", "tls": False}, "tls"),
    ("name-empty", {"name": ""}, "name"),
    ("name-too-long", {"name": "n" * 65}, "name"),
    ("user-empty", {"user": ""}, "user"),
    ("user-with-space", {"user": "john smith@example.com"}, "user"),
    ("user-control-character", {"user": "support@example.com\x07"}, "user"),
    ("storage-folder-control-character", {"storage_folder": "Sup\nport"}, "storage_folder"),
    ("ca-file-control-character", {"ca_file": "ca\x1b.pem"}, "ca_file"),
]


def form_errors(values: Mapping[str, Any]) -> tuple[FieldError, ...]:
    form = SettingsForm()
    form.set_values(**{**FORM_BASE, **values})
    return form.errors


def assert_names_field_and_fix(errors: tuple[FieldError, ...], field_name: str) -> FieldError:
    named = [error for error in errors if error.field == field_name]
    assert named, [error.field for error in errors]
    assert named[0].fix.strip()
    assert named[0].problem.strip()
    return named[0]


def test_form_base_is_usable() -> None:
    assert form_errors({}) == ()


@pytest.mark.parametrize(("values", "field_name"), [case[1:] for case in FORM_CASES],
                         ids=[case[0] for case in FORM_CASES])
def test_form_input(values: dict[str, Any], field_name: str) -> None:
    errors = form_errors(values)
    error = assert_names_field_and_fix(errors, field_name)
    assert "Fix:" in str(error)
    assert SECRET_IN_URL not in " ".join(str(item) for item in errors)


@pytest.mark.parametrize(
    ("values", "field_name"),
    [({"protocol": "pop3"}, "protocol"), ({"auth": "kerberos"}, "auth")],
    ids=["protocol-pop3", "auth-kerberos"],
)
def test_form_rejects_choice(values: dict[str, Any], field_name: str) -> None:
    form = SettingsForm()
    with pytest.raises(SettingsError) as raised:
        form.set_values(**values)
    assert_names_field_and_fix(raised.value.errors, field_name)


def test_form_unknown_preset() -> None:
    with pytest.raises(ValueError, match=r"Preset 'yahoo' is not known\. Use one of: "):
        SettingsForm().set_values(preset="yahoo")


ENTRY = """[[server]]
name = "support-imap"
protocol = "imap"
host = "imap.example.com"
port = 993
tls = true
auth = "basic"
user = "support@example.com"
storage_folder = "Support"
"""


def entry_with(**changes: str) -> str:
    """Return ENTRY with some lines replaced; a value of "" drops the key."""
    lines = []
    for line in ENTRY.splitlines():
        key = line.split(" = ", 1)[0]
        if key in changes:
            if changes[key]:
                lines.append(f"{key} = {changes[key]}")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


FILE_CASES: list[tuple[str, str, str]] = [
    ("unquoted-string", "[[server]]\nname = support\n", "file"),
    ("empty-file", "", "server"),
    ("server-is-text", 'server = "imap.example.com"\n', "server"),
    ("misspelt-table", ENTRY.replace("[[server]]", "[[servers]]"), "servers"),
    ("missing-host", entry_with(host=""), "server 1 (support-imap): host"),
    ("missing-port", entry_with(port=""), "server 1 (support-imap): port"),
    ("missing-tls", entry_with(tls=""), "server 1 (support-imap): tls"),
    ("missing-auth", entry_with(auth=""), "server 1 (support-imap): auth"),
    ("missing-user", entry_with(user=""), "server 1 (support-imap): user"),
    ("missing-name", entry_with(name=""), "server 1: name"),
    ("missing-protocol", entry_with(protocol=""), "server 1 (support-imap): protocol"),
    ("port-text", entry_with(port='"abc"'), "server 1 (support-imap): port"),
    ("port-out-of-range", entry_with(port="70000"), "server 1 (support-imap): port"),
    ("port-boolean", entry_with(port="true"), "server 1 (support-imap): port"),
    ("port-float", entry_with(port="993.0"), "server 1 (support-imap): port"),
    ("tls-maybe", entry_with(tls='"maybe"'), "server 1 (support-imap): tls"),
    ("tls-number", entry_with(tls="1"), "server 1 (support-imap): tls"),
    ("protocol-pop3", entry_with(protocol='"pop3"'), "server 1 (support-imap): protocol"),
    ("protocol-number", entry_with(protocol="5"), "server 1 (support-imap): protocol"),
    ("auth-kerberos", entry_with(auth='"kerberos"'), "server 1 (support-imap): auth"),
    ("password-written", ENTRY + f'password = "{SECRET_IN_FILE}"\n',
     "server 1 (support-imap): password"),
    ("token-written", ENTRY + f'token = "{SECRET_IN_FILE}"\n', "server 1 (support-imap): token"),
    ("unknown-field", ENTRY + 'hostname = "imap.example.com"\n',
     "server 1 (support-imap): hostname"),
    ("password-env-hyphen", ENTRY + 'password_env = "MY-PASSWORD"\n',
     "server 1 (support-imap): password_env"),
    ("token-env-digit-first", ENTRY + 'token_env = "1TOKEN"\n',
     "server 1 (support-imap): token_env"),
    ("provider-with-space", ENTRY + 'provider = "Google Mail"\n',
     "server 1 (support-imap): provider"),
    ("name-number", entry_with(name="5"), "server 1: name"),
    ("user-list", entry_with(user='["support@example.com"]'), "server 1 (support-imap): user"),
    ("storage-folder-number", entry_with(storage_folder="5"),
     "server 1 (support-imap): storage_folder"),
    ("oauth-http-authority",
     ENTRY + '[server.oauth]\nauthority = "http://login.example.com/t"\nclient_id = "c"\n',
     "server 1 (support-imap): oauth.authority"),
    ("oauth-without-client-id",
     ENTRY + '[server.oauth]\nauthority = "https://login.example.com/t"\n',
     "server 1 (support-imap): oauth.client_id"),
    ("oauth-not-table", ENTRY + 'oauth = "yes"\n', "server 1 (support-imap): oauth"),
    ("oauth-scopes-number",
     ENTRY + '[server.oauth]\nauthority = "https://l.example.com/t"\nclient_id = "c"\nscopes = 5\n',
     "server 1 (support-imap): oauth.scopes"),
    ("tls-contradicts-url", entry_with(host='"imaps://imap.example.com"', tls="false", port=""),
     "server 1 (support-imap): tls"),
    ("second-entry-bad",
     ENTRY + ENTRY.replace('"support-imap"', '"second"').replace("port = 993", "port = 0"),
     "server 2 (second): port"),
]


def load_errors(tmp_path: Path, text: str | bytes) -> tuple[FieldError, ...]:
    path = tmp_path / "settings.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    return raised.value.errors


def test_file_base_is_usable(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(ENTRY, encoding="utf-8")
    assert len(load_settings(path)) == 1


@pytest.mark.parametrize(("text", "field_name"), [case[1:] for case in FILE_CASES],
                         ids=[case[0] for case in FILE_CASES])
def test_file_input(tmp_path: Path, text: str, field_name: str) -> None:
    errors = load_errors(tmp_path, text)
    assert_names_field_and_fix(errors, field_name)
    assert SECRET_IN_FILE not in " ".join(str(error) for error in errors)


def test_file_not_utf8(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, b'name = "\xff\xfe"\n')
    error = assert_names_field_and_fix(errors, "file")
    assert "UTF-8" in error.fix


def test_file_missing(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(tmp_path / "absent.toml")
    assert_names_field_and_fix(raised.value.errors, "file")


@dataclass(frozen=True)
class CliCase:
    """One unusable command line: the arguments, and what stderr must name and suggest."""

    name: str
    args: tuple[str, ...]
    field_name: str
    fix: str
    files: dict[str, str] = field(default_factory=dict)


CLI_CASES = [
    CliCase("check-port-text", ("check", "{bad_port}"), "port", "Fix: enter a whole number",
            {"bad_port": entry_with(port='"abc"')}),
    CliCase("check-password-written", ("check", "{password}"), "password",
            "Fix: set password_env", {"password": ENTRY + f'password = "{SECRET_IN_FILE}"\n'}),
    CliCase("check-invalid-toml", ("check", "{invalid}"), "file", "Fix: fix the syntax",
            {"invalid": "[[server]\n"}),
    CliCase("check-missing-file", ("check", "/nonexistent/settings.toml"), "file",
            "Fix: check the path"),
    CliCase("probe-host-address", ("probe", "support@example.com", "--protocol", "imap"),
            "HOST", "Fix: enter the server name"),
    CliCase("probe-host-http-url", ("probe", "https://mail.example.com/", "--protocol", "imap"),
            "HOST", "Fix: enter the mail server's name"),
    CliCase("probe-host-url-protocol", ("probe", "imaps://imap.example.com", "--protocol", "smtp"),
            "HOST", "Fix: use a smtp:// or smtps:// URL"),
    CliCase("probe-port-text", ("probe", "127.0.0.1", "--protocol", "imap", "--port", "abc"),
            "--port", "Fix: enter a whole number"),
    CliCase("probe-port-zero", ("probe", "127.0.0.1", "--protocol", "imap", "--port", "0"),
            "--port", "Fix: enter a whole number"),
    CliCase("probe-protocol-pop3", ("probe", "127.0.0.1", "--protocol", "pop3"),
            "--protocol", "Fix: use imap or smtp"),
    CliCase("probe-protocol-missing", ("probe", "127.0.0.1"), "--protocol", "required"),
    CliCase("probe-timeout-text", ("probe", "127.0.0.1", "--protocol", "imap", "--timeout", "x"),
            "--timeout", "give seconds as a number"),
    CliCase("probe-timeout-zero", ("probe", "127.0.0.1", "--protocol", "imap", "--timeout", "0"),
            "--timeout", "give seconds from 0.1 to 300"),
    CliCase("probe-timeout-huge",
            ("probe", "127.0.0.1", "--protocol", "imap", "--timeout", "1e9"),
            "--timeout", "give seconds from 0.1 to 300"),
    CliCase("probe-mode-unknown", ("probe", "127.0.0.1", "--protocol", "imap", "--mode", "ssl"),
            "--mode", "choose from"),
    CliCase("probe-tick-unknown", ("probe", "127.0.0.1", "--protocol", "imap", "--tick", "yes"),
            "--tick", "choose from"),
    CliCase("probe-ca-file-missing",
            ("probe", "127.0.0.1", "--protocol", "imap", "--ca-file", "/nonexistent/ca.pem"),
            "--ca-file", "Fix: give the path of a PEM file"),
    CliCase("login-unknown-server", ("login", "{good}", "--server", "nope"), "--server",
            "Fix: use one of support-imap", {"good": ENTRY}),
    CliCase("login-mechanism-unknown",
            ("login", "{good}", "--server", "support-imap", "--mechanism", "kerberos"),
            "--mechanism", "use one of LOGIN, PLAIN", {"good": ENTRY}),
    CliCase("login-timeout-negative",
            ("login", "{good}", "--server", "support-imap", "--timeout", "-1"),
            "--timeout", "give seconds from 0.1 to 300", {"good": ENTRY}),
    CliCase("folders-max-lines-zero",
            ("folders", "{good}", "--server", "support-imap", "--max-lines", "0"),
            "--max-lines", "give 1 or more", {"good": ENTRY}),
    CliCase("folders-no-password", ("folders", "{good}", "--server", "support-imap"),
            "password", "Fix: set the environment variable", {"good": ENTRY}),
    CliCase("token-protocol-pop3", ("token", "--decode", "--protocol", "pop3"), "protocol",
            "Fix: use imap or smtp"),
    CliCase("sandbox-port-base-text", ("sandbox", "--port-base", "ten"), "--port-base",
            "give a whole number"),
    CliCase("sandbox-port-base-too-large", ("sandbox", "--port-base", "70000"), "port_base",
            "use 0 for free ports"),
]


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    folder = tmp_path_factory.mktemp("cli-corpus")
    command_lines = []
    for case in CLI_CASES:
        paths = {}
        for key, text in case.files.items():
            path = folder / f"{case.name}-{key}.toml"
            path.write_text(text, encoding="utf-8")
            paths[key] = str(path)
        command_lines.append([argument.format(**paths) for argument in case.args])
    return dict(zip([case.name for case in CLI_CASES], run_many(command_lines), strict=True))


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.name for case in CLI_CASES])
def test_cli_input(cli_runs: dict[str, Finished], case: CliCase) -> None:
    finished = cli_runs[case.name]
    assert finished.returncode == 2, finished.stderr
    assert "Traceback" not in finished.stderr
    assert case.field_name in finished.stderr
    assert case.fix in finished.stderr
    assert finished.stdout == ""
    assert SECRET_IN_FILE not in finished.stderr


@pytest.mark.parametrize("name", ["check-port-text", "probe-port-text", "login-unknown-server"])
def test_cli_process(tmp_path: Path, name: str) -> None:
    # The same input in a process of its own, started the way a user starts maildiag.
    case = next(case for case in CLI_CASES if case.name == name)
    paths = {}
    for key, text in case.files.items():
        path = tmp_path / f"{key}.toml"
        path.write_text(text, encoding="utf-8")
        paths[key] = str(path)
    finished = run_maildiag(*[argument.format(**paths) for argument in case.args])
    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr
    assert case.field_name in finished.stderr
    assert case.fix in finished.stderr
