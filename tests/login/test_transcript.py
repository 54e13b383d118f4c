"""Redaction of login transcripts where each line is written, and their DEBUG log."""

from __future__ import annotations

import base64
import logging

import pytest

from tests.login.canary import assert_absent
from toolkit.login import sasl
from toolkit.login.transcript import Transcript

CANARY = "canary-Pa55-transcript-9c1d"
USER = "dana@example.test"


def texts(transcript: Transcript) -> list[str]:
    return [line.text for line in transcript.lines]


def test_login_command_keeps_user_redacts_password() -> None:
    transcript = Transcript("imap test")
    transcript.protect(CANARY)
    transcript.record("C", b'L1 LOGIN "' + USER.encode() + b'" "' + CANARY.encode() + b'"')
    assert texts(transcript) == [f'L1 LOGIN "{USER}" [password redacted]']


def test_authenticate_initial_response_redacted() -> None:
    transcript = Transcript("imap test")
    payload = sasl.b64(sasl.xoauth2_response(USER, CANARY))
    transcript.record("C", b"L1 AUTHENTICATE XOAUTH2 " + payload)
    assert texts(transcript) == ["L1 AUTHENTICATE XOAUTH2 [initial response redacted]"]


def test_continuation_responses_redacted_until_tagged_reply() -> None:
    transcript = Transcript("imap test")
    transcript.record("C", b"L1 AUTHENTICATE PLAIN")
    transcript.record("S", b"+ ")
    transcript.record("C", sasl.b64(sasl.plain_response(USER, CANARY)))
    transcript.record("S", b"L1 OK done")
    transcript.record("C", b"L2 EXAMINE INBOX")
    assert texts(transcript) == [
        "L1 AUTHENTICATE PLAIN",
        "+ ",
        "[SASL response redacted]",
        "L1 OK done",
        "L2 EXAMINE INBOX",
    ]


def test_smtp_auth_login_exchange_redacted() -> None:
    transcript = Transcript("smtp test")
    transcript.record("C", b"AUTH LOGIN")
    transcript.record("S", b"334 VXNlcm5hbWU6")
    transcript.record("C", base64.b64encode(USER.encode()))
    transcript.record("S", b"334 UGFzc3dvcmQ6")
    transcript.record("C", base64.b64encode(CANARY.encode()))
    transcript.record("S", b"535 5.7.8 Authentication credentials invalid")
    transcript.record("C", b"QUIT")
    assert texts(transcript) == [
        "AUTH LOGIN",
        "334 VXNlcm5hbWU6 (decoded: Username:)",
        "[SASL response redacted]",
        "334 UGFzc3dvcmQ6 (decoded: Password:)",
        "[SASL response redacted]",
        "535 5.7.8 Authentication credentials invalid",
        "QUIT",
    ]


def test_token_error_challenge_decoded_and_ack_shown() -> None:
    transcript = Transcript("smtp test")
    transcript.record("C", b"AUTH OAUTHBEARER " + sasl.b64(b"n,a=u,\x01auth=Bearer x\x01\x01"))
    challenge = base64.b64encode(b'{"status":"invalid_token"}')
    transcript.record("S", b"334 " + challenge)
    transcript.record("C", b"AQ==")
    transcript.record("S", b"535 5.7.3 Authentication unsuccessful")
    assert texts(transcript)[1].endswith('(decoded: {"status":"invalid_token"})')
    assert texts(transcript)[2] == "AQ== (0x01)"


def test_secret_echoed_by_server_is_masked() -> None:
    transcript = Transcript("imap test")
    transcript.protect(CANARY)
    transcript.record("S", f"* NO your password {CANARY} is wrong".encode())
    encoded = base64.b64encode(b"xy" + CANARY.encode()).decode()
    transcript.record("S", f"* NO echo {encoded}".encode())
    assert_absent(CANARY, texts(transcript), USER)


@pytest.mark.parametrize("mechanism", ["PLAIN", "XOAUTH2"])
def test_debug_log_has_no_secret(caplog: pytest.LogCaptureFixture, mechanism: str) -> None:
    caplog.set_level(logging.DEBUG)
    transcript = Transcript("imap test")
    transcript.protect(CANARY)
    if mechanism == "PLAIN":
        payload = sasl.plain_response(USER, CANARY)
    else:
        payload = sasl.xoauth2_response(USER, CANARY)
    transcript.protect(payload)
    transcript.record("C", b"L1 AUTHENTICATE " + mechanism.encode() + b" " + sasl.b64(payload))
    transcript.record("S", b"L1 NO failed")
    logged = [record.getMessage() for record in caplog.records]
    assert any("AUTHENTICATE" in message for message in logged)
    assert_absent(CANARY, logged + texts(transcript), USER)
