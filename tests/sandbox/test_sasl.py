"""Parsing of XOAUTH2 and OAUTHBEARER client responses."""

from __future__ import annotations

import pytest

from toolkit.sandbox.sasl import parse_oauthbearer, parse_xoauth2


def test_xoauth2() -> None:
    bearer = parse_xoauth2(b"user=alice@m365.sandbox.test\x01auth=Bearer abc.def\x01\x01")
    assert bearer.user == "alice@m365.sandbox.test"
    assert bearer.token.reveal() == "abc.def"
    assert "abc.def" not in repr(bearer)


@pytest.mark.parametrize("data", [
    b"user=a@b.test\x01auth=Bearer \x01\x01",
    b"user=a@b.test\x01auth=Basic abc\x01\x01",
    b"user=a@b.test\x01auth=Bearer abc\x01",
    b"",
])
def test_xoauth2_malformed(data: bytes) -> None:
    with pytest.raises(ValueError, match="XOAUTH2"):
        parse_xoauth2(data)


def test_oauthbearer_with_host_and_port() -> None:
    data = b"n,a=alice@m365.sandbox.test,\x01host=127.0.0.1\x01port=993\x01auth=Bearer t0k\x01\x01"
    bearer = parse_oauthbearer(data)
    assert bearer.user == "alice@m365.sandbox.test"
    assert bearer.token.reveal() == "t0k"


def test_oauthbearer_escaped_authzid() -> None:
    bearer = parse_oauthbearer(b"n,a=odd=2Cname=3Dx@b.test,\x01auth=Bearer t\x01\x01")
    assert bearer.user == "odd,name=x@b.test"


@pytest.mark.parametrize(("data", "problem"), [
    (b"n,,\x01auth=Bearer t\x01\x01", "names no user"),
    (b"n,a=a@b.test,\x01host=x\x01\x01", "no auth=Bearer"),
    (b"x,a=a@b.test,\x01auth=Bearer t\x01\x01", "not an OAUTHBEARER"),
    (b"n,a=a@b.test,\x01auth=Bearer t\x01", "not an OAUTHBEARER"),
])
def test_oauthbearer_malformed(data: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_oauthbearer(data)
