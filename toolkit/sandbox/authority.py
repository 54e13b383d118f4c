"""A local OAuth2 authority that imitates the Microsoft identity platform on loopback HTTPS.

Microsoft-365-like sandbox users sign in to IMAP and SMTP with SASL XOAUTH2 or
OAUTHBEARER, using access tokens from this authority. `LocalAuthority` serves the
v2.0 endpoints that msal calls for the device authorization grant (RFC 8628), the
client credentials grant and the refresh token grant, so msal runs these flows end to
end with no traffic to any other host. The sandbox IMAP and SMTP servers call
`LocalAuthority.check_token` to decide whether a token opens a mailbox.

Why this is hand-written: no library serves these endpoints on loopback. msal depends
on Microsoft's response shapes (``client_info``, AADSTS error codes, ``error_codes``)
and the tokens must carry Exchange Online's claims, which general OAuth2 server
libraries would need custom code to produce. msal calls only three endpoints, so a
small server is simpler. PyJWT and cryptography do all signing and verification.

The authority is split by concern into three modules:

- this one contains `LocalAuthority`: its lifecycle, its directory of users and clients,
  the device-code flows, the grants of the token endpoint and the request routing.
- `toolkit.sandbox.oauth_claims` contains the resources, scopes and app roles of Exchange
  Online and Microsoft Graph, scope parsing, the claims and signing of tokens, and the
  logic of `LocalAuthority.check_token`. Its docstring lists the claims that access
  tokens carry.
- `toolkit.sandbox.oauth_http` contains the HTTPS server, the request handler, the
  approval page and the error replies in Microsoft's shape.

This module re-exports the public constants and `TokenCheck` of
`toolkit.sandbox.oauth_claims`, so other code imports from here only.

Sources, read on 2026-12-04:

- error codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
- device code flow and its errors:
  https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code

Clients talk to it with the options in `toolkit.sandbox.msal_support`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import unquote

from toolkit.sandbox.oauth_claims import (
    EXCHANGE_APP_SCOPE,
    EXCHANGE_ONLINE,
    EXCHANGE_ONLINE_365,
    EXCHANGE_ONLINE_APP_ID,
    GRAPH,
    IMAP_SCOPE,
    MICROSOFT_GRAPH,
    MICROSOFT_GRAPH_APP_ID,
    OIDC_SCOPES,
    RESOURCES,
    SMTP_SCOPE,
    TOKEN_CHECK_REASONS,
    ScopeRequest,
    TokenCheck,
    TokenSigner,
    User,
    b64url,
    check_access_token,
    parse_registered_scope,
    parse_scope,
)
from toolkit.sandbox.oauth_http import (
    HTTPSServer,
    ProtocolError,
    Reply,
    basic_credentials,
    error_body,
    json_reply,
    render_device_login,
)
from toolkit.secret import Secret

__all__ = [
    "DEFAULT_TENANT_DOMAIN",
    "DEFAULT_TENANT_ID",
    "DEVICE_CODE_GRANT",
    "EXCHANGE_APP_SCOPE",
    "EXCHANGE_ONLINE",
    "EXCHANGE_ONLINE_365",
    "EXCHANGE_ONLINE_APP_ID",
    "IMAP_SCOPE",
    "MICROSOFT_GRAPH",
    "MICROSOFT_GRAPH_APP_ID",
    "SANDBOX_PUBLIC_CLIENT_ID",
    "SMTP_SCOPE",
    "TOKEN_CHECK_REASONS",
    "DeviceCodeRequest",
    "DeviceFlowOutcome",
    "LocalAuthority",
    "TokenCheck",
]

logger = logging.getLogger(__name__)

DEFAULT_TENANT_ID: Final = "8f3c2d1e-5a4d-4b0c-9e7f-5a4db0c5e701"
DEFAULT_TENANT_DOMAIN: Final = "contoso.sandbox.test"

# A public client that every authority has registered from the start, so that a
# notebook can sign in without registering an application first.
SANDBOX_PUBLIC_CLIENT_ID: Final = "5a4db0c5-7e1a-4c1e-8a7e-3f0c11e7a001"

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"

# User codes leave out vowels, so that no code spells a word, and characters that are
# easy to confuse (0/O, 1/I).
_USER_CODE_ALPHABET: Final = "BCDFGHJKLMNPQRSTVWXZ23456789"
_USER_CODE_LENGTH: Final = 9

_SERVE_POLL_SECONDS: Final = 0.05


@dataclass(frozen=True)
class DeviceFlowOutcome:
    """Scripted result of the device-code flows started after `set_device_flow_outcome`.

    By default a flow waits until someone approves its user code, with
    `LocalAuthority.approve_device_code` or on the verification page. Set one of
    `approve_as`, `decline` or `expire` to settle flows without anyone, after
    `pending_polls` polls that get ``authorization_pending``. The claim fields replace
    what the access token would otherwise carry, to stage a broken token.
    """

    approve_as: str | None = None
    decline: bool = False
    expire: bool = False
    pending_polls: int = 1
    audience: str | None = None
    scopes: tuple[str, ...] | None = None
    tenant_id: str | None = None
    lifetime: int = 3600
    not_before_offset: int = 0

    def __post_init__(self) -> None:
        settled = [self.approve_as is not None, self.decline, self.expire]
        if sum(settled) > 1:
            raise ValueError("set at most one of approve_as, decline and expire")
        if self.pending_polls < 0:
            raise ValueError(f"pending_polls must be 0 or more, not {self.pending_polls}")


@dataclass(frozen=True)
class DeviceCodeRequest:
    """A device-code sign-in that has not been redeemed yet, as listed for a trainer."""

    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    approved_by: str | None
    declined: bool


@dataclass(frozen=True)
class _Client:
    client_id: str
    secret: Secret | None = field(repr=False)
    allow_public_client_flows: bool
    # (resource name, scope) pairs with consent, or None when users consent to any
    # known delegated scope at sign-in.
    consented_scopes: frozenset[tuple[str, str]] | None
    app_roles: frozenset[tuple[str, str]]


@dataclass
class _DeviceFlow:
    """Mutable state of one device-code sign-in, changed only under the authority's lock."""

    user_code: str
    client_id: str
    scope: ScopeRequest
    scope_text: str
    expires_at: float
    outcome: DeviceFlowOutcome | None
    polls: int = 0
    approved_by: str | None = None
    declined: bool = False


@dataclass(frozen=True)
class _RefreshGrant:
    client_id: str
    username: str


class LocalAuthority:
    """An imitation of the Microsoft identity platform for one tenant, served on loopback HTTPS.

    Register users and clients, `start` it (or use it as a context manager), point msal
    at `authority_url` and let the sandbox servers call `check_token`. Every method is
    safe to call from any thread.
    """

    def __init__(
        self,
        *,
        server_ssl_context: ssl.SSLContext,
        host: str = "127.0.0.1",
        port: int = 0,
        tenant_id: str = DEFAULT_TENANT_ID,
        tenant_domain: str = DEFAULT_TENANT_DOMAIN,
        device_flow_interval: int = 1,
        device_code_lifetime: int = 900,
    ) -> None:
        """Prepare an authority; nothing listens until `start`.

        `host` must be a loopback IP address. `device_flow_interval` is the ``interval``
        (seconds between polls) sent to clients, and `device_code_lifetime` the
        ``expires_in`` of device codes (Microsoft's default is 900 seconds).
        """
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"host must be a loopback IP address, not {host!r}") from None
        if not address.is_loopback:
            raise ValueError(f"host must be a loopback IP address, not {host!r}")
        if device_flow_interval < 0:
            raise ValueError(f"device_flow_interval must be 0 or more, not {device_flow_interval}")
        if device_code_lifetime <= 0:
            raise ValueError(f"device_code_lifetime must be positive, not {device_code_lifetime}")

        self.tenant_id = tenant_id
        self.tenant_domain = tenant_domain
        self.device_flow_interval = device_flow_interval
        self.device_code_lifetime = device_code_lifetime
        self._ssl_context = server_ssl_context
        self._host = host
        self._requested_port = port
        self._family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        self._signer = TokenSigner(tenant_id)

        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        self._clients: dict[str, _Client] = {}
        self._mailbox_grants: set[tuple[str, str]] = set()
        self._device_flows: dict[str, _DeviceFlow] = {}
        self._user_codes: dict[str, str] = {}
        self._refresh_grants: dict[str, _RefreshGrant] = {}
        # Delegated scopes each user consented to per client: (client_id, user) -> scopes.
        self._user_consents: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._device_flow_outcome: DeviceFlowOutcome | None = None

        self._lifecycle_lock = threading.Lock()
        self._server: HTTPSServer | None = None
        self._thread: threading.Thread | None = None

        self.register_client(SANDBOX_PUBLIC_CLIENT_ID)

    def __repr__(self) -> str:
        server = self._server
        state = f"listening on port {server.server_port}" if server else "stopped"
        return f"LocalAuthority(tenant_id={self.tenant_id!r}, {state})"

    # Lifecycle

    def start(self) -> None:
        """Listen on the loopback address and serve HTTPS from a daemon thread.

        Raises RuntimeError when the authority is already running, and OSError when the
        port cannot be bound.
        """
        with self._lifecycle_lock:
            if self._server is not None:
                raise RuntimeError("the local authority is already running")
            server = HTTPSServer(
                (self._host, self._requested_port),
                self._handle_request,
                self._ssl_context,
                self._family,
            )
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": _SERVE_POLL_SECONDS},
                name=f"sandbox-authority-{server.server_port}",
                daemon=True,
            )
            self._server = server
            self._thread = thread
            thread.start()
        logger.info("Local authority for tenant %s listening at %s", self.tenant_id, self.base_url)

    def stop(self) -> None:
        """Stop serving, close the listening socket and open connections, and join the threads.

        Stopping an authority that is not running does nothing.
        """
        with self._lifecycle_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            if server is None or thread is None:
                return
            server.shutdown()
            server.close_open_connections()
            server.server_close()
            thread.join()
        logger.info("Local authority for tenant %s stopped", self.tenant_id)

    def __enter__(self) -> LocalAuthority:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port. Raises RuntimeError when the authority is not running."""
        server = self._server
        if server is None:
            raise RuntimeError("the local authority is not running. Call start() first.")
        return server.server_port

    @property
    def base_url(self) -> str:
        """The HTTPS origin, such as ``https://127.0.0.1:50123``."""
        host = f"[{self._host}]" if self._family == socket.AF_INET6 else self._host
        return f"https://{host}:{self.port}"

    @property
    def authority_url(self) -> str:
        """The URL to pass to msal as ``authority``: the origin and the tenant ID."""
        return f"{self.base_url}/{self.tenant_id}"

    @property
    def issuer(self) -> str:
        """The OpenID Connect issuer of ID tokens, as the discovery document states it."""
        return f"{self.base_url}/{self.tenant_id}/v2.0"

    @property
    def verification_uri(self) -> str:
        """The page where a user enters a device code, as sent in ``verification_uri``."""
        return f"{self.base_url}/devicelogin"

    @property
    def jwks(self) -> dict[str, Any]:
        """The public signing key as a JSON Web Key Set (RFC 7517), also served at ``jwks_uri``."""
        return {"keys": [dict(self._signer.public_jwk)]}

    # Directory: users, clients, grants

    def register_user(self, username: str, *, display_name: str | None = None) -> None:
        """Add a user (a UPN such as ``alice@contoso.sandbox.test``) to the tenant."""
        if "@" not in username or username.startswith("@") or username.endswith("@"):
            raise ValueError(
                f"username must be a UPN such as alice@{self.tenant_domain}: {username!r}"
            )
        user = User(
            username=username,
            object_id=self._signer.object_id("user", username.casefold()),
            display_name=display_name or username.split("@", 1)[0],
        )
        with self._lock:
            self._users[username.casefold()] = user

    def register_client(
        self,
        client_id: str,
        *,
        secret: str | None = None,
        allow_public_client_flows: bool | None = None,
        consented_scopes: Iterable[str] | None = None,
        app_roles: Iterable[str] = (),
    ) -> None:
        """Register an application: a public client without `secret`, else a confidential one.

        `allow_public_client_flows` is the app registration setting of that name. It
        decides whether the device code flow works without the secret, and defaults to
        True for public clients and False for confidential ones.

        `consented_scopes` lists the delegated scopes with admin consent, in any form a
        client may request (``https://outlook.office.com/SMTP.Send``). Requests for
        other scopes fail with AADSTS65001. None means each user consents to the scopes
        requested in a device-code sign-in, and a refresh token grant fails with
        AADSTS65001 for a scope that user has not consented to.

        `app_roles` are application permissions with admin consent, such as
        ``IMAP.AccessAsApp``, which the client credentials grant puts in ``roles``.
        """
        if not client_id.strip():
            raise ValueError("client_id must not be empty")
        consent: frozenset[tuple[str, str]] | None = None
        if consented_scopes is not None:
            consent = frozenset(parse_registered_scope(item) for item in consented_scopes)
        roles: set[tuple[str, str]] = set()
        for role in app_roles:
            owners = [r for r in RESOURCES if role in r.app_roles]
            if not owners:
                known = sorted({name for r in RESOURCES for name in r.app_roles})
                raise ValueError(f"unknown app role {role!r}. Known roles: {', '.join(known)}")
            roles.update((resource.name, role) for resource in owners)
        client = _Client(
            client_id=client_id,
            secret=Secret(secret) if secret is not None else None,
            allow_public_client_flows=(
                secret is None if allow_public_client_flows is None else allow_public_client_flows
            ),
            consented_scopes=consent,
            app_roles=frozenset(roles),
        )
        with self._lock:
            self._clients[client_id.casefold()] = client

    def grant_mailbox_access(self, client_id: str, mailbox: str) -> None:
        """Let an application's app-only tokens open a mailbox.

        This stands for Exchange Online's service principal with a mailbox permission
        (``New-ServicePrincipal`` and ``Add-MailboxPermission``).
        """
        with self._lock:
            self._mailbox_grants.add((client_id.casefold(), mailbox.casefold()))

    # Device code scenarios

    def set_device_flow_outcome(self, outcome: DeviceFlowOutcome | None) -> None:
        """Set what device-code flows started from now on yield; None restores manual approval."""
        if outcome is not None and outcome.approve_as is not None:
            self._require_user(outcome.approve_as)
        with self._lock:
            self._device_flow_outcome = outcome

    def approve_device_code(self, user_code: str, username: str) -> None:
        """Sign in `username` for the device-code flow showing `user_code`, as the user would.

        Raises ValueError for an unknown or expired code and for an unknown user.
        """
        user = self._require_user(username)
        with self._lock:
            flow = self._pending_flow(user_code)
            flow.approved_by = user.username
        logger.info("Device code %s approved for %s", flow.user_code, user.username)

    def decline_device_code(self, user_code: str) -> None:
        """Decline the device-code flow showing `user_code`, so that its next poll fails."""
        with self._lock:
            flow = self._pending_flow(user_code)
            flow.declined = True
        logger.info("Device code %s declined", flow.user_code)

    def pending_device_codes(self) -> tuple[DeviceCodeRequest, ...]:
        """List the device-code flows that are neither redeemed nor expired."""
        now = time.time()
        with self._lock:
            return tuple(
                DeviceCodeRequest(
                    user_code=flow.user_code,
                    client_id=flow.client_id,
                    scopes=tuple(flow.scope_text.split()),
                    expires_at=flow.expires_at,
                    approved_by=flow.approved_by,
                    declined=flow.declined,
                )
                for flow in self._device_flows.values()
                if flow.expires_at > now
            )

    # Tokens

    def issue_token(
        self,
        *,
        user: str | None = None,
        client_id: str = SANDBOX_PUBLIC_CLIENT_ID,
        audience: str = EXCHANGE_ONLINE,
        scopes: Iterable[str] | None = None,
        roles: Iterable[str] = (),
        tenant_id: str | None = None,
        lifetime: int = 3600,
        not_before_offset: int = 0,
        issued_at: int | None = None,
        version: Literal["1.0", "2.0"] = "1.0",
    ) -> str:
        """Mint a signed access token directly, to stage a scenario without a sign-in flow.

        With `user` the token is delegated: `scopes` go into ``scp`` and default to
        ``IMAP.AccessAsUser.All SMTP.Send``. The user need not be registered. Without
        `user` it is an app-only token, with `roles` such as ``IMAP.AccessAsApp``.
        ``exp`` is `issued_at` (default now) plus `lifetime`, so a negative lifetime
        gives a token that has already expired. ``nbf`` is `issued_at` plus
        `not_before_offset`.
        """
        scope_list = list(scopes) if scopes is not None else None
        if user is None and scope_list:
            raise ValueError(
                "an app-only token carries roles, not scopes. Pass user= for a delegated token."
            )
        if user is not None and scope_list is None:
            scope_list = ["IMAP.AccessAsUser.All", "SMTP.Send"]
        return self._signer.sign_access_token(
            user=self._user_or_placeholder(user) if user is not None else None,
            client_id=client_id,
            # App-only tokens come from the client credentials grant, which needs a secret.
            client_authenticated=user is None,
            audience=audience,
            scopes=scope_list or [],
            roles=list(roles),
            tenant_id=tenant_id or self.tenant_id,
            lifetime=lifetime,
            not_before_offset=not_before_offset,
            issued_at=issued_at,
            version=version,
        )

    def check_token(self, token: str, *, protocol: str, user: str) -> TokenCheck:
        """Decide whether `token` lets `user` log in over `protocol` ("imap" or "smtp").

        The checks run in this order, and the first failure is the reason: signature by
        this authority (``unknown-token``), tenant, ``exp``, ``nbf``, audience (an
        Exchange Online identifier), the protocol's scope or app role, and the user.
        A delegated token must belong to `user`. An app-only token's application must
        have been granted the mailbox with `grant_mailbox_access`. Raises ValueError for
        another protocol.
        """
        return check_access_token(
            token,
            public_key=self._signer.public_key,
            tenant_id=self.tenant_id,
            protocol=protocol,
            user=user,
            is_mailbox_granted=self._is_mailbox_granted,
        )

    # HTTP routing, called from the server's request threads

    def _handle_request(
        self, method: str, path: str, form: Mapping[str, str], authorization: str | None
    ) -> Reply:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["devicelogin"]:
            return self._device_login_page(method, form)

        tenant, route = parts[0], "/".join(parts[1:])
        known_route = (method, route) in {
            ("GET", "v2.0/.well-known/openid-configuration"),
            ("GET", "discovery/v2.0/keys"),
            ("POST", "oauth2/v2.0/devicecode"),
            ("POST", "oauth2/v2.0/token"),
            ("GET", "oauth2/v2.0/authorize"),
        }
        if not known_route:
            return json_reply(
                404, {"error": "not_found", "error_description": f"no such endpoint: {path}"}
            )

        try:
            if tenant.casefold() not in {self.tenant_id.casefold(), self.tenant_domain.casefold()}:
                raise ProtocolError(
                    "invalid_request",
                    f"Tenant '{tenant}' not found. "
                    "Check the tenant ID or domain in the authority URL.",
                    code=90002,
                )
            if route == "v2.0/.well-known/openid-configuration":
                return json_reply(200, self._openid_configuration())
            if route == "discovery/v2.0/keys":
                return json_reply(200, self.jwks)
            if route == "oauth2/v2.0/devicecode":
                return json_reply(200, self._start_device_flow(form))
            if route == "oauth2/v2.0/token":
                return json_reply(200, self._token(form, authorization))
            raise ProtocolError(
                "invalid_request",
                "The sandbox serves the device code flow, not the authorization code flow.",
                code=None,
            )
        except ProtocolError as error:
            # Pending replies come with every poll, so only other rejections reach INFO.
            level = logging.DEBUG if error.error == "authorization_pending" else logging.INFO
            logger.log(
                level,
                "Rejected %s %s for client %s: %s (AADSTS%s)",
                method,
                path,
                form.get("client_id") or "-",
                error.error,
                error.code or "-",
            )
            return json_reply(error.status, error_body(error))

    def _openid_configuration(self) -> dict[str, Any]:
        # msal follows these URLs as given, so every one must point back at this server.
        oauth2 = f"{self.authority_url}/oauth2/v2.0"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{oauth2}/authorize",
            "token_endpoint": f"{oauth2}/token",
            "device_authorization_endpoint": f"{oauth2}/devicecode",
            "jwks_uri": f"{self.authority_url}/discovery/v2.0/keys",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": sorted(OIDC_SCOPES),
            "grant_types_supported": [DEVICE_CODE_GRANT, "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "tenant_region_scope": None,
        }

    def _start_device_flow(self, form: Mapping[str, str]) -> dict[str, Any]:
        client = self._require_client(form)
        scope_text = form.get("scope", "")
        scope = parse_scope(scope_text)
        device_code = secrets.token_urlsafe(48)
        user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(_USER_CODE_LENGTH))
        with self._lock:
            now = time.time()
            for key in [k for k, f in self._device_flows.items() if f.expires_at <= now]:
                self._forget_flow(key)
            flow = _DeviceFlow(
                user_code=user_code,
                client_id=client.client_id,
                scope=scope,
                scope_text=scope_text,
                expires_at=now + self.device_code_lifetime,
                outcome=self._device_flow_outcome,
            )
            self._device_flows[_digest(device_code)] = flow
            self._user_codes[user_code] = _digest(device_code)
        logger.debug("Device code %s started for client %s", user_code, client.client_id)
        return {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": self.verification_uri,
            "expires_in": self.device_code_lifetime,
            "interval": self.device_flow_interval,
            "message": (
                f"Open {self.verification_uri} in a browser and enter the code {user_code} "
                f"to sign in to the sandbox tenant {self.tenant_domain}."
            ),
        }

    def _token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        logger.debug("Token request with grant_type=%s", grant_type or "(none)")
        basic_id, basic_secret = basic_credentials(authorization)
        form = {**form, "client_id": form.get("client_id") or basic_id or ""}
        client = self._require_client(form)
        presented_secret = form.get("client_secret") or basic_secret

        if grant_type == DEVICE_CODE_GRANT:
            self._authenticate_client(client, presented_secret, public_flow=True)
            return self._redeem_device_code(
                client, form, authenticated=presented_secret is not None
            )
        if grant_type == "client_credentials":
            self._authenticate_client(client, presented_secret, public_flow=False)
            return self._client_credentials(client, form)
        if grant_type == "refresh_token":
            self._authenticate_client(client, presented_secret, public_flow=True)
            return self._redeem_refresh_token(
                client, form, authenticated=presented_secret is not None
            )
        if not grant_type:
            raise ProtocolError(
                "invalid_request",
                "The request body must contain the parameter 'grant_type'.",
                code=900144,
            )
        raise ProtocolError(
            "unsupported_grant_type", f"The grant type '{grant_type}' is not supported.", code=70003
        )

    def _authenticate_client(
        self, client: _Client, presented: str | None, *, public_flow: bool
    ) -> None:
        """Check the client secret the way Entra does for each kind of client and grant."""
        if client.secret is None:
            if presented is not None:
                raise ProtocolError(
                    "invalid_client",
                    f"Application '{client.client_id}' is a public client, so the request "
                    "must not contain 'client_assertion' or 'client_secret'.",
                    code=700025,
                    status=401,
                )
            if public_flow:
                return
        elif presented is None:
            if public_flow and client.allow_public_client_flows:
                return
        elif hmac.compare_digest(presented.encode(), client.secret.reveal().encode()):
            return
        else:
            raise ProtocolError(
                "invalid_client",
                f"The client secret sent for application '{client.client_id}' is not valid. "
                "Send the secret's value, not its ID, and check that it has not expired.",
                code=7000215,
                status=401,
            )
        raise ProtocolError(
            "invalid_client",
            "The request body must contain the parameter 'client_assertion' or "
            f"'client_secret': application '{client.client_id}' is a confidential client. "
            "Send its secret, or turn on 'Allow public client flows' in its registration.",
            code=7000218,
            status=401,
        )

    def _redeem_device_code(
        self, client: _Client, form: Mapping[str, str], *, authenticated: bool
    ) -> dict[str, Any]:
        device_code = form.get("device_code") or form.get("code")
        if not device_code:
            raise ProtocolError(
                "invalid_request",
                "The request body must contain the parameter 'device_code'.",
                code=900144,
            )
        with self._lock:
            key = _digest(device_code)
            flow = self._device_flows.get(key)
            if flow is None or flow.client_id != client.client_id:
                raise ProtocolError(
                    "bad_verification_code",
                    "The device code is not known to this tenant.",
                    code=None,
                )
            # A scripted outcome takes effect after pending_polls authorization_pending replies.
            outcome = flow.outcome
            scripted = (
                outcome
                if outcome is not None and flow.polls >= outcome.pending_polls
                else DeviceFlowOutcome()
            )
            if time.time() >= flow.expires_at or scripted.expire:
                self._forget_flow(key)
                raise ProtocolError(
                    "expired_token", "The device code has expired. Start a new sign-in.", code=70019
                )
            if flow.declined or scripted.decline:
                self._forget_flow(key)
                raise ProtocolError(
                    "authorization_declined", "The user declined the sign-in request.", code=None
                )
            if flow.approved_by is None and scripted.approve_as is not None:
                flow.approved_by = self._require_user(scripted.approve_as).username
            if flow.approved_by is None:
                flow.polls += 1
                raise ProtocolError(
                    "authorization_pending",
                    "The user has not finished signing in yet. Keep polling.",
                    code=70016,
                )
            self._forget_flow(key)

        user = self._require_user(flow.approved_by)
        logger.info("Device code %s redeemed for %s", flow.user_code, user.username)
        return self._user_token_response(
            client,
            user,
            flow.scope,
            form,
            authenticated=authenticated,
            sign_in=True,
            outcome=outcome,
        )

    def _redeem_refresh_token(
        self, client: _Client, form: Mapping[str, str], *, authenticated: bool
    ) -> dict[str, Any]:
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise ProtocolError(
                "invalid_request",
                "The request body must contain the parameter 'refresh_token'.",
                code=900144,
            )
        with self._lock:
            grant = self._refresh_grants.get(_digest(refresh_token))
        if grant is None or grant.client_id != client.client_id:
            raise ProtocolError(
                "invalid_grant",
                "The refresh token is not valid: this tenant did not issue it to this application.",
                code=70000,
            )
        scope = parse_scope(form.get("scope", ""))
        user = self._require_user(grant.username)
        return self._user_token_response(
            client, user, scope, form, authenticated=authenticated, sign_in=False
        )

    def _client_credentials(self, client: _Client, form: Mapping[str, str]) -> dict[str, Any]:
        scope_text = form.get("scope", "")
        items = scope_text.split()
        if len(items) != 1 or not items[0].endswith("/.default"):
            raise ProtocolError(
                "invalid_scope",
                f"The scope '{scope_text}' is not valid for the client credentials grant. It must "
                f"be a resource identifier followed by '/.default', such as {EXCHANGE_APP_SCOPE}.",
                code=1002012,
            )
        scope = parse_scope(scope_text)
        assert scope.resource is not None  # a /.default scope always names a resource
        roles = [
            role
            for role in scope.resource.app_roles
            if (scope.resource.name, role) in client.app_roles
        ]
        lifetime = 3600
        token = self._signer.sign_access_token(
            user=None,
            client_id=client.client_id,
            client_authenticated=True,
            audience=scope.resource_id,
            scopes=[],
            roles=roles,
            tenant_id=self.tenant_id,
            lifetime=lifetime,
            not_before_offset=0,
            issued_at=None,
            version="1.0",
        )
        logger.info("Issued an app-only token to client %s with roles %s", client.client_id, roles)
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    def _user_token_response(
        self,
        client: _Client,
        user: User,
        scope: ScopeRequest,
        form: Mapping[str, str],
        *,
        authenticated: bool,
        sign_in: bool,
        outcome: DeviceFlowOutcome | None = None,
    ) -> dict[str, Any]:
        granted = self._grant_delegated_scopes(client, user, scope, sign_in=sign_in)
        lifetime = outcome.lifetime if outcome else 3600
        access_token = self._signer.sign_access_token(
            user=user,
            client_id=client.client_id,
            client_authenticated=authenticated,
            audience=(outcome.audience if outcome and outcome.audience else scope.resource_id),
            scopes=list(outcome.scopes) if outcome and outcome.scopes is not None else granted,
            roles=[],
            tenant_id=(outcome.tenant_id if outcome and outcome.tenant_id else self.tenant_id),
            lifetime=lifetime,
            not_before_offset=outcome.not_before_offset if outcome else 0,
            issued_at=None,
            version="1.0",
        )
        if scope.resource is GRAPH:
            response_scopes = list(granted)
        else:
            response_scopes = [f"{scope.resource_id}/{name}" for name in granted]
        response: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(response_scopes + sorted(scope.oidc_scopes)),
            "expires_in": max(lifetime, 0),
            "ext_expires_in": max(lifetime, 0),
            "access_token": access_token,
        }
        if "offline_access" in scope.oidc_scopes:
            refresh_token = secrets.token_urlsafe(48)
            with self._lock:
                self._refresh_grants[_digest(refresh_token)] = _RefreshGrant(
                    client.client_id, user.username
                )
            response["refresh_token"] = refresh_token
        if "openid" in scope.oidc_scopes:
            response["id_token"] = self._signer.sign_id_token(
                user, client.client_id, issuer=self.issuer, tenant_id=self.tenant_id
            )
        if form.get("client_info") == "1":
            client_info = {"uid": user.object_id, "utid": self.tenant_id}
            response["client_info"] = b64url(json.dumps(client_info).encode())
        logger.info("Issued a delegated token for %s to client %s", user.username, client.client_id)
        return response

    def _grant_delegated_scopes(
        self, client: _Client, user: User, scope: ScopeRequest, *, sign_in: bool
    ) -> list[str]:
        """Return the scopes for ``scp``: every consented scope of the requested resource.

        With admin consent (`register_client`'s `consented_scopes`) that set decides.
        Otherwise the user consents to what is requested when signing in (`sign_in`),
        and a refresh token grant may only ask for scopes the user consented to before.
        Raises AADSTS65001 for a requested scope without consent.
        """
        resource = scope.resource
        if resource is None:
            return sorted(scope.oidc_scopes - {"offline_access"})
        key = (client.client_id, user.username.casefold())
        with self._lock:
            if client.consented_scopes is not None:
                consented = {
                    name for owner, name in client.consented_scopes if owner == resource.name
                }
            else:
                user_consents = self._user_consents.setdefault(key, set())
                if sign_in and not scope.default:
                    user_consents.update((resource.name, name) for name in scope.scopes)
                consented = {name for owner, name in user_consents if owner == resource.name}
        missing = [name for name in scope.scopes if name not in consented]
        if missing:
            raise ProtocolError(
                "invalid_grant",
                f"The user or an administrator has not consented to application "
                f"'{client.client_id}' using {', '.join(missing)} of {resource.name}. "
                "Send an interactive sign-in request so the user can consent, or grant "
                "admin consent for these permissions.",
                code=65001,
            )
        return [name for name in resource.delegated_scopes if name in consented]

    # Lookups

    def _require_user(self, username: str) -> User:
        with self._lock:
            user = self._users.get(username.casefold())
        if user is None:
            raise ValueError(f"user {username!r} is not registered. Call register_user first.")
        return user

    def _user_or_placeholder(self, username: str) -> User:
        with self._lock:
            user = self._users.get(username.casefold())
        return user or User(
            username=username,
            object_id=self._signer.object_id("user", username.casefold()),
            display_name=username.split("@", 1)[0],
        )

    def _is_mailbox_granted(self, client_id: str, mailbox: str) -> bool:
        with self._lock:
            return (client_id.casefold(), mailbox.casefold()) in self._mailbox_grants

    def _require_client(self, form: Mapping[str, str]) -> _Client:
        client_id = form.get("client_id", "")
        if not client_id:
            raise ProtocolError(
                "invalid_request",
                "The request body must contain the parameter 'client_id'.",
                code=900144,
            )
        with self._lock:
            client = self._clients.get(client_id.casefold())
        if client is None:
            raise ProtocolError(
                "unauthorized_client",
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{self.tenant_domain}'. Check the client ID and the tenant of the authority URL.",
                code=700016,
            )
        return client

    def _pending_flow(self, user_code: str) -> _DeviceFlow:
        """Return the live flow for a user code. The caller must hold the lock."""
        key = self._user_codes.get(user_code.strip().upper().replace("-", ""))
        flow = self._device_flows.get(key) if key else None
        if flow is None or flow.expires_at <= time.time():
            raise ValueError(f"no pending device-code sign-in with the code {user_code!r}")
        return flow

    def _forget_flow(self, key: str) -> None:
        flow = self._device_flows.pop(key, None)
        if flow is not None:
            self._user_codes.pop(flow.user_code, None)

    # Verification page for trainers

    def _device_login_page(self, method: str, form: Mapping[str, str]) -> Reply:
        message = ""
        if method == "POST":
            user_code = form.get("user_code", "")
            try:
                if form.get("action") == "decline":
                    self.decline_device_code(user_code)
                    message = f"Declined the sign-in with code {user_code}."
                else:
                    self.approve_device_code(user_code, form.get("username", ""))
                    message = f"Signed in {form.get('username')} for code {user_code}."
            except ValueError as error:
                message = f"Failed: {error}"
                logger.info("Device login page request failed: %s", error)
        with self._lock:
            usernames = sorted(user.username for user in self._users.values())
        page = render_device_login(
            self.tenant_domain, usernames, self.pending_device_codes(), message
        )
        return Reply(200, "text/html; charset=utf-8", page.encode())


def _digest(value: str) -> str:
    # Device codes and refresh tokens are stored by digest, so the tables contain no bearer secrets.
    return hashlib.sha256(value.encode()).hexdigest()
