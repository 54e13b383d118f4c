"""The OAuth2 SASL mechanisms XOAUTH2 and OAUTHBEARER, for the IMAP and the SMTP server.

pysasl 1.2 has a server side for XOAUTH2 only, and it keeps the token in a
private attribute. OAUTHBEARER (RFC 7628) is in neither pysasl nor aiosmtpd.
This module parses both initial client responses into one `BearerCredentials`
and wraps the parsers as pysasl server mechanisms for pymap. The SMTP server
calls the same parsers.

NOTE: a rejected token gets the failure reply at once, as Exchange Online sends
it. RFC 7628 describes a JSON error challenge before the failure for
OAUTHBEARER, which the sandbox does not send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from pysasl.creds.server import ServerCredentials
from pysasl.exception import InvalidResponse
from pysasl.identity import Identity
from pysasl.mechanism import ChallengeResponse, ServerChallenge, ServerMechanism

from toolkit.secret import Secret

# Google, "OAuth 2.0 Mechanism" (developers.google.com/gmail/imap/xoauth2-protocol):
# "user=" user "^Aauth=Bearer " token "^A^A", where ^A is 0x01.
_XOAUTH2 = re.compile(rb"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01\Z", re.IGNORECASE)
# RFC 7628 section 3.1: a GS2 header (RFC 5801), then key=value pairs each ended
# by 0x01, and a final 0x01. The authzid "a=" names the user.
_GS2_HEADER = re.compile(rb"([nyp])(=[^,]*)?,(a=([^,]*))?,")
_BEARER = re.compile(rb"Bearer ([^\x01]+)\Z", re.IGNORECASE)


@dataclass(frozen=True)
class BearerCredentials:
    """A user name and an OAuth2 access token from an XOAUTH2 or OAUTHBEARER response."""

    user: str
    token: Secret = field(repr=False)
    mechanism: str


def parse_xoauth2(data: bytes) -> BearerCredentials:
    """Parse an XOAUTH2 initial client response. Raises ValueError when it is malformed."""
    match = _XOAUTH2.match(data)
    if match is None:
        raise ValueError("not an XOAUTH2 response: expected user=...^Aauth=Bearer ...^A^A")
    return BearerCredentials(
        match.group(1).decode("utf-8"), Secret(match.group(2).decode("utf-8")), "XOAUTH2"
    )


def parse_oauthbearer(data: bytes) -> BearerCredentials:
    """Parse an OAUTHBEARER initial client response. Raises ValueError when it is malformed.

    The response must name the user in the GS2 authzid (``n,a=user,``), because
    the sandbox checks a token against the user it was issued for.
    """
    header = _GS2_HEADER.match(data)
    if header is None or not data.endswith(b"\x01\x01"):
        raise ValueError("not an OAUTHBEARER response: expected n,a=user,^A...^A^A")
    if header.group(4) is None:
        raise ValueError("the OAUTHBEARER response names no user (a=...)")
    # RFC 5801 section 4: in a saslname, "=2C" is "," and "=3D" is "=".
    user = header.group(4).replace(b"=2C", b",").replace(b"=3D", b"=").decode("utf-8")
    token: str | None = None
    for pair in data[header.end():].split(b"\x01"):
        key, _, value = pair.partition(b"=")
        if key == b"auth":
            bearer = _BEARER.match(value)
            if bearer is not None:
                token = bearer.group(1).decode("utf-8")
    if not token:
        raise ValueError("the OAUTHBEARER response has no auth=Bearer value")
    return BearerCredentials(user, Secret(token), "OAUTHBEARER")


class BearerTokenCredentials(ServerCredentials):
    """Server credentials for pymap that carry a bearer token to check with the authority."""

    __slots__ = ("bearer",)

    def __init__(self, bearer: BearerCredentials) -> None:
        super().__init__()
        self.bearer = bearer

    @property
    def authcid(self) -> str:
        return self.bearer.user

    @property
    def authzid(self) -> str:
        return self.bearer.user

    def verify(self, identity: Identity | None) -> NoReturn:
        """Raise always: a token is checked by the OAuth2 authority, never against a password."""
        raise TypeError("bearer tokens are checked by the OAuth2 authority")

    def __repr__(self) -> str:
        return f"BearerTokenCredentials({self.bearer.user!r}, {self.bearer.mechanism})"


class BearerMechanism(ServerMechanism):
    """A pysasl server mechanism that returns `BearerTokenCredentials` from one client response."""

    __slots__ = ("_parse",)

    def __init__(self, name: bytes, parse: Callable[[bytes], BearerCredentials]) -> None:
        super().__init__(name)
        self._parse = parse

    def server_attempt(
        self, responses: Sequence[ChallengeResponse]
    ) -> tuple[BearerTokenCredentials, None]:
        """Ask for the client response with an empty challenge, then parse it."""
        if not responses:
            raise ServerChallenge(b"")
        try:
            bearer = self._parse(responses[0].response)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidResponse() from error
        return BearerTokenCredentials(bearer), None


def bearer_mechanisms() -> list[ServerMechanism]:
    """Return the XOAUTH2 and OAUTHBEARER server mechanisms."""
    return [
        BearerMechanism(b"XOAUTH2", parse_xoauth2),
        BearerMechanism(b"OAUTHBEARER", parse_oauthbearer),
    ]
