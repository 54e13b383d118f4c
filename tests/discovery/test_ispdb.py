"""The provider files in data/autoconfig/: format, sources and the product mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit.discovery.ispdb as ispdb
from toolkit.discovery.ispdb import (
    IspdbError,
    ispdb_providers,
    load_provider_file,
    provider_for_domain,
    provider_for_mx_host,
)
from toolkit.providers import providers
from toolkit.settings import Protocol

SERVER = (
    '<incomingServer type="imap"><hostname>imap.example.test</hostname><port>{port}</port>'
    "<socketType>{socket}</socketType><username>%EMAILLOCALPART%</username>"
    "<authentication>password-cleartext</authentication></incomingServer>"
)


def provider_xml(server: str = SERVER.format(port=993, socket="SSL")) -> str:
    return (
        '<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="example.test">'
        f"<domain>example.test</domain><displayName>Example</displayName>{server}"
        "</emailProvider></clientConfig>"
    )


def test_shipped_files_load_with_sources() -> None:
    loaded = {provider.file: provider for provider in ispdb_providers()}

    assert set(loaded) == {"googlemail.com.xml", "hotmail.com.xml", "office365.com.xml"}
    for provider in loaded.values():
        assert "Thunderbird ISPDB" in provider.source
        assert provider.product_provider in providers()
        assert provider.servers_for(Protocol.IMAP)
        assert provider.servers_for(Protocol.SMTP)


def test_gmail_file_matches_ispdb_facts() -> None:
    match = provider_for_domain("gmail.com")
    assert match is not None
    gmail, listed = match

    assert listed == "gmail.com"
    (imap,) = gmail.servers_for(Protocol.IMAP)
    assert (imap.host, imap.port, imap.socket_type, imap.tls) == (
        "imap.gmail.com", 993, "SSL", True,
    )
    smtp = [(s.host, s.port, s.tls) for s in gmail.servers_for(Protocol.SMTP)]
    assert smtp == [("smtp.gmail.com", 587, False), ("smtp.gmail.com", 465, True)]
    assert imap.authentication == ("OAuth2", "password-cleartext")
    assert imap.user_for("a@gmail.com") == "a@gmail.com"


@pytest.mark.parametrize(
    ("domain", "file", "listed"),
    [
        ("googlemail.com", "googlemail.com.xml", "googlemail.com"),
        ("outlook.com", "hotmail.com.xml", "outlook.com"),
        ("hotmail.com", "hotmail.com.xml", "hotmail.com"),
        ("office365.com", "office365.com.xml", "office365.com"),
        ("contoso.onmicrosoft.com", "office365.com.xml", "onmicrosoft.com"),
    ],
)
def test_domain_finds_file(domain: str, file: str, listed: str) -> None:
    match = provider_for_domain(domain)

    assert match is not None
    assert (match[0].file, match[1]) == (file, listed)


def test_unknown_domain_finds_nothing() -> None:
    assert provider_for_domain("example.test") is None


@pytest.mark.parametrize(
    ("host", "file"),
    [
        ("aspmx.l.google.com", "googlemail.com.xml"),
        ("contoso-com.mail.protection.outlook.com", "office365.com.xml"),
        ("eur.olc.protection.outlook.com", "hotmail.com.xml"),
    ],
)
def test_mx_host_longest_match_wins(host: str, file: str) -> None:
    match = provider_for_mx_host(host)

    assert match is not None
    assert match[0].file == file


def test_mx_host_of_unknown_provider() -> None:
    assert provider_for_mx_host("mx.example.test") is None


def test_user_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "example.test.xml"
    path.write_text(provider_xml(), encoding="utf-8")

    provider = load_provider_file(path, {"source": "a test"})

    assert provider.servers[0].user_for("jo@example.test") == "jo"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("<clientConfig>", "is not a readable XML file"),
        ("<other/>", "has no clientConfig/emailProvider element"),
        (provider_xml(SERVER.format(port=99999, socket="SSL")), "is not a port from 1 to 65535"),
        (provider_xml(SERVER.format(port=993, socket="TLS")), "<socketType> 'TLS' is not one of"),
    ],
)
def test_invalid_file_raises(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(IspdbError, match=words):
        load_provider_file(path, {"source": "a test"})


def test_file_without_source_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "example.test.xml").write_text(provider_xml(), encoding="utf-8")
    (tmp_path / "sources.toml").write_text("[files]\n", encoding="utf-8")
    monkeypatch.setattr(ispdb, "autoconfig_dir", lambda: tmp_path)
    ispdb_providers.cache_clear()
    try:
        with pytest.raises(IspdbError, match="every provider file needs its source"):
            ispdb_providers()
    finally:
        ispdb_providers.cache_clear()
