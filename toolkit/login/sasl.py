"""Client responses of the login mechanisms, and the limits of each mechanism's encoding.

Every function here is pure: it builds bytes or inspects text and sends nothing.

- IMAP LOGIN sends the user and password as quoted strings. RFC 3501 section 9
  (and RFC 9051 for IMAP4rev1 clients) allows only 7-bit characters other than
  NUL, CR and LF in a quoted string. Python's imaplib also encodes commands as
  ASCII. A password with any other character therefore cannot be sent with LOGIN.
- SASL PLAIN (RFC 4616 section 2) carries ``authzid NUL authcid NUL passwd`` in
  UTF-8, so it works for every password without NUL.
- SASL LOGIN was never standardised and defines no character set. Python's
  smtplib sends its responses as ASCII, so the toolkit treats it as ASCII-only too.
- XOAUTH2 (Google, "OAuth 2.0 Mechanism", developers.google.com/gmail/imap/xoauth2-protocol;
  Microsoft Learn, "Authenticate an IMAP, POP or SMTP connection using OAuth"):
  ``user=U ^A auth=Bearer T ^A ^A`` where ^A is 0x01.
- OAUTHBEARER (RFC 7628 section 3.1): a GS2 header ``n,a=U,`` (RFC 5801) and
  ``key=value ^A`` pairs, ended by one more ^A.

When a token is rejected, XOAUTH2 and OAUTHBEARER servers send a base64 JSON
challenge with ``status``, ``schemes`` and ``scope``. The client then ends the
exchange: XOAUTH2 with an empty response (Google's page), OAUTHBEARER with a
single 0x01 (RFC 7628 section 3.2.3).
"""

from __future__ import annotations

import base64
import binascii
import json
from enum import StrEnum

from toolkit.settings import AuthType, Protocol


class Mechanism(StrEnum):
    """A way to log in: the IMAP LOGIN command or a SASL mechanism."""

    IMAP_LOGIN = "IMAP-LOGIN"  # the IMAP LOGIN command (RFC 9051 section 6.2.3)
    PLAIN = "PLAIN"
    LOGIN = "LOGIN"
    XOAUTH2 = "XOAUTH2"
    OAUTHBEARER = "OAUTHBEARER"

    @property
    def uses_token(self) -> bool:
        """Whether the mechanism sends an OAuth2 access token instead of a password."""
        return self in (Mechanism.XOAUTH2, Mechanism.OAUTHBEARER)


BASIC_MECHANISMS = (Mechanism.IMAP_LOGIN, Mechanism.PLAIN, Mechanism.LOGIN)
TOKEN_MECHANISMS = (Mechanism.XOAUTH2, Mechanism.OAUTHBEARER)

# A server that keeps sending challenges is cancelled after this many, because the
# mechanisms used here need at most one continuation and one error challenge.
MAX_CHALLENGES = 3
# NOTE: the error challenge path runs in the transcript tests only. The sandbox, Dovecot
# and Postfix used in the tests reject a token at once, without a JSON challenge.
# Response to a token error challenge, which ends the exchange so the server sends its failure.
XOAUTH2_ERROR_ACK = b""
OAUTHBEARER_ERROR_ACK = b"\x01"


def parse_mechanism(text: str, protocol: Protocol) -> Mechanism:
    """Parse a mechanism name as a user types it: ``login``, ``plain``, ``xoauth2``...

    On IMAP, ``LOGIN`` means the LOGIN command; the SASL LOGIN mechanism is not
    offered there. Raises ValueError for an unknown name or one the protocol lacks.
    """
    name = text.strip().upper().replace("_", "-")
    if name in ("LOGIN", "IMAP-LOGIN") and protocol is Protocol.IMAP:
        return Mechanism.IMAP_LOGIN
    if name == "IMAP-LOGIN":
        raise ValueError("the LOGIN command exists only in IMAP; use PLAIN or LOGIN for SMTP")
    try:
        return Mechanism(name)
    except ValueError:
        known = "LOGIN, PLAIN, XOAUTH2, OAUTHBEARER"
        raise ValueError(f"unknown mechanism {text!r}; use one of {known}") from None


def check_choice(mechanism: Mechanism, protocol: Protocol, auth: AuthType) -> None:
    """Raise ValueError when `mechanism` does not fit the entry's protocol and auth type."""
    if mechanism.uses_token != (auth is AuthType.OAUTH2):
        raise ValueError(f"mechanism {mechanism.value} does not fit an entry with auth = {auth}")
    if mechanism is Mechanism.IMAP_LOGIN and protocol is not Protocol.IMAP:
        raise ValueError("the LOGIN command exists only in IMAP; use PLAIN or LOGIN for SMTP")
    if mechanism is Mechanism.LOGIN and protocol is Protocol.IMAP:
        raise ValueError("use Mechanism.IMAP_LOGIN for IMAP LOGIN")


def candidates(protocol: Protocol, auth: AuthType, requested: Mechanism | None) -> list[Mechanism]:
    """Return the mechanisms to try in order: the requested one, else the default choices.

    The defaults are IMAP LOGIN or SMTP AUTH PLAIN for Basic entries and XOAUTH2
    for OAuth2 entries, the mechanisms most mail clients use. The second choice is
    tried only when the server does not offer the first.
    """
    if requested is not None:
        return [requested]
    if auth is AuthType.OAUTH2:
        return [Mechanism.XOAUTH2, Mechanism.OAUTHBEARER]
    if protocol is Protocol.IMAP:
        return [Mechanism.IMAP_LOGIN, Mechanism.PLAIN]
    return [Mechanism.PLAIN, Mechanism.LOGIN]


def encoding_problem(mechanism: Mechanism, user: str, secret: str) -> str | None:
    """Describe why `mechanism` cannot carry this user and secret, or return None when it can.

    The description counts the characters at fault and never quotes the secret.
    """
    if mechanism in (Mechanism.IMAP_LOGIN, Mechanism.LOGIN):
        for label, value in (("user name", user), ("password", secret)):
            outside = sum(1 for character in value if ord(character) > 0x7F)
            if outside:
                return (
                    f"the {label} contains {outside} character(s) outside ASCII, which "
                    f"{_mechanism_words(mechanism)} cannot send"
                )
            if any(character in "\x00\r\n" for character in value):
                return f"the {label} contains a NUL, CR or LF character"
        return None
    if mechanism is Mechanism.PLAIN:
        if "\x00" in user or "\x00" in secret:
            return "the user name or password contains a NUL character, the PLAIN separator"
        return None
    if any(character in "\x00\x01" for character in user + secret):
        return "the user name or token contains a 0x00 or 0x01 character"
    return None


def _mechanism_words(mechanism: Mechanism) -> str:
    if mechanism is Mechanism.IMAP_LOGIN:
        return "the IMAP LOGIN command (a 7-bit quoted string, and ASCII in imaplib)"
    return "the SASL LOGIN mechanism (no character set is defined, and smtplib sends ASCII)"


def imap_quoted(value: str) -> bytes:
    """Quote a value as an IMAP quoted string, escaping ``"`` and ``\\`` (RFC 9051 section 4.3)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return b'"' + escaped.encode("ascii") + b'"'


def plain_response(user: str, password: str) -> bytes:
    """Build the PLAIN client response with an empty authorization identity (RFC 4616)."""
    return b"\x00" + user.encode("utf-8") + b"\x00" + password.encode("utf-8")


def xoauth2_response(user: str, token: str) -> bytes:
    """Build the XOAUTH2 initial client response, before base64 encoding."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer_response(user: str, token: str, host: str, port: int) -> bytes:
    """Build the OAUTHBEARER initial client response (RFC 7628 section 3.1)."""
    # RFC 5801 section 4: "," and "=" in a saslname are written as "=2C" and "=3D".
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


def b64(data: bytes) -> bytes:
    """Encode a SASL response in base64; an empty response is sent as an empty line."""
    return base64.b64encode(data)


def decode_challenge(text: str) -> bytes | None:
    """Decode a server challenge from base64, or return None when it is not base64."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def token_error(challenge: bytes) -> dict[str, str] | None:
    """Read the JSON error of a rejected token (``status``, ``schemes``, ``scope``), if any."""
    try:
        data = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return {str(key): str(value) for key, value in data.items()}
