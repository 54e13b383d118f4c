"""Port verdicts and security findings from probe results (pure analysis, no network)."""

from __future__ import annotations

from typing import Any

from toolkit.probe.results import Endpoint, ProbeResult, Reason
from toolkit.settings import Protocol, Security
from toolkit.verdicts import port_verdict, security_findings


def result(protocol: Protocol, security: Security, reason: Reason, **fields: Any) -> ProbeResult:
    port = 587 if protocol is Protocol.SMTP else 143
    endpoint = Endpoint("mail.example.test", port, protocol, security)
    return ProbeResult(
        endpoint=endpoint, reason=reason, connected=True, stage="done", timings={}, **fields
    )


def ids(findings: Any) -> list[str]:
    return [finding.id for finding in findings]


def test_starttls_port_with_tick_on() -> None:
    verdict = port_verdict(
        result(Protocol.SMTP, Security.IMPLICIT_TLS, Reason.TLS_ON_PLAIN_PORT),
        result(Protocol.SMTP, Security.STARTTLS, Reason.OK),
        current_tick=True,
    )
    assert verdict.works_ticked is False
    assert verdict.works_unticked is True
    assert verdict.sentence.startswith("Port 587 speaks STARTTLS: untick TLS, or keep it ticked")
    assert "use port 465" in verdict.sentence
    assert verdict.change == "Untick TLS."
    assert ids(verdict.findings)[0] == "tls-tick-wrong-for-port"


def test_implicit_port_with_tick_off() -> None:
    verdict = port_verdict(
        result(Protocol.IMAP, Security.IMPLICIT_TLS, Reason.OK),
        result(Protocol.IMAP, Security.STARTTLS, Reason.PLAIN_ON_TLS_PORT),
        current_tick=False,
    )
    assert "speaks implicit TLS: tick TLS" in verdict.sentence
    assert "use port 143" in verdict.sentence
    assert verdict.change == "Tick TLS."


def test_right_tick_needs_no_change() -> None:
    verdict = port_verdict(
        result(Protocol.IMAP, Security.IMPLICIT_TLS, Reason.OK),
        result(Protocol.IMAP, Security.STARTTLS, Reason.PLAIN_ON_TLS_PORT),
        current_tick=True,
    )
    assert verdict.change.startswith("No change")
    assert "tls-tick-wrong-for-port" not in ids(verdict.findings)


def test_auth_only_after_starttls_is_not_password_problem() -> None:
    verdict = port_verdict(
        result(Protocol.SMTP, Security.IMPLICIT_TLS, Reason.TLS_ON_PLAIN_PORT),
        result(
            Protocol.SMTP,
            Security.STARTTLS,
            Reason.OK,
            capabilities_before=("PIPELINING", "STARTTLS"),
            capabilities_after=("PIPELINING", "AUTH PLAIN LOGIN"),
            auth_after=("PLAIN", "LOGIN"),
            starttls_offered=True,
        ),
    )
    assert "AUTH PLAIN LOGIN after it" in verdict.sentence
    assert "not a password problem" in verdict.sentence


def test_nothing_listens() -> None:
    verdict = port_verdict(
        result(Protocol.SMTP, Security.IMPLICIT_TLS, Reason.CONNECTION_REFUSED),
        result(Protocol.SMTP, Security.STARTTLS, Reason.CONNECTION_REFUSED),
    )
    assert "Nothing listens on port 587" in verdict.sentence
    assert ids(verdict.findings) == ["port-unusable"]


def test_untrusted_certificate_mode_still_works() -> None:
    verdict = port_verdict(
        result(Protocol.IMAP, Security.IMPLICIT_TLS, Reason.CERTIFICATE_UNTRUSTED),
        result(Protocol.IMAP, Security.STARTTLS, Reason.PLAIN_ON_TLS_PORT),
    )
    assert verdict.works_ticked is True
    assert "give the CA file" in verdict.sentence
    assert "certificate-untrusted" in ids(verdict.findings)


def test_plain_login_allowed_gives_security_findings() -> None:
    findings = security_findings(
        [
            result(
                Protocol.IMAP,
                Security.STARTTLS,
                Reason.OK,
                capabilities_before=("IMAP4rev1", "STARTTLS", "AUTH=PLAIN"),
                auth_before=("PLAIN",),
                login_disabled_before=False,
                starttls_offered=True,
            ),
        ]
    )
    assert ids(findings) == ["starttls-not-required", "auth-before-tls", "no-logindisabled"]


def test_logindisabled_gives_no_security_findings() -> None:
    findings = security_findings(
        [
            result(
                Protocol.IMAP,
                Security.STARTTLS,
                Reason.OK,
                capabilities_before=("IMAP4rev1", "STARTTLS", "LOGINDISABLED"),
                login_disabled_before=True,
                starttls_offered=True,
            ),
        ]
    )
    assert findings == []


def test_plaintext_after_go_ahead_finding() -> None:
    findings = security_findings(
        [
            result(
                Protocol.SMTP,
                Security.STARTTLS,
                Reason.OK,
                capabilities_before=("STARTTLS",),
                starttls_offered=True,
                plaintext_after_starttls=True,
            ),
        ]
    )
    assert ids(findings) == ["plaintext-after-starttls"]


def test_silent_port_verdict() -> None:
    verdict = port_verdict(
        result(Protocol.IMAP, Security.IMPLICIT_TLS, Reason.TLS_HANDSHAKE_TIMEOUT),
        result(Protocol.IMAP, Security.STARTTLS, Reason.GREETING_TIMEOUT),
    )
    assert "accepts connections but sends nothing" in verdict.sentence
    assert ids(verdict.findings) == ["port-unusable"]


def test_one_mode_failure_is_not_port_wide() -> None:
    verdict = port_verdict(
        result(Protocol.IMAP, Security.IMPLICIT_TLS, Reason.TLS_ON_PLAIN_PORT), None
    )
    assert verdict.sentence.startswith("Implicit TLS fails on port 143")
    assert "most likely speaks STARTTLS" in verdict.sentence
    assert ids(verdict.findings) == ["tls-mode-fails"]
    assert verdict.findings[0].fix.startswith("Untick TLS")


def test_one_mode_refused_is_port_wide() -> None:
    verdict = port_verdict(
        None, result(Protocol.SMTP, Security.STARTTLS, Reason.CONNECTION_REFUSED)
    )
    assert ids(verdict.findings) == ["port-unusable"]
    assert "Check the port number" in verdict.findings[0].fix


def test_busy_port_fix_is_specific() -> None:
    verdict = port_verdict(
        result(Protocol.SMTP, Security.IMPLICIT_TLS, Reason.SERVICE_UNAVAILABLE,
               server_text="421 4.7.0 Too many connections"),
        result(Protocol.SMTP, Security.STARTTLS, Reason.SERVICE_UNAVAILABLE,
               server_text="421 4.7.0 Too many connections"),
    )
    assert verdict.findings[0].fix.startswith("Wait and try again")


def test_unknown_tick_gives_setting_not_change() -> None:
    verdict = port_verdict(None, result(Protocol.SMTP, Security.STARTTLS, Reason.OK))
    assert verdict.change == "Use TLS unticked (STARTTLS)."
    assert verdict.current_tick is None
