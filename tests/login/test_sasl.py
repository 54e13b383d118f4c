"""Client responses and encoding limits of the login mechanisms."""

from __future__ import annotations

import base64

import pytest

from toolkit.login import sasl
from toolkit.login.sasl import Mechanism
from toolkit.settings import Protocol


def test_plain_response_is_utf8_with_empty_authzid() -> None:
    assert sasl.plain_response("ünï@example.test", "pässwörd") == (
        b"\x00" + "ünï@example.test".encode() + b"\x00" + "pässwörd".encode()
    )


def test_xoauth2_response_format() -> None:
    assert sasl.xoauth2_response("a@b.test", "tok") == b"user=a@b.test\x01auth=Bearer tok\x01\x01"


def test_oauthbearer_response_escapes_saslname() -> None:
    response = sasl.oauthbearer_response("a,b=c@d.test", "tok", "imap.test", 993)
    assert response == (
        b"n,a=a=2Cb=3Dc@d.test,\x01host=imap.test\x01port=993\x01auth=Bearer tok\x01\x01"
    )


def test_imap_quoted_escapes_quote_and_backslash() -> None:
    assert sasl.imap_quoted('a"b\\c') == b'"a\\"b\\\\c"'


@pytest.mark.parametrize("mechanism", [Mechanism.IMAP_LOGIN, Mechanism.LOGIN])
def test_non_ascii_password_not_encodable_for_login(mechanism: Mechanism) -> None:
    problem = sasl.encoding_problem(mechanism, "dana@example.test", "pässwörd")
    assert problem is not None
    assert "2 character(s) outside ASCII" in problem
    assert "pässwörd" not in problem


def test_non_ascii_password_encodable_for_plain() -> None:
    assert sasl.encoding_problem(Mechanism.PLAIN, "dana@example.test", "pässwörd") is None


def test_line_break_in_password_not_encodable() -> None:
    assert sasl.encoding_problem(Mechanism.IMAP_LOGIN, "u", "a\r\nb") is not None


def test_nul_not_encodable_for_plain() -> None:
    assert sasl.encoding_problem(Mechanism.PLAIN, "u", "a\x00b") is not None


def test_parse_mechanism_login_means_imap_command() -> None:
    assert sasl.parse_mechanism("login", Protocol.IMAP) is Mechanism.IMAP_LOGIN
    assert sasl.parse_mechanism("login", Protocol.SMTP) is Mechanism.LOGIN
    assert sasl.parse_mechanism("XOAuth2", Protocol.SMTP) is Mechanism.XOAUTH2


def test_parse_mechanism_unknown_raises() -> None:
    with pytest.raises(ValueError, match="unknown mechanism"):
        sasl.parse_mechanism("cram-md5", Protocol.IMAP)


def test_token_error_reads_json_challenge() -> None:
    challenge = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"x"}').decode()
    decoded = sasl.decode_challenge(challenge)
    assert decoded is not None
    assert sasl.token_error(decoded) == {"status": "401", "schemes": "bearer", "scope": "x"}


def test_token_error_ignores_non_json() -> None:
    assert sasl.token_error(b"Username:") is None
    assert sasl.decode_challenge("not base64!") is None
