"""The probe and its verdicts against real Dovecot (IMAP) and Postfix (SMTP submission)."""

from __future__ import annotations

import json
import time

import pytest

from tests.cli_run import PROBE_JSON_KEYS, maildiag
from tests.realservers import REMOTE_LOOKING_HOST
from tests.realservers.dovecot import DovecotServer
from tests.realservers.postfix import PostfixServer
from toolkit.probe import Endpoint, Reason, Timeouts, probe
from toolkit.settings import Protocol, Security
from toolkit.verdicts import port_verdict

FAST = Timeouts(connect=3, greeting=2, handshake=3, read=3)


def imap(
    server: DovecotServer,
    port: int,
    security: Security,
    *,
    ca: bool = True,
    host: str | None = None,
) -> Endpoint:
    return Endpoint(
        host or server.host, port, Protocol.IMAP, security, str(server.ca_file) if ca else None
    )


def smtp(server: PostfixServer, port: int, security: Security, *, ca: bool = True) -> Endpoint:
    return Endpoint(server.host, port, Protocol.SMTP, security, str(server.ca_file) if ca else None)


@pytest.mark.dovecot
def test_dovecot_implicit_tls_ok(dovecot: DovecotServer) -> None:
    result = probe(imap(dovecot, dovecot.imap_tls_port, Security.IMPLICIT_TLS), FAST)
    assert result.reason is Reason.OK
    assert result.tls_version.startswith("TLSv1.")
    assert result.certificate is not None
    assert result.certificate.chain_verified is True
    assert result.certificate.hostname_matches is True
    assert "IMAP4rev1" in result.capabilities_before
    assert result.timings["tls_handshake"] > 0


@pytest.mark.dovecot
def test_dovecot_private_ca_is_untrusted(dovecot: DovecotServer) -> None:
    implicit = probe(imap(dovecot, dovecot.imap_tls_port, Security.IMPLICIT_TLS, ca=False), FAST)
    assert implicit.reason is Reason.CERTIFICATE_UNTRUSTED
    assert implicit.certificate is not None
    assert implicit.certificate.chain_verified is False
    starttls = probe(imap(dovecot, dovecot.imap_tls_port, Security.STARTTLS, ca=False), FAST)
    verdict = port_verdict(implicit, starttls)
    assert "give the CA file" in verdict.sentence
    assert "certificate-untrusted" in [finding.id for finding in verdict.findings]


@pytest.mark.dovecot
def test_dovecot_logindisabled_before_starttls(dovecot: DovecotServer) -> None:
    endpoint = imap(
        dovecot, dovecot.imap_starttls_port, Security.STARTTLS, host=REMOTE_LOOKING_HOST
    )
    result = probe(endpoint, FAST)
    assert result.reason is Reason.OK
    assert result.login_disabled_before is True
    assert "STARTTLS" in result.capabilities_before
    assert "LOGINDISABLED" in result.capabilities_before
    assert "LOGINDISABLED" not in result.capabilities_after
    assert "PLAIN" in result.auth_after
    verdict = port_verdict(None, result)
    assert "LOGINDISABLED" in verdict.sentence


@pytest.mark.dovecot
def test_implicit_tls_on_imap_starttls_port(dovecot: DovecotServer) -> None:
    implicit = probe(imap(dovecot, dovecot.imap_starttls_port, Security.IMPLICIT_TLS), FAST)
    assert implicit.reason is Reason.TLS_ON_PLAIN_PORT
    assert implicit.server_text.startswith("* OK")
    starttls = probe(imap(dovecot, dovecot.imap_starttls_port, Security.STARTTLS), FAST)
    verdict = port_verdict(implicit, starttls, current_tick=True)
    assert "speaks STARTTLS: untick TLS" in verdict.sentence
    assert "use port 993" in verdict.sentence
    assert verdict.change == "Untick TLS."


@pytest.mark.dovecot
def test_starttls_on_imap_implicit_port(dovecot: DovecotServer) -> None:
    started = time.monotonic()
    result = probe(imap(dovecot, dovecot.imap_tls_port, Security.STARTTLS), FAST)
    elapsed = time.monotonic() - started
    assert result.reason is Reason.PLAIN_ON_TLS_PORT
    assert "implicit TLS" in result.error
    assert elapsed < FAST.greeting + FAST.handshake
    implicit = probe(imap(dovecot, dovecot.imap_tls_port, Security.IMPLICIT_TLS), FAST)
    verdict = port_verdict(implicit, result, current_tick=False)
    assert "speaks implicit TLS: tick TLS" in verdict.sentence
    assert verdict.change == "Tick TLS."


@pytest.mark.postfix
def test_postfix_auth_only_after_starttls(postfix: PostfixServer) -> None:
    result = probe(smtp(postfix, postfix.smtp_starttls_port, Security.STARTTLS), FAST)
    assert result.reason is Reason.OK
    assert result.auth_before == ()
    assert set(result.auth_after) >= {"PLAIN", "LOGIN"}
    assert "STARTTLS" in result.capabilities_before
    verdict = port_verdict(None, result)
    assert "this is not a password problem" in verdict.sentence


@pytest.mark.postfix
def test_postfix_implicit_tls_ok(postfix: PostfixServer) -> None:
    result = probe(smtp(postfix, postfix.smtp_tls_port, Security.IMPLICIT_TLS), FAST)
    assert result.reason is Reason.OK
    assert result.greeting.startswith("220")
    assert any(capability.startswith("AUTH") for capability in result.capabilities_before)


@pytest.mark.postfix
def test_implicit_tls_on_smtp_starttls_port(postfix: PostfixServer) -> None:
    result = probe(smtp(postfix, postfix.smtp_starttls_port, Security.IMPLICIT_TLS), FAST)
    assert result.reason is Reason.TLS_ON_PLAIN_PORT
    assert result.server_text.startswith("220")


@pytest.mark.postfix
def test_cli_probe_json_on_starttls_port(postfix: PostfixServer) -> None:
    completed = maildiag(
        "probe",
        postfix.host,
        "--protocol",
        "smtp",
        "--port",
        str(postfix.smtp_starttls_port),
        "--mode",
        "both",
        "--ca-file",
        str(postfix.ca_file),
        "--timeout",
        "3",
        "--json",
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    reasons = {probe["security"]: probe["reason"] for probe in report["probes"]}
    assert reasons == {"implicit-tls": "tls-on-plain-port", "starttls": "ok"}
    (verdict,) = report["verdicts"]
    assert "speaks STARTTLS" in verdict["sentence"]
    for key in PROBE_JSON_KEYS:
        assert key in report["probes"][0]
