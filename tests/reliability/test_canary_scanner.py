"""The canary search finds a planted secret in each form, so a clean result means something."""

from __future__ import annotations

import base64
import json

import pytest

from tests.reliability.canary import find_leaks, secret_forms

SECRET = "Planted-Canary-Secret-6d2e"
USER = "agent@example.test"


def planted(prefix: bytes, suffix: bytes = b" and more") -> str:
    """Return base64 text that encodes the secret between other bytes."""
    return "token=" + base64.b64encode(prefix + SECRET.encode() + suffix).decode() + ";"


@pytest.mark.parametrize("prefix", [b"", b"a", b"ab", b"abc", b"abcd", b"abcde"])
def test_base64_at_any_offset(prefix: bytes) -> None:
    assert find_leaks([planted(prefix)], [SECRET], USER) != []


def test_raw_in_json() -> None:
    text = json.dumps({"transcript": [f"C: L1 LOGIN {USER} {SECRET}"]})
    assert find_leaks({"report.json": text}, [SECRET], USER) == [
        "secret 0 as raw in report.json"
    ]


def test_xoauth2_string() -> None:
    xoauth2 = f"user={USER}\x01auth=Bearer {SECRET}\x01\x01".encode()
    line = "A1 AUTHENTICATE XOAUTH2 " + base64.b64encode(xoauth2).decode()
    found = find_leaks([line], [SECRET], USER)
    assert "secret 0 as XOAUTH2 string, base64 in text 0" in found


def test_plain_response() -> None:
    plain = b"\x00" + USER.encode() + b"\x00" + SECRET.encode()
    line = "AUTH PLAIN " + base64.b64encode(plain).decode()
    found = find_leaks([line], [SECRET], USER)
    assert "secret 0 as PLAIN response, base64 in text 0" in found


def test_report_names_no_secret() -> None:
    found = find_leaks([SECRET], [SECRET], USER)
    assert found == ["secret 0 as raw in text 0"]
    assert all(SECRET not in line for line in found)


def test_clean_text() -> None:
    text = "C: L1 LOGIN agent@example.test [password redacted]\n" + base64.b64encode(
        b"unrelated bytes" * 20).decode()
    assert find_leaks([text], [SECRET], USER) == []


def test_forms_are_long_enough() -> None:
    assert all(len(form.text) >= 8 for form in secret_forms(SECRET, USER))
    assert len(secret_forms(SECRET, USER)) == 6
