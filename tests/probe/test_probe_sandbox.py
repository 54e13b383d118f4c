"""The probe against the sandbox: every reason its endpoints can produce, and the CLI."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.cli_run import maildiag
from toolkit.probe import Endpoint, Reason, Timeouts, probe
from toolkit.sandbox import Sandbox
from toolkit.settings import Protocol, Security
from toolkit.verdicts import port_verdict

FAST = Timeouts(connect=2, greeting=1, handshake=2, read=2)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port_base=0) as running:
        yield running


def target(
    sandbox: Sandbox,
    name: str,
    security: Security | None = None,
    *,
    ca: bool = True,
    protocol: Protocol | None = None,
) -> Endpoint:
    endpoint = sandbox.endpoint(name)
    return Endpoint(
        endpoint.host,
        endpoint.port,
        protocol or endpoint.protocol,
        security or endpoint.security,
        str(sandbox.ca_file) if ca else None,
    )


@pytest.mark.parametrize(
    ("name", "security", "reason"),
    [
        ("imap-tls", Security.IMPLICIT_TLS, Reason.OK),
        ("smtp-tls", Security.IMPLICIT_TLS, Reason.OK),
        ("imap-starttls", Security.STARTTLS, Reason.OK),
        ("smtp-starttls", Security.STARTTLS, Reason.OK),
        ("imap-starttls", Security.IMPLICIT_TLS, Reason.TLS_ON_PLAIN_PORT),
        ("smtp-starttls", Security.IMPLICIT_TLS, Reason.TLS_ON_PLAIN_PORT),
        ("imap-tls", Security.STARTTLS, Reason.PLAIN_ON_TLS_PORT),
        ("smtp-tls", Security.STARTTLS, Reason.PLAIN_ON_TLS_PORT),
        ("imap-no-starttls", Security.STARTTLS, Reason.STARTTLS_NOT_OFFERED),
        ("smtp-no-starttls", Security.STARTTLS, Reason.STARTTLS_NOT_OFFERED),
        ("imap-no-starttls", Security.NONE, Reason.OK),
        ("imap-expired-certificate", Security.IMPLICIT_TLS, Reason.CERTIFICATE_EXPIRED),
        ("smtp-expired-certificate", Security.IMPLICIT_TLS, Reason.CERTIFICATE_EXPIRED),
        (
            "imap-wrong-host-certificate",
            Security.IMPLICIT_TLS,
            Reason.CERTIFICATE_HOSTNAME_MISMATCH,
        ),
        (
            "smtp-wrong-host-certificate",
            Security.IMPLICIT_TLS,
            Reason.CERTIFICATE_HOSTNAME_MISMATCH,
        ),
        ("imap-silent", Security.STARTTLS, Reason.GREETING_TIMEOUT),
        ("smtp-silent", Security.IMPLICIT_TLS, Reason.TLS_HANDSHAKE_TIMEOUT),
        ("imap-busy", Security.STARTTLS, Reason.SERVICE_UNAVAILABLE),
        ("smtp-busy", Security.STARTTLS, Reason.SERVICE_UNAVAILABLE),
    ],
)
def test_sandbox_endpoint_reason(
    sandbox: Sandbox, name: str, security: Security, reason: Reason
) -> None:
    result = probe(target(sandbox, name, security), FAST)
    assert result.reason is reason, (result.error, result.server_text)


def test_private_ca_without_ca_file(sandbox: Sandbox) -> None:
    result = probe(target(sandbox, "imap-tls", ca=False), FAST)
    assert result.reason is Reason.CERTIFICATE_UNTRUSTED
    assert result.certificate is not None
    assert result.certificate.verified_against == "system store"


def test_smtp_on_imap_port_is_wrong_protocol(sandbox: Sandbox) -> None:
    result = probe(
        target(sandbox, "smtp-starttls", Security.STARTTLS, protocol=Protocol.IMAP), FAST
    )
    assert result.reason is Reason.WRONG_PROTOCOL
    assert result.server_text.startswith("220")


def test_imap_on_smtp_port_is_wrong_protocol(sandbox: Sandbox) -> None:
    result = probe(
        target(sandbox, "imap-starttls", Security.STARTTLS, protocol=Protocol.SMTP), FAST
    )
    assert result.reason is Reason.WRONG_PROTOCOL


def test_closed_port_is_refused() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    result = probe(Endpoint("127.0.0.1", port, Protocol.SMTP, Security.STARTTLS), FAST)
    assert result.reason is Reason.CONNECTION_REFUSED


def test_silent_endpoint_respects_timeout(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = probe(target(sandbox, "imap-silent", Security.STARTTLS), FAST)
    assert result.reason is Reason.GREETING_TIMEOUT
    assert time.monotonic() - started < FAST.greeting + FAST.handshake + 0.5


def test_expired_certificate_facts(sandbox: Sandbox) -> None:
    result = probe(target(sandbox, "imap-expired-certificate"), FAST)
    assert result.certificate is not None
    assert result.certificate.days_left < 0
    assert result.certificate.chain_verified is True


def test_wrong_host_certificate_lists_names(sandbox: Sandbox) -> None:
    result = probe(target(sandbox, "smtp-wrong-host-certificate"), FAST)
    verdict = port_verdict(result, None)
    assert "mail.other-host.test" in " ".join(finding.message for finding in verdict.findings)


def test_starttls_required_smtp_lists_auth_after(sandbox: Sandbox) -> None:
    result = probe(target(sandbox, "smtp-starttls-required"), FAST)
    assert result.reason is Reason.OK
    assert result.auth_before == ()
    assert "PLAIN" in result.auth_after


def test_starttls_required_imap_logindisabled(sandbox: Sandbox) -> None:
    result = probe(target(sandbox, "imap-starttls-required"), FAST)
    assert result.reason is Reason.OK
    assert result.login_disabled_before is True


def test_no_starttls_verdict(sandbox: Sandbox) -> None:
    plain = target(sandbox, "smtp-no-starttls")
    starttls = probe(Endpoint(plain.host, plain.port, plain.protocol, Security.STARTTLS), FAST)
    implicit = probe(Endpoint(plain.host, plain.port, plain.protocol, Security.IMPLICIT_TLS), FAST)
    verdict = port_verdict(implicit, starttls)
    assert "offers no STARTTLS" in verdict.sentence


def test_cli_probe_starttls_port(sandbox: Sandbox) -> None:
    port = sandbox.endpoint("smtp-starttls").port
    completed = maildiag(
        "probe",
        "127.0.0.1",
        "--protocol",
        "smtp",
        "--port",
        str(port),
        "--mode",
        "both",
        "--ca-file",
        str(sandbox.ca_file),
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    reasons = {probe["security"]: probe["reason"] for probe in report["probes"]}
    assert reasons == {"implicit-tls": "tls-on-plain-port", "starttls": "ok"}
    assert report["verdicts"][0]["sentence"].startswith(f"Port {port} speaks STARTTLS")


def test_cli_probe_text_names_change(sandbox: Sandbox) -> None:
    port = sandbox.endpoint("imap-tls").port
    completed = maildiag(
        "probe",
        "127.0.0.1",
        "--protocol",
        "imap",
        "--port",
        str(port),
        "--tick",
        "off",
        "--ca-file",
        str(sandbox.ca_file),
        "--timeout",
        "2",
    )
    assert completed.returncode == 1
    assert "Change: Tick TLS." in completed.stdout
    assert "tls-tick-wrong-for-port" in completed.stdout


def test_cli_tls_versions_on_sandbox(sandbox: Sandbox) -> None:
    port = sandbox.endpoint("imap-tls").port
    completed = maildiag(
        "probe",
        "127.0.0.1",
        "--protocol",
        "imap",
        "--port",
        str(port),
        "--ca-file",
        str(sandbox.ca_file),
        "--tls-versions",
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    support = {
        item["version"]: item["accepted"]
        for item in json.loads(completed.stdout)["tls_versions"][str(port)]
    }
    assert support["TLS 1.2"] is True
    assert support["TLS 1.3"] is True
    assert support["TLS 1.0"] is False
