"""Parsing of pasted settings input: what must survive and what must be named as an error."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest

from toolkit.secret import Secret
from toolkit.settings import (
    AuthType,
    Protocol,
    Security,
    SettingsError,
    build_settings,
    parse_host,
    parse_port,
)

CANARY = "canary-Pa55word-7f3e"

BASE: dict[str, Any] = {
    "name": "support-imap",
    "protocol": "imap",
    "host": "imap.example.com",
    "port": 993,
    "tls": True,
    "auth": "basic",
    "user": "support@example.com",
    "storage_folder": "Support",
}


def build(**changes: Any) -> Any:
    raw = {**BASE, **changes}
    return build_settings({key: value for key, value in raw.items() if value is not ...})


@pytest.mark.parametrize(
    ("pasted", "host", "port", "tls"),
    [
        ("imap.example.com", "imap.example.com", None, None),
        ("  imap.example.com  ", "imap.example.com", None, None),
        ("\timap.example.com\n", "imap.example.com", None, None),
        ("IMAP.Example.COM", "imap.example.com", None, None),
        ("imap.example.com.", "imap.example.com", None, None),
        ("imap.example.com:993", "imap.example.com", 993, None),
        ("imap.example.com/", "imap.example.com", None, None),
        ("imaps://imap.example.com:993/", "imap.example.com", 993, True),
        ("imaps://imap.example.com", "imap.example.com", 993, True),
        ("IMAPS://IMAP.EXAMPLE.COM:10993", "imap.example.com", 10993, True),
        ("imap://imap.example.com", "imap.example.com", 143, False),
        ("imap://imap.example.com/INBOX", "imap.example.com", 143, False),
        ("bücher.example", "xn--bcher-kva.example", None, None),
        ("Bücher.Example.", "xn--bcher-kva.example", None, None),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", None, None),
        ("127.0.0.1", "127.0.0.1", None, None),
        ("127.0.0.1:10993", "127.0.0.1", 10993, None),
        ("::1", "::1", None, None),
        ("[::1]", "::1", None, None),
        ("[::1]:993", "::1", 993, None),
        ("imaps://[::1]:993", "::1", 993, True),
        ("localhost", "localhost", None, None),
    ],
)
def test_parse_host_accepts_pasted_forms(
    pasted: str, host: str, port: int | None, tls: bool | None
) -> None:
    parsed = parse_host(pasted, Protocol.IMAP)
    assert parsed.host == host
    assert parsed.port == port
    assert parsed.tls == tls


@pytest.mark.parametrize(
    ("pasted", "protocol", "port", "tls"),
    [
        ("smtp://smtp.example.com", Protocol.SMTP, 25, False),
        ("smtps://smtp.example.com", Protocol.SMTP, 465, True),
        ("submission://smtp.example.com", Protocol.SMTP, 587, False),
        ("submissions://smtp.example.com", Protocol.SMTP, 465, True),
        ("smtp://smtp.example.com:587", Protocol.SMTP, 587, False),
    ],
)
def test_parse_host_smtp_schemes(pasted: str, protocol: Protocol, port: int, tls: bool) -> None:
    parsed = parse_host(pasted, Protocol.SMTP)
    assert parsed.protocol is protocol
    assert parsed.port == port
    assert parsed.tls is tls


def test_url_fills_protocol_port_and_tick() -> None:
    settings = build(protocol=..., port=..., tls=..., host="imaps://Imap.Example.com:993/")
    assert settings.protocol is Protocol.IMAP
    assert settings.port == 993
    assert settings.tls is True
    assert settings.security is Security.IMPLICIT_TLS


def test_pasted_values_are_cleaned() -> None:
    settings = build(
        name="  support-imap ",
        host=" IMAP.Example.com. ",
        port=" 993 ",
        tls="yes",
        auth=" OAuth2 ",
        user=" support@example.com ",
        storage_folder=" Support ",
        protocol="IMAP",
    )
    assert settings.name == "support-imap"
    assert settings.host == "imap.example.com"
    assert settings.port == 993
    assert settings.tls is True
    assert settings.auth is AuthType.OAUTH2
    assert settings.user == "support@example.com"
    assert settings.storage_folder == "Support"


def test_unticked_means_starttls() -> None:
    assert build(port=143, tls=False).security is Security.STARTTLS


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"host": ""}, "host", "is empty"),
        ({"host": "   "}, "host", "is empty"),
        ({"host": ...}, "host", "is missing"),
        ({"host": None}, "host", "is missing"),
        ({"host": 42}, "host", "is not text"),
        ({"host": "imap.example .com"}, "host", "contains a space"),
        ({"host": "imap example.com"}, "host", "contains a space"),
        ({"host": "imap..example.com"}, "host", "empty label"),
        ({"host": ".example.com"}, "host", "empty label"),
        ({"host": "."}, "host", "empty label"),
        ({"host": "-imap.example.com"}, "host", "invalid label"),
        ({"host": "imap-.example.com"}, "host", "invalid label"),
        ({"host": "imap_1.example.com"}, "host", "invalid label"),
        ({"host": "imap!.example.com"}, "host", "invalid label"),
        ({"host": "a" * 64 + ".example.com"}, "host", "more than the 63 allowed"),
        ({"host": "xn--zz.example"}, "host", "not a valid host name"),
        ({"host": ".".join(["abcdefghij"] * 26)}, "host", "not a valid host name"),
        ({"host": "support@example.com"}, "host", "email address"),
        ({"host": "https://outlook.office365.com/mail"}, "host", "not a mail server address"),
        ({"host": "http://example.com"}, "host", "not a mail server address"),
        ({"host": "ftp://example.com"}, "host", "not a mail server address"),
        ({"host": "smtp://smtp.example.com"}, "host", "but this entry is IMAP"),
        ({"host": "smtps://smtp.example.com:465"}, "host", "but this entry is IMAP"),
        ({"host": "imaps://"}, "host", "has no host name"),
        ({"host": "imaps://imap.example.com:99999"}, "host", "not a valid URL"),
        ({"host": "imaps://imap.example.com:abc"}, "host", "not a valid URL"),
        ({"host": "imap.example.com:abc"}, "host", "not a port"),
        ({"host": "imap.example.com:0"}, "host", "not a port"),
        ({"host": "imap.example.com:70000"}, "host", "not a port"),
        ({"host": "imap.example.com/inbox"}, "host", "contains a slash"),
        ({"host": "[::1"}, "host", "unclosed"),
        ({"host": "[::1]x"}, "host", "text after"),
        ({"host": "999.1.1.1"}, "host", "not a valid IP address"),
        ({"host": "10.0.0"}, "host", "not a valid IP address"),
        ({"port": 0}, "port", "outside the port range"),
        ({"port": 70000}, "port", "outside the port range"),
        ({"port": -1}, "port", "outside the port range"),
        ({"port": 65536}, "port", "outside the port range"),
        ({"port": "abc"}, "port", "is not a number"),
        ({"port": "99 3"}, "port", "is not a number"),
        ({"port": "993.0"}, "port", "is not a number"),
        ({"port": "٩٩٣"}, "port", "is not a number"),
        ({"port": 993.0}, "port", "is not a port number"),
        ({"port": True}, "port", "is not a port number"),
        ({"port": ...}, "port", "is missing"),
        ({"port": "   "}, "port", "is empty"),
        ({"host": "imap.example.com:993", "port": 143}, "port", "differs from port 993"),
        ({"host": "imaps://imap.example.com", "tls": False}, "tls", "contradicts the URL"),
        ({"tls": "maybe"}, "tls", "is not a TLS tick"),
        ({"tls": 2}, "tls", "is not a TLS tick"),
        ({"tls": ...}, "tls", "is missing"),
        ({"protocol": "pop3"}, "protocol", "not a known protocol"),
        ({"protocol": ...}, "protocol", "is missing"),
        ({"auth": "kerberos"}, "auth", "not a known authentication type"),
        ({"auth": ...}, "auth", "is missing"),
        ({"name": ""}, "name", "is missing"),
        ({"name": "x" * 65}, "name", "longer than 64"),
        ({"name": "bad\x00name"}, "name", "control character"),
        ({"user": ""}, "user", "is missing"),
        ({"user": "support @example.com"}, "user", "contains a space"),
        ({"user": ["a"]}, "user", "is not text"),
        ({"password_env": "MY-PASSWORD"}, "password_env", "not an environment variable name"),
        ({"token_env": "1TOKEN"}, "token_env", "not an environment variable name"),
        ({"provider": "Gmail!"}, "provider", "not a provider key"),
        ({"colour": "blue"}, "colour", "not a known field"),
        ({"oauth": "yes"}, "oauth", "is not a table"),
        ({"oauth": {"client_id": "abc"}}, "oauth.authority", "is missing"),
        (
            {"oauth": {"authority": "http://example.test/t", "client_id": "a"}},
            "oauth.authority",
            "not an https",
        ),
        ({"oauth": {"authority": "https://example.test/t"}}, "oauth.client_id", "is missing"),
        (
            {"oauth": {"authority": "https://example.test/t", "client_id": "a", "scopes": 5}},
            "oauth.scopes",
            "not a list",
        ),
    ],
)
def test_malformed_input_names_field(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        build(**changes)
    matching = [error for error in caught.value.errors if error.field == field]
    assert matching, f"no error for {field}: {caught.value}"
    assert words in matching[0].problem
    assert matching[0].fix
    assert field in str(caught.value)


def test_malformed_table_is_large() -> None:
    cases = test_malformed_input_names_field.pytestmark[0].args[1]  # type: ignore[attr-defined]
    assert len(cases) >= 40


def test_every_error_reported_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        build(host="a b", port="abc", tls="maybe", auth="kerberos")
    fields = {error.field for error in caught.value.errors}
    assert fields == {"host", "port", "tls", "auth"}


def test_url_with_password_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        build(host=f"imaps://support:{CANARY}@imap.example.com:993/")
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value.errors)
    assert "contains a user name or password" in str(caught.value)


def test_password_key_in_file_is_rejected_without_echo() -> None:
    with pytest.raises(SettingsError) as caught:
        build(password=CANARY)
    assert CANARY not in str(caught.value)
    assert "password_env" in caught.value.errors[0].fix


@pytest.mark.parametrize("value", ["0", "65536", "-5", "", "x"])
def test_parse_port_rejects(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_port(value)
    assert caught.value.errors[0].field == "port"
    assert "1 to 65535" in caught.value.errors[0].fix


def test_relative_ca_file_joins_base_dir(tmp_path: Path) -> None:
    settings = build_settings({**BASE, "ca_file": "certs/ca.pem"}, base_dir=tmp_path)
    assert settings.ca_file == tmp_path / "certs" / "ca.pem"


class TestSecrets:
    def settings(self) -> Any:
        return build_settings(BASE, password=CANARY, token=CANARY + "-token")

    def test_repr_and_str_hide_secret(self) -> None:
        settings = self.settings()
        assert CANARY not in repr(settings)
        assert CANARY not in str(settings)
        assert CANARY not in f"{settings.password}"
        assert CANARY not in repr(settings.password)

    def test_to_dict_has_no_secret(self) -> None:
        settings = self.settings()
        assert CANARY not in repr(settings.to_dict())
        assert "password" not in settings.to_dict()

    def test_secret_reveals_value(self) -> None:
        settings = self.settings()
        assert settings.password is not None
        assert settings.password.reveal() == CANARY

    def test_secret_refuses_pickle(self) -> None:
        with pytest.raises(TypeError):
            pickle.dumps(Secret(CANARY))

    def test_deepcopy_keeps_secret(self) -> None:
        settings = self.settings()
        copied = copy.deepcopy(settings)
        assert copied.password == settings.password

    def test_equality_ignores_secret(self) -> None:
        assert build_settings(BASE, password="a") == build_settings(BASE, password="b")

    def test_secret_rejects_non_text(self) -> None:
        with pytest.raises(TypeError):
            Secret(b"bytes")  # type: ignore[arg-type]


def test_endpoint_brackets_ipv6() -> None:
    assert build(host="::1", port=10993).endpoint == "[::1]:10993"
    assert build(host="127.0.0.1", port=10993).endpoint == "127.0.0.1:10993"
