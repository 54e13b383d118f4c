"""Sender rules and header rewriting, without a server."""

from __future__ import annotations

import pytest

from toolkit.sandbox import default_tenant
from toolkit.sandbox.sending import (
    FromAction,
    apply_headers,
    check_envelope_sender,
    decide_headers,
    envelope_sender,
    header_from_address,
)
from toolkit.sandbox.tenant import SandboxUser

TENANT = default_tenant()


def user(address: str) -> SandboxUser:
    found = TENANT.user(address)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("sender", "header_from", "action"),
    [
        ("gina@gmail.sandbox.test", "gina@gmail.sandbox.test", FromAction.KEPT),
        ("gina@gmail.sandbox.test", "help@shop.sandbox.test", FromAction.KEPT),
        ("gina@gmail.sandbox.test", "boss@elsewhere.test", FromAction.REWRITTEN),
        ("gina@gmail.sandbox.test", None, FromAction.ADDED),
        ("alice@m365.sandbox.test", "support@m365.sandbox.test", FromAction.KEPT),
        ("bob@m365.sandbox.test", "support@m365.sandbox.test", FromAction.SENDER_ADDED),
        ("carol@m365.sandbox.test", "support@m365.sandbox.test", FromAction.REJECTED),
        ("dana@dovecot.sandbox.test", "boss@elsewhere.test", FromAction.KEPT),
        ("chris@courier.sandbox.test", "boss@elsewhere.test", FromAction.KEPT),
        ("chris@courier.sandbox.test", None, FromAction.KEPT),
    ],
)
def test_header_decisions(sender: str, header_from: str | None, action: str) -> None:
    assert decide_headers(user(sender), header_from).action == action


@pytest.mark.parametrize(
    ("sender", "mail_from", "kept"),
    [
        ("gina@gmail.sandbox.test", "boss@elsewhere.test", "gina@gmail.sandbox.test"),
        ("gina@gmail.sandbox.test", "Help@Shop.sandbox.test", "Help@Shop.sandbox.test"),
        ("gina@gmail.sandbox.test", "", ""),
        ("chris@courier.sandbox.test", "boss@elsewhere.test", "boss@elsewhere.test"),
    ],
)
def test_envelope_sender_kept(sender: str, mail_from: str, kept: str) -> None:
    assert envelope_sender(user(sender), mail_from) == kept


def test_send_as_denied_reply_names_both_addresses() -> None:
    decision = decide_headers(user("carol@m365.sandbox.test"), "Support@M365.sandbox.test")
    assert decision.reply == (
        "554 5.2.252 SendAsDenied; carol@m365.sandbox.test not allowed to send as "
        "support@m365.sandbox.test")


@pytest.mark.parametrize(
    ("sender", "mail_from", "reply_start"),
    [
        ("alice@m365.sandbox.test", "support@m365.sandbox.test", None),
        ("bob@m365.sandbox.test", "support@m365.sandbox.test", None),
        ("carol@m365.sandbox.test", "support@m365.sandbox.test", "550 5.7.60 "),
        ("dana@dovecot.sandbox.test", "Dana@Dovecot.Sandbox.Test", None),
        ("dana@dovecot.sandbox.test", "other@dovecot.sandbox.test", "553 5.7.1 "),
        ("gina@gmail.sandbox.test", "boss@elsewhere.test", None),
        ("chris@courier.sandbox.test", "boss@elsewhere.test", None),
        ("carol@m365.sandbox.test", "", None),
    ],
)
def test_envelope_sender_checks(sender: str, mail_from: str, reply_start: str | None) -> None:
    reply = check_envelope_sender(user(sender), mail_from)
    if reply_start is None:
        assert reply is None
    else:
        assert reply is not None
        assert reply.startswith(reply_start)


def test_apply_headers_replaces_folded_from_and_keeps_body() -> None:
    message = (b"Received: by x\r\nFrom: \"Long Name\"\r\n <boss@elsewhere.test>\r\n"
               b"Subject: hi\r\nSender: old@elsewhere.test\r\n\r\nFrom: body line\r\n")
    decision = decide_headers(user("bob@m365.sandbox.test"), "support@m365.sandbox.test")
    assert decision.action == FromAction.SENDER_ADDED
    rewritten = apply_headers(message, decision)
    assert rewritten == (b"Sender: Bob M365 <bob@m365.sandbox.test>\r\nReceived: by x\r\n"
                         b"From: \"Long Name\"\r\n <boss@elsewhere.test>\r\nSubject: hi\r\n"
                         b"\r\nFrom: body line\r\n")
    gmail = decide_headers(user("gina@gmail.sandbox.test"), "boss@elsewhere.test")
    rewritten = apply_headers(message, gmail)
    assert rewritten.startswith(b"From: Gina Gmail <gina@gmail.sandbox.test>\r\nReceived: by x\r\n")
    assert b"boss@elsewhere.test" not in rewritten
    assert rewritten.endswith(b"\r\n\r\nFrom: body line\r\n")


def test_apply_headers_without_change_returns_message() -> None:
    message = b"From: a@b.test\r\n\r\nbody\r\n"
    decision = decide_headers(user("chris@courier.sandbox.test"), "a@b.test")
    assert apply_headers(message, decision) is message


def test_header_from_address() -> None:
    assert header_from_address(b"From: \"A, B\" <a@b.test>\r\n\r\n") == "a@b.test"
    assert header_from_address(b"Subject: none\r\n\r\n") is None
    assert header_from_address(b"From: undisclosed-recipients:;\r\n\r\n") is None
