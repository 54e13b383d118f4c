"""Read an OAuth2 access token locally and check it against what IMAP or SMTP needs.

Microsoft 365 access tokens are JSON Web Tokens: three base64url parts, of which
the second contains the claims. `decode_token` reads them without checking the
signature (no key is needed and nothing is sent anywhere), and `diagnose_token`
checks the claims that Exchange Online relies on, each failure as a finding
with a stable id:

- ``aud``: an Exchange Online identifier, not Microsoft Graph (``token-wrong-audience``);
- ``scp`` (delegated) or ``roles`` (app-only): the protocol's permission
  (``token-missing-scope``);
- ``upn``, ``unique_name`` or ``preferred_username``: the login user (``token-wrong-user``);
- ``tid``: the tenant of the settings (``token-wrong-tenant``);
- ``exp`` and ``nbf``: valid now and for the session (``token-expired``,
  ``token-expires-soon``, ``token-not-yet-valid``);
- no JWT at all: ``token-not-jwt``.

Claim names and formats: Microsoft Learn, "Access token claims reference"; the
Exchange Online identifiers, scopes and app permissions: Microsoft Learn,
"Authenticate an IMAP, POP or SMTP connection using OAuth" (both read 2026-12-04).
Nothing here prints or returns the token or its signature.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from toolkit.findings import Finding, Severity
from toolkit.settings import Protocol, parse_protocol

# Resource identifiers: the resource URIs and the application ids of the services.
EXCHANGE_ONLINE = "https://outlook.office.com"
EXCHANGE_AUDIENCES = (
    EXCHANGE_ONLINE,
    "https://outlook.office365.com",
    "00000002-0000-0ff1-ce00-000000000000",
)
GRAPH_AUDIENCES = ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000")
# The delegated scope (in scp) and the app permission (in roles) each protocol needs.
PERMISSIONS = {
    Protocol.IMAP: ("IMAP.AccessAsUser.All", "IMAP.AccessAsApp"),
    Protocol.SMTP: ("SMTP.Send", "SMTP.SendAsApp"),
}
# A token that expires within this many seconds may expire during a session.
EXPIRES_SOON_SECONDS = 600
# The claims that name the user of a delegated token: upn and unique_name in v1.0
# tokens, preferred_username in v2.0 tokens.
USER_CLAIMS = ("upn", "unique_name", "preferred_username")
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z", re.I)

CLAIM_MEANINGS = {
    "aud": "audience: the API the token is for",
    "iss": "issuer: the token service and tenant",
    "iat": "issued at",
    "nbf": "not valid before",
    "exp": "expires at",
    "scp": "delegated scopes granted to the app for the user",
    "roles": "app permissions (app-only token) or the user's app roles",
    "upn": "user principal name (v1.0 tokens)",
    "unique_name": "user name for display (v1.0 tokens)",
    "preferred_username": "user name (v2.0 tokens)",
    "tid": "tenant id",
    "oid": "object id of the user or service principal",
    "appid": "client id of the app (v1.0 tokens)",
    "azp": "client id of the app (v2.0 tokens)",
    "appidacr": "how the app authenticated: 0 public, 1 secret, 2 certificate",
    "azpacr": "how the app authenticated: 0 public, 1 secret, 2 certificate",
    "idtyp": "user or app token",
    "ver": "token version",
    "name": "display name of the user",
    "sub": "subject, unique per app",
    "amr": "how the user authenticated (v1.0 tokens)",
    "uti": "token id",
}


class TokenDecodeError(ValueError):
    """Text that is not a readable JWT. The message explains why without quoting the token."""


@dataclass(frozen=True)
class TokenClaims:
    """The header and claims of an access token, read without checking the signature."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def audiences(self) -> tuple[str, ...]:
        """The ``aud`` claim as a tuple; a JWT may give one audience or a list."""
        audience = self.claims.get("aud")
        if isinstance(audience, str):
            return (audience,)
        if isinstance(audience, list):
            return tuple(str(item) for item in audience)
        return ()

    @property
    def scopes(self) -> tuple[str, ...]:
        """The delegated scopes of ``scp``, a space-separated string."""
        value = self.claims.get("scp")
        return tuple(value.split()) if isinstance(value, str) else ()

    @property
    def roles(self) -> tuple[str, ...]:
        """The app permissions of ``roles``, a list."""
        value = self.claims.get("roles")
        return tuple(str(item) for item in value) if isinstance(value, list) else ()

    @property
    def user(self) -> str | None:
        """The user of a delegated token, from the first user claim present."""
        for name in USER_CLAIMS:
            value = self.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def app_only(self) -> bool:
        """Whether the token was issued to the app itself (client credentials), with no user."""
        return "scp" not in self.claims and (self.claims.get("idtyp") == "app" or bool(self.roles))

    def time_claim(self, name: str) -> datetime | None:
        """Return ``exp``, ``nbf`` or ``iat`` as an aware UTC datetime, or None."""
        value = self.claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                # A time far outside the calendar (or NaN) is treated as absent.
                return None
        return None

    def rows(self) -> list[dict[str, str]]:
        """Return one row per claim: its name, its value as text and what it means."""
        rows = []
        for name, value in self.claims.items():
            moment = self.time_claim(name) if name in ("exp", "nbf", "iat") else None
            shown = f"{value} ({moment:%Y-%m-%d %H:%M:%S} UTC)" if moment else _text(value)
            rows.append({"claim": name, "value": shown, "meaning": CLAIM_MEANINGS.get(name, "")})
        return rows


@dataclass(frozen=True)
class TokenInput:
    """A token taken out of pasted text, with the user name when the text named one."""

    token: str
    user: str | None = None


def extract_token(text: str) -> TokenInput:
    """Find the access token in what a person pastes.

    Accepted: the bare token, ``Bearer <token>``, an msal result or token response
    as JSON (``access_token``), and an XOAUTH2 string, raw or base64 encoded as
    sent in AUTHENTICATE or AUTH. Raises TokenDecodeError for empty input.
    """
    text = text.strip()
    if not text:
        raise TokenDecodeError("the input is empty: paste an access token")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise TokenDecodeError("the input starts with '{' but is not JSON") from None
        if isinstance(data, dict) and isinstance(data.get("access_token"), str):
            return TokenInput(data["access_token"].strip())
        raise TokenDecodeError("the JSON input has no access_token field")
    found = _xoauth2(text)
    if found is None and "." not in text:
        try:
            found = _xoauth2(base64.b64decode(text, validate=True).decode("utf-8"))
        except ValueError:
            # binascii.Error, UnicodeDecodeError and non-ASCII input are all ValueErrors.
            found = None
    if found is not None:
        return found
    if text.lower().startswith("bearer "):
        text = text[7:].strip()
    return TokenInput(text)


def _xoauth2(text: str) -> TokenInput | None:
    match = re.fullmatch(r"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01", text)
    return TokenInput(match[2], match[1]) if match else None


def decode_token(token: str) -> TokenClaims:
    """Read the header and claims of a JWT without checking its signature.

    Raises TokenDecodeError when the token is not a signed JWT (JWS) with JSON claims.
    """
    parts = token.split(".")
    if len(parts) == 5:
        raise TokenDecodeError(
            "the token is an encrypted JWT (JWE, five parts): its claims are not readable"
        )
    if len(parts) != 3:
        raise TokenDecodeError(
            f"the token has {len(parts)} part(s) separated by '.', not the 3 of a JWT"
        )
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as error:
        raise TokenDecodeError(f"the token's parts are not base64url JSON ({error})") from None
    return TokenClaims(dict(header), dict(claims))


@dataclass(frozen=True)
class TokenDiagnosis:
    """The readable claims of a token (None when it is not a JWT) and the findings about it."""

    claims: TokenClaims | None
    findings: tuple[Finding, ...]


def diagnose_token(
    token: str,
    *,
    protocol: Protocol | None = None,
    user: str | None = None,
    tenant: str | None = None,
    provider: str | None = None,
    client_id: str | None = None,
    now: float | None = None,
    server: str = "",
) -> TokenDiagnosis:
    """Check a token's claims against the protocol, login user and tenant it will be used for.

    Each argument left None skips its check; without `protocol` the token must
    allow IMAP or SMTP. With `provider` ``gmail`` a token that is not a JWT is
    expected, because Google's access tokens are not JWTs. `client_id` recognises
    an ID token sent in place of an access token.
    `now` (seconds since the epoch) is for tests. `protocol` may be given as text,
    such as ``"imap"``.
    """
    if isinstance(protocol, str):
        protocol = parse_protocol(protocol)
    checker = _Checker(server)
    try:
        claims = decode_token(token)
    except TokenDecodeError as error:
        checker.not_jwt(str(error), provider)
        return TokenDiagnosis(None, tuple(checker.findings))

    checker.audience(claims, client_id)
    checker.permission(claims, protocol)
    checker.user(claims, user)
    checker.tenant(claims, tenant)
    checker.lifetime(claims, time.time() if now is None else now)
    if not any(f.severity in (Severity.ERROR, Severity.WARNING) for f in checker.findings):
        checker.ok(claims, protocol)
    return TokenDiagnosis(claims, tuple(checker.findings))


class _Checker:
    """Collects the findings of one token diagnosis."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.findings: list[Finding] = []

    def add(self, id_: str, severity: Severity, field: str, message: str, fix: str) -> None:
        self.findings.append(Finding(id_, severity, field, message, fix, self.server))

    def not_jwt(self, problem: str, provider: str | None) -> None:
        if provider == "gmail":
            self.add(
                "token-not-jwt",
                Severity.INFO,
                "token",
                f"The token is not a JWT ({problem}). Google access tokens are opaque, so "
                "their claims cannot be read here; Google checks them when the client logs in.",
                "Nothing to change for Gmail.",
            )
            return
        self.add(
            "token-not-jwt",
            Severity.ERROR if provider == "microsoft365" else Severity.WARNING,
            "token",
            f"The token is not a JWT: {problem}. Microsoft 365 access tokens are JWTs "
            "(header.claims.signature), so this is no Microsoft 365 access token: perhaps a "
            "refresh token, a truncated paste, or a token of another provider.",
            "Paste the access_token of the token response whole, with no line breaks or quotes.",
        )

    def audience(self, claims: TokenClaims, client_id: str | None) -> None:
        audiences = [a.rstrip("/").casefold() for a in claims.audiences]
        if any(a in (e.casefold() for e in EXCHANGE_AUDIENCES) for a in audiences):
            return
        shown = ", ".join(claims.audiences) or "missing"
        if any(a in (g.casefold() for g in GRAPH_AUDIENCES) for a in audiences):
            why = (
                "a Microsoft Graph token. Entra gives Graph tokens to a request for "
                "IMAP.AccessAsUser.All or SMTP.Send without the resource URL, and Exchange "
                "Online rejects them"
            )
        elif client_id and client_id.casefold() in audiences:
            why = "an ID token (its audience is the app's own client id), not an access token"
        else:
            why = "not a token for Exchange Online"
        self.add(
            "token-wrong-audience",
            Severity.ERROR,
            "token",
            f"The token's audience (aud) is {shown}: {why}. IMAP and SMTP need aud "
            f"{' or '.join(EXCHANGE_AUDIENCES)}.",
            f"Request the full scopes {EXCHANGE_ONLINE}/IMAP.AccessAsUser.All and "
            f"{EXCHANGE_ONLINE}/SMTP.Send (delegated), or https://outlook.office365.com/.default "
            "(client credentials), and send the access_token of that response.",
        )

    def permission(self, claims: TokenClaims, protocol: Protocol | None) -> None:
        protocols = [protocol] if protocol is not None else list(PERMISSIONS)
        allowed = [p for p in protocols if _allows(claims, p)]
        if allowed:
            return
        needed = "; ".join(
            f"{p.value.upper()}: scope {PERMISSIONS[p][0]} or app permission {PERMISSIONS[p][1]}"
            for p in protocols
        )
        scopes = " ".join(claims.scopes) or "(none)"
        roles = ", ".join(claims.roles) or "(none)"
        has = f"scp={scopes}, roles={roles}"
        self.add(
            "token-missing-scope",
            Severity.ERROR,
            "token",
            f"The token lacks the permission the protocol needs ({needed}); it has {has}.",
            "Add the permission to the app registration under Office 365 Exchange Online, grant "
            "admin consent, and request a new token.",
        )

    def user(self, claims: TokenClaims, user: str | None) -> None:
        if claims.app_only:
            self.add(
                "token-app-only",
                Severity.INFO,
                "token",
                "The token is app-only (client credentials): it has no user, and Exchange "
                "Online opens only mailboxes that the app's service principal was given with "
                "New-ServicePrincipal and Add-MailboxPermission.",
                "Log in with the mailbox address as the user, and check the mailbox permission.",
            )
            return
        token_user = claims.user
        if user is None or token_user is None or token_user.casefold() == user.casefold():
            return
        self.add(
            "token-wrong-user",
            Severity.ERROR,
            "user",
            f"The token belongs to {token_user}, but the login user is {user}. Exchange "
            "Online accepts that only for a shared mailbox the token's user has Full Access to.",
            f"Sign in as {user} to get the token, or log in as {token_user}.",
        )

    def tenant(self, claims: TokenClaims, tenant: str | None) -> None:
        token_tenant = claims.claims.get("tid")
        if not tenant or not isinstance(token_tenant, str):
            return
        if not _GUID.match(tenant):
            # A domain such as contoso.onmicrosoft.com cannot be compared with tid offline.
            return
        if token_tenant.casefold() != tenant.casefold():
            self.add(
                "token-wrong-tenant",
                Severity.ERROR,
                "oauth.tenant",
                f"The token was issued by tenant {token_tenant}, not by {tenant} of the settings.",
                "Use the authority of the mailbox's tenant "
                "(https://login.microsoftonline.com/<tenant id>) and request a new token.",
            )

    def lifetime(self, claims: TokenClaims, now: float) -> None:
        expires = claims.time_claim("exp")
        not_before = claims.time_claim("nbf")
        if expires is not None:
            left = expires.timestamp() - now
            if left <= 0:
                self.add(
                    "token-expired",
                    Severity.ERROR,
                    "token",
                    f"The token expired {_duration(-left)} ago, at "
                    f"{expires:%Y-%m-%d %H:%M:%S} UTC.",
                    "Request a new token; msal renews it from its cache with the refresh token.",
                )
            elif left <= EXPIRES_SOON_SECONDS:
                self.add(
                    "token-expires-soon",
                    Severity.WARNING,
                    "token",
                    f"The token expires in {_duration(left)}, at {expires:%H:%M:%S} UTC, "
                    "which may be during the session.",
                    "Request a new token before a long session.",
                )
        if not_before is not None and not_before.timestamp() > now:
            self.add(
                "token-not-yet-valid",
                Severity.ERROR,
                "token",
                f"The token is valid only from {not_before:%Y-%m-%d %H:%M:%S} UTC (nbf).",
                "Check the clock of this machine, then request a new token.",
            )

    def ok(self, claims: TokenClaims, protocol: Protocol | None) -> None:
        allowed = [p.value.upper() for p in PERMISSIONS if _allows(claims, p)]
        kind = (
            "an app-only Exchange Online token"
            if claims.app_only
            else (f"an Exchange Online token for {claims.user or 'an unnamed user'}")
        )
        expires = claims.time_claim("exp")
        until = f", valid until {expires:%Y-%m-%d %H:%M:%S} UTC" if expires else ""
        self.add(
            "token-ok",
            Severity.INFO,
            "token",
            f"The token is {kind}, allowing {' and '.join(allowed)}{until}. Only its claims "
            "were read: the signature is checked by the server at login, not here.",
            "Nothing to change in the token's claims.",
        )


def _allows(claims: TokenClaims, protocol: Protocol) -> bool:
    scope, role = PERMISSIONS[protocol]
    return scope in claims.scopes or role in claims.roles


def expected_tenant(authority: str, tenant: str) -> str:
    """Return the tenant to compare ``tid`` with: the settings' tenant, else the authority's."""
    if tenant:
        return tenant
    path = authority.split("://", 1)[-1].split("/")
    return path[1] if len(path) > 1 and path[1] not in ("common", "organizations") else ""


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    return str(value)
