"""``maildiag discover`` run as a user runs it, always against a DNS server on 127.0.0.1."""

from __future__ import annotations

import json
import time

from tests.cli_run import maildiag
from toolkit.discovery.testdns import LocalDnsServer, SilentDnsServer


def test_gmail_from_provider_file(silent_dns: SilentDnsServer) -> None:
    result = maildiag(
        "discover", "support@gmail.com", "--dns-server", silent_dns.address,
        "--storage-folder", "Support",
    )

    assert result.returncode == 0
    assert result.stderr == ""
    assert silent_dns.query_count == 0
    assert "A provider file lists the domain, so no DNS query was made." in result.stdout
    assert "1. imap.gmail.com:993, TLS ticked, basic, user support@gmail.com" in result.stdout
    assert "from: ISPDB file googlemail.com.xml (domain gmail.com)" in result.stdout
    assert 'host = "smtp.gmail.com"' in result.stdout
    assert 'storage_folder = "Support"' in result.stdout


def test_mx_google_via_local_dns(local_dns: LocalDnsServer) -> None:
    result = maildiag("discover", "help@contoso-workspace.test", "--dns-server", local_dns.address)

    assert result.returncode == 1
    assert f"DNS server {local_dns.address}: contoso-workspace.test MX ok" in result.stdout
    assert "1. imap.gmail.com:993, TLS ticked" in result.stdout
    assert "(under google.com, so Google Workspace)" in " ".join(result.stdout.split())
    assert "[error] storage-folder-missing" in result.stdout


def test_json_output(local_dns: LocalDnsServer) -> None:
    result = maildiag(
        "discover", "help@northwind.test", "--dns-server", local_dns.address, "--json",
        "--storage-folder", "Support",
    )

    assert result.returncode == 0
    data = json.loads(result.stdout)
    best = [p for p in data["proposals"] if p["best"]]
    assert [p["settings"]["host"] for p in best] == ["mail.northwind.test", "smtp.northwind.test"]
    assert best[0]["source"].startswith("SRV record _imaps._tcp.northwind.test.")
    assert data["findings"][0]["id"] == "service-not-offered"


def test_no_proposal_exits_1(local_dns: LocalDnsServer) -> None:
    result = maildiag("discover", "help@blank.test", "--dns-server", local_dns.address)

    assert result.returncode == 1
    assert "IMAP: no proposal" in result.stdout
    assert "[error] no-proposal: No IMAP settings can be proposed for blank.test" in result.stdout
    assert "A settings file with the best proposals" not in result.stdout


def test_timeout_ends_with_reason(silent_dns: SilentDnsServer) -> None:
    started = time.monotonic()

    result = maildiag(
        "discover", "help@slow.test", "--dns-server", silent_dns.address, "--timeout", "1"
    )

    assert time.monotonic() - started < 10
    assert result.returncode == 1
    words = " ".join(result.stdout.split())
    assert f"[error] dns-timeout: The DNS server {silent_dns.address} did not answer" in words


def test_bad_address_exits_2(local_dns: LocalDnsServer) -> None:
    result = maildiag("discover", "support.example.com", "--dns-server", local_dns.address)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "maildiag discover: address: 'support.example.com' is not an email address" in (
        result.stderr
    )


def test_bad_dns_server_exits_2() -> None:
    result = maildiag("discover", "a@blank.test", "--dns-server", "dns.example:53")

    assert result.returncode == 2
    assert "--dns-server 'dns.example:53' is not an IP address" in result.stderr
