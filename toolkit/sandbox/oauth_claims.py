"""Resources, scopes and token claims of the local authority, and the access-token check.

This module contains the data and rules that `toolkit.sandbox.authority.LocalAuthority`
applies to the APIs it issues tokens for: the resource identifiers, delegated scopes and
app roles of Exchange Online and Microsoft Graph, the parsing of a ``scope`` parameter as
Entra does it, `TokenSigner`, which builds and signs the claims of access and ID tokens,
and `check_access_token`, the logic behind `LocalAuthority.check_token`. Other code
imports the public constants and `TokenCheck` from `toolkit.sandbox.authority`, which
re-exports them.

The authority is hand-written because no library serves the Microsoft identity platform
v2.0 endpoints on loopback, and its tokens must carry Exchange Online's claims, which
general OAuth2 server libraries would need custom code to produce. PyJWT and
cryptography do all signing and verification.

Access tokens are JWTs signed with an RS256 key that is made when the signer is created.
They carry the claims of Exchange Online access tokens, which are v1.0 tokens: ``aud``,
``iss`` (``https://sts.windows.net/<tid>/``), ``scp`` or ``roles``, ``upn``,
``unique_name``, ``oid``, ``tid``, ``appid``, ``appidacr``, ``iat``, ``nbf``, ``exp``,
``ver``. `TokenSigner.sign_access_token` can also mint v2.0 tokens (``azp``,
``preferred_username``). No URL in a claim is ever contacted.

Sources, read on 2026-12-04:

- claims: https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
- Exchange Online scopes (``https://outlook.office.com/IMAP.AccessAsUser.All``,
  ``.../SMTP.Send``) and app permissions (``IMAP.AccessAsApp``, ``SMTP.SendAsApp``):
  https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from toolkit.sandbox.oauth_http import ProtocolError

# Resource identifiers of Exchange Online and Microsoft Graph: the resource URIs and
# the application IDs of the first-party service principals.
EXCHANGE_ONLINE: Final = "https://outlook.office.com"
EXCHANGE_ONLINE_365: Final = "https://outlook.office365.com"
EXCHANGE_ONLINE_APP_ID: Final = "00000002-0000-0ff1-ce00-000000000000"
MICROSOFT_GRAPH: Final = "https://graph.microsoft.com"
MICROSOFT_GRAPH_APP_ID: Final = "00000003-0000-0000-c000-000000000000"

# The full scopes that Microsoft's Exchange documentation lists for IMAP and SMTP clients,
# and the scope of the client credentials grant for Exchange Online.
IMAP_SCOPE: Final = f"{EXCHANGE_ONLINE}/IMAP.AccessAsUser.All"
SMTP_SCOPE: Final = f"{EXCHANGE_ONLINE}/SMTP.Send"
EXCHANGE_APP_SCOPE: Final = f"{EXCHANGE_ONLINE_365}/.default"

TOKEN_CHECK_REASONS: Final = (
    "ok",
    "unknown-token",
    "wrong-tenant",
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "missing-scope",
    "wrong-user",
    "mailbox-not-granted",
)

# The permission each protocol needs: the delegated scope in ``scp`` or the app role in
# ``roles``, as Exchange Online names them.
_PROTOCOL_PERMISSIONS: Final = {
    "imap": ("IMAP.AccessAsUser.All", "IMAP.AccessAsApp"),
    "smtp": ("SMTP.Send", "SMTP.SendAsApp"),
}

# OpenID Connect scopes, which name no resource. msal adds openid, profile and
# offline_access to every user sign-in.
OIDC_SCOPES: Final = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass(frozen=True)
class Resource:
    """A protected API: its identifiers, its delegated scopes and its app roles."""

    name: str
    identifiers: tuple[str, ...]
    delegated_scopes: tuple[str, ...]
    app_roles: tuple[str, ...]

    def find_scope(self, name: str) -> str | None:
        """Return the canonical spelling of a delegated scope, which Entra matches without case."""
        return next((s for s in self.delegated_scopes if s.casefold() == name.casefold()), None)


_EXCHANGE: Final = Resource(
    name="Office 365 Exchange Online",
    identifiers=(EXCHANGE_ONLINE, EXCHANGE_ONLINE_365, EXCHANGE_ONLINE_APP_ID),
    delegated_scopes=(
        "IMAP.AccessAsUser.All",
        "POP.AccessAsUser.All",
        "SMTP.Send",
        "EWS.AccessAsUser.All",
    ),
    app_roles=("IMAP.AccessAsApp", "POP.AccessAsApp", "SMTP.SendAsApp", "full_access_as_app"),
)
# Microsoft Graph also lists IMAP.AccessAsUser.All and SMTP.Send among its delegated
# permissions, and Entra treats a scope without a resource as a Graph scope. A client
# that requests plain "IMAP.AccessAsUser.All" therefore gets a Graph token, which
# Exchange rejects: the classic wrong-audience mistake.
GRAPH: Final = Resource(
    name="Microsoft Graph",
    identifiers=(MICROSOFT_GRAPH, MICROSOFT_GRAPH_APP_ID),
    delegated_scopes=(
        "User.Read",
        "Mail.Read",
        "Mail.Send",
        "IMAP.AccessAsUser.All",
        "POP.AccessAsUser.All",
        "SMTP.Send",
    ),
    app_roles=("Mail.Read", "Mail.Send", "User.Read.All"),
)
RESOURCES: Final = (_EXCHANGE, GRAPH)
_EXCHANGE_AUDIENCES: Final = frozenset(i.casefold() for i in _EXCHANGE.identifiers)


@dataclass(frozen=True)
class TokenCheck:
    """The verdict on an access token presented to a sandbox IMAP or SMTP server.

    `reason` is one of `TOKEN_CHECK_REASONS`, a stable id for code and tests. `detail`
    explains it in a sentence that never contains the token.
    """

    ok: bool
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class User:
    """A user of the tenant, with the identifiers that its tokens carry."""

    username: str
    object_id: str
    display_name: str


@dataclass(frozen=True)
class ScopeRequest:
    """A parsed ``scope`` parameter: one resource, its scopes and the OpenID scopes."""

    resource: Resource | None
    resource_id: str
    scopes: tuple[str, ...]
    oidc_scopes: frozenset[str]
    default: bool


def parse_scope(text: str) -> ScopeRequest:
    """Parse a ``scope`` parameter into one resource and its scopes, as Entra does.

    A scope without a resource identifier is a Microsoft Graph scope.
    """
    items = text.split()
    if not items:
        raise ProtocolError(
            "invalid_request", "The request body must contain the parameter 'scope'.", code=900144
        )
    oidc = frozenset(item.casefold() for item in items if item.casefold() in OIDC_SCOPES)
    found: dict[str, tuple[Resource, str]] = {}
    names: list[str] = []
    default = False
    for item in items:
        if item.casefold() in OIDC_SCOPES:
            continue
        resource_id, _, name = item.rpartition("/")
        resource = _find_resource(resource_id) if resource_id else GRAPH
        if resource is None:
            raise ProtocolError(
                "invalid_resource",
                f"The resource principal named {resource_id} was not found in the tenant.",
                code=500011,
            )
        found.setdefault(resource.name, (resource, resource_id or MICROSOFT_GRAPH))
        if name == ".default":
            default = True
            continue
        canonical = resource.find_scope(name)
        if canonical is None:
            raise ProtocolError(
                "invalid_scope",
                f"The provided value for the input parameter 'scope' is not valid. "
                f"The scope {item} is not a delegated permission of {resource.name}.",
                code=70011,
            )
        names.append(canonical)
    if len(found) > 1:
        raise ProtocolError(
            "invalid_scope",
            "The provided value for the input parameter 'scope' is not valid because it names "
            f"more than one resource ({', '.join(found)}). Request one resource per token.",
            code=700022,
        )
    if not found:
        return ScopeRequest(None, MICROSOFT_GRAPH, (), oidc, False)
    resource, resource_id = next(iter(found.values()))
    return ScopeRequest(
        resource, resource_id.rstrip("/"), tuple(dict.fromkeys(names)), oidc, default
    )


def parse_registered_scope(item: str) -> tuple[str, str]:
    """Turn a scope given to `LocalAuthority.register_client` into (resource name, scope)."""
    try:
        parsed = parse_scope(item)
    except ProtocolError as error:
        raise ValueError(f"unknown delegated scope {item!r}: {error.description}") from None
    if parsed.resource is None or len(parsed.scopes) != 1:
        raise ValueError(f"consented_scopes takes one delegated scope per item, not {item!r}")
    return parsed.resource.name, parsed.scopes[0]


def _find_resource(identifier: str) -> Resource | None:
    wanted = identifier.rstrip("/").casefold()
    return next((r for r in RESOURCES if wanted in (i.casefold() for i in r.identifiers)), None)


class TokenSigner:
    """The authority's RS256 signing key and the claims of the tokens it signs.

    The key is made when the signer is created and is kept only in memory.
    """

    def __init__(self, tenant_id: str) -> None:
        self._id_namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-tenant:{tenant_id}")
        self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._private_key.public_key()
        public_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        self._key_id = _jwk_thumbprint(public_jwk)
        self.public_jwk = {**public_jwk, "kid": self._key_id, "use": "sig", "alg": "RS256"}

    def sign_access_token(
        self,
        *,
        user: User | None,
        client_id: str,
        client_authenticated: bool,
        audience: str,
        scopes: list[str],
        roles: list[str],
        tenant_id: str,
        lifetime: int,
        not_before_offset: int,
        issued_at: int | None,
        version: Literal["1.0", "2.0"],
    ) -> str:
        """Build the claims of an access token and sign them.

        `LocalAuthority.issue_token` describes the arguments. `user` None makes an
        app-only token, whose ``oid`` and ``sub`` are the service principal of `client_id`.
        """
        issued = int(time.time()) if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": (
                f"https://sts.windows.net/{tenant_id}/"
                if version == "1.0"
                else f"https://login.microsoftonline.com/{tenant_id}/v2.0"
            ),
            "iat": issued,
            "nbf": issued + not_before_offset,
            "exp": issued + lifetime,
            "idtyp": "user" if user else "app",
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": version,
        }
        # appidacr/azpacr: 0 for a public client, 1 for a client that sent its secret.
        client_auth = "1" if client_authenticated else "0"
        if version == "1.0":
            claims.update(appid=client_id, appidacr=client_auth)
        else:
            claims.update(azp=client_id, azpacr=client_auth)
        if user is not None:
            claims.update(
                oid=user.object_id,
                sub=self._pairwise_subject(user.object_id, client_id),
                name=user.display_name,
                scp=" ".join(scopes),
            )
            if version == "1.0":
                claims.update(upn=user.username, unique_name=user.username, amr=["pwd"])
            else:
                claims.update(preferred_username=user.username)
        else:
            service_principal = self.object_id("app", client_id.casefold())
            claims.update(oid=service_principal, sub=service_principal)
        if roles:
            claims["roles"] = roles
        return jwt.encode(
            claims, self._private_key, algorithm="RS256", headers={"kid": self._key_id}
        )

    def sign_id_token(self, user: User, client_id: str, *, issuer: str, tenant_id: str) -> str:
        """Build and sign an OpenID Connect ID token for `user`, valid for one hour."""
        issued = int(time.time())
        claims = {
            "aud": client_id,
            "iss": issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.username,
            "sub": self._pairwise_subject(user.object_id, client_id),
            "tid": tenant_id,
            "ver": "2.0",
        }
        return jwt.encode(
            claims, self._private_key, algorithm="RS256", headers={"kid": self._key_id}
        )

    def object_id(self, kind: str, name: str) -> str:
        """Return a stable GUID for a user or service principal, like Entra's ``oid``."""
        return str(uuid.uuid5(self._id_namespace, f"{kind}:{name}"))

    def _pairwise_subject(self, object_id: str, client_id: str) -> str:
        # Entra's sub differs per application for the same user (a pairwise identifier).
        return b64url(hashlib.sha256(f"{object_id}:{client_id}".encode()).digest())


def check_access_token(
    token: str,
    *,
    public_key: rsa.RSAPublicKey,
    tenant_id: str,
    protocol: str,
    user: str,
    is_mailbox_granted: Callable[[str, str], bool],
) -> TokenCheck:
    """Run the checks of `LocalAuthority.check_token`, in the order that it documents.

    `public_key` verifies the signature and `tenant_id` is the expected ``tid``.
    `is_mailbox_granted(app_id, mailbox)` decides whether an app-only token's
    application may open the mailbox. Raises ValueError for a protocol other than
    "imap" or "smtp".
    """
    if protocol not in _PROTOCOL_PERMISSIONS:
        raise ValueError(f"protocol must be 'imap' or 'smtp', not {protocol!r}")
    needed_scope, needed_role = _PROTOCOL_PERMISSIONS[protocol]

    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return TokenCheck(False, "unknown-token", "the token is not a JWT signed by this authority")

    tenant = claims.get("tid")
    if tenant != tenant_id:
        return TokenCheck(
            False,
            "wrong-tenant",
            f"the token was issued for tenant {tenant}, not for {tenant_id}",
        )

    now = time.time()
    expires = claims.get("exp")
    not_before = claims.get("nbf")
    if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
        return TokenCheck(False, "unknown-token", "the token has no numeric exp or nbf claim")
    if now >= expires:
        return TokenCheck(False, "expired", f"the token expired {int(now - expires)} seconds ago")
    if now < not_before:
        return TokenCheck(
            False,
            "not-yet-valid",
            f"the token becomes valid in {int(not_before - now) + 1} seconds (nbf)",
        )

    audience = claims.get("aud")
    if not isinstance(audience, str) or audience.rstrip("/").casefold() not in _EXCHANGE_AUDIENCES:
        return TokenCheck(
            False,
            "wrong-audience",
            f"the token is for {audience}, but IMAP and SMTP need an Exchange Online "
            f"token ({EXCHANGE_ONLINE} or {EXCHANGE_ONLINE_APP_ID})",
        )

    delegated_scopes = claims.get("scp")
    if isinstance(delegated_scopes, str):
        if needed_scope not in delegated_scopes.split():
            return TokenCheck(
                False,
                "missing-scope",
                f"{protocol.upper()} needs the scope {needed_scope}, "
                f"the token has scp={delegated_scopes!r}",
            )
        token_user = (
            claims.get("upn") or claims.get("preferred_username") or claims.get("unique_name")
        )
        if not isinstance(token_user, str) or token_user.casefold() != user.casefold():
            return TokenCheck(
                False, "wrong-user", f"the token belongs to {token_user}, not to {user}"
            )
        return TokenCheck(True, "ok", f"delegated token of {token_user}")

    token_roles = claims.get("roles")
    if not isinstance(token_roles, list) or needed_role not in token_roles:
        return TokenCheck(
            False,
            "missing-scope",
            f"{protocol.upper()} needs the app role {needed_role}, "
            f"the token has roles={token_roles!r}",
        )
    app_id = claims.get("appid") or claims.get("azp")
    if not is_mailbox_granted(str(app_id), user):
        return TokenCheck(
            False,
            "mailbox-not-granted",
            f"application {app_id} has no permission on the mailbox {user}",
        )
    return TokenCheck(True, "ok", f"app-only token of application {app_id}")


def _jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """Compute the RFC 7638 thumbprint of an RSA public key, used as its ``kid``."""
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def b64url(data: bytes) -> str:
    """Encode `data` as base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
