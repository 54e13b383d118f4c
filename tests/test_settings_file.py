"""TOML settings files: load, save, round trip, and secrets kept out."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from toolkit.settings import AuthType, Protocol, SettingsError, build_settings
from toolkit.settings_file import dump_settings, load_settings, resolve_secrets, save_settings

CANARY = "canary-Pa55word-7f3e"
REPO = Path(__file__).resolve().parents[1]

GOOD = """
[[server]]
name = "support-imap"
protocol = "imap"
host = "IMAP.Example.com"
port = 993
tls = true
auth = "basic"
user = "support@example.com"
storage_folder = "Support"
password_env = "SUPPORT_PASSWORD"
ca_file = "ca.pem"

[[server]]
name = "support-smtp"
protocol = "smtp"
host = "smtp.example.com"
port = 587
tls = false
auth = "oauth2"
user = "support@example.com"
token_env = "SUPPORT_TOKEN"

[server.oauth]
authority = "https://login.example.test/tenant-id"
client_id = "11111111-2222-3333-4444-555555555555"
scopes = ["https://outlook.office.com/SMTP.Send"]

[[queue]]
name = "ignored by the settings loader"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reads_every_entry(tmp_path: Path) -> None:
    imap, smtp = load_settings(write(tmp_path, GOOD))
    assert imap.protocol is Protocol.IMAP
    assert imap.host == "imap.example.com"
    assert imap.ca_file == tmp_path / "ca.pem"
    assert imap.password_env == "SUPPORT_PASSWORD"
    assert smtp.tls is False
    assert smtp.auth is AuthType.OAUTH2
    assert smtp.oauth is not None
    assert smtp.oauth.scopes == ("https://outlook.office.com/SMTP.Send",)


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    servers = load_settings(write(tmp_path, GOOD))
    saved = save_settings(tmp_path / "copy.toml", servers)
    assert load_settings(saved) == servers


def test_save_never_writes_secret(tmp_path: Path) -> None:
    servers = [
        server.with_secrets(password=CANARY, token=CANARY)
        for server in load_settings(write(tmp_path, GOOD))
    ]
    text = save_settings(tmp_path / "copy.toml", servers).read_text(encoding="utf-8")
    assert CANARY not in text
    assert base64.b64encode(CANARY.encode()).decode() not in text
    assert "password_env" in text


def test_dump_uses_tls_tick(tmp_path: Path) -> None:
    text = dump_settings(load_settings(write(tmp_path, GOOD)))
    assert "tls = true" in text
    assert "tls = false" in text


def test_examples_load() -> None:
    for path in sorted((REPO / "examples").glob("*.toml")):
        assert load_settings(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[server]\nname = 1", "is not valid TOML"),
        ("name = 'x'", "is not a known table"),
        ("", "has no entries"),
        ("server = 5", "is not a list of tables"),
        (
            '[[server]]\nname = "a"\nprotocol = "imap"\nhost = "h"\nport = 0\ntls = true\n'
            'auth = "basic"\nuser = "u"',
            "server 1 (a): port",
        ),
        ('[[server]]\nname = "a"\npassword = "' + CANARY + '"', "must not be written"),
    ],
)
def test_unusable_file_names_problem(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text))
    assert words in str(caught.value)
    assert CANARY not in str(caught.value)
    assert caught.value.source == str(tmp_path / "settings.toml")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="was not found"):
        load_settings(tmp_path / "nope.toml")


def test_non_utf8_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[server]]\nname = "caf\xe9"\n')
    with pytest.raises(SettingsError, match="UTF-8"):
        load_settings(path)


def test_resolve_secrets_reads_environment() -> None:
    server = build_settings(
        {
            "name": "a",
            "protocol": "imap",
            "host": "h.example",
            "port": 993,
            "tls": True,
            "auth": "basic",
            "user": "u",
            "password_env": "P",
            "token_env": "T",
        }
    )
    resolved = resolve_secrets(server, {"P": CANARY})
    assert resolved.password is not None
    assert resolved.password.reveal() == CANARY
    assert resolved.token is None
    assert resolve_secrets(server, {}).password is None
