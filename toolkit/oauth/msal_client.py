"""OAuth2 access tokens through msal: device code for a person, client credentials for an app.

The authority, tenant, client id and scopes come from an entry's
`toolkit.settings.OAuthSettings`. msal is built so that it talks only to that
authority (msal 1.39, as read in its ``authority.py``, ``application.py`` and
``region.py``):

- ``authority=`` always, because without it msal falls back to Microsoft's public cloud;
- ``instance_discovery=False`` and ``validate_authority=False``, because otherwise the
  constructor and `acquire_token_silent` ask Microsoft's instance discovery endpoint;
- ``azure_region=False`` for confidential clients, because otherwise msal may ask the
  Azure instance metadata service for a region and send requests to a regional host;
- ``http_client=`` an `AuthoritySession`, which stops any request to another origin.

Every msal result is checked for ``error`` and ``error_description`` before a
token is read from it. A failure raises `TokenError` with Entra's words, which
`toolkit.explain` can explain. Tokens are returned as `Secret` values.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msal

from toolkit.oauth.cache import TokenCache
from toolkit.oauth.claims import EXCHANGE_ONLINE
from toolkit.oauth.http import AuthoritySession
from toolkit.secret import Secret
from toolkit.settings import OAuthSettings

logger = logging.getLogger(__name__)

# Scopes used when the settings name none: Exchange Online's delegated scopes for IMAP
# and SMTP, and the resource scope of the client credentials grant (Microsoft Learn,
# "Authenticate an IMAP, POP or SMTP connection using OAuth").
DEFAULT_DELEGATED_SCOPES = (
    f"{EXCHANGE_ONLINE}/IMAP.AccessAsUser.All",
    f"{EXCHANGE_ONLINE}/SMTP.Send",
)
DEFAULT_APP_SCOPES = ("https://outlook.office365.com/.default",)


class TokenError(RuntimeError):
    """An msal result with an error instead of a token; the message quotes Entra's words."""

    def __init__(self, error: str, description: str = "", codes: Sequence[int] = ()) -> None:
        self.error = error
        self.description = description
        self.codes = tuple(codes)
        first_line = description.splitlines()[0] if description else ""
        super().__init__(f"{error}: {first_line}" if first_line else error)


@dataclass(frozen=True)
class DeviceCodePrompt:
    """The device code prompt: the code, the page to enter it on, and the time left."""

    user_code: str
    verification_uri: str
    expires_in: int
    message: str


@dataclass(frozen=True)
class AccessToken:
    """An access token and what came with it. `token` is never printed."""

    token: Secret = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]
    account: str | None
    source: str


def authority_url(oauth: OAuthSettings) -> str:
    """Return ``oauth.authority``, with ``/<tenant>`` appended when the URL has no path."""
    base = oauth.authority.rstrip("/")
    if oauth.tenant and not urlsplit(base).path.strip("/"):
        return f"{base}/{oauth.tenant}"
    return base


def acquire_token_device_code(
    oauth: OAuthSettings,
    *,
    show: Callable[[DeviceCodePrompt], None],
    ca_file: str | os.PathLike[str] | None = None,
    cache: TokenCache | None = None,
    scopes: Sequence[str] | None = None,
    login_hint: str | None = None,
    timeout: float | None = None,
) -> AccessToken:
    """Get a delegated token: from the cache when it contains one, else by the device code flow.

    `show` receives the code and the address the person opens to sign in; the call
    then waits until the sign-in is done, declined or expired, or `timeout` seconds
    have passed. `login_hint` picks the cached account. Raises `TokenError`.
    """
    wanted = list(scopes or oauth.scopes or DEFAULT_DELEGATED_SCOPES)
    url = authority_url(oauth)
    with AuthoritySession(url, ca_file) as session:
        app = msal.PublicClientApplication(
            oauth.client_id,
            authority=url,
            instance_discovery=False,
            validate_authority=False,
            http_client=session,
            token_cache=cache.msal_cache if cache is not None else None,
        )
        cached = _from_cache(app, wanted, login_hint)
        if cached is not None:
            _save(cache)
            return cached

        flow = app.initiate_device_flow(scopes=wanted)
        _check(flow)
        if "user_code" not in flow:
            raise TokenError("invalid_response", "the device code response has no user_code")
        if timeout is not None:
            flow["expires_at"] = min(float(flow["expires_at"]), time.time() + timeout)
        show(
            DeviceCodePrompt(
                user_code=str(flow["user_code"]),
                verification_uri=str(flow.get("verification_uri", "")),
                expires_in=int(flow.get("expires_in", 0)),
                message=str(flow.get("message", "")),
            )
        )
        logger.info("waiting for the device code sign-in at %s", flow.get("verification_uri"))
        result = app.acquire_token_by_device_flow(flow)
        token = _token(result, "device-code")
    _save(cache)
    return token


def acquire_token_client_credentials(
    oauth: OAuthSettings,
    *,
    client_secret: Secret,
    ca_file: str | os.PathLike[str] | None = None,
    cache: TokenCache | None = None,
    scopes: Sequence[str] | None = None,
) -> AccessToken:
    """Get an app-only token with the client credentials grant. Raises `TokenError`."""
    wanted = list(scopes or oauth.scopes or DEFAULT_APP_SCOPES)
    url = authority_url(oauth)
    with AuthoritySession(url, ca_file) as session:
        app = msal.ConfidentialClientApplication(
            oauth.client_id,
            client_credential=client_secret.reveal(),
            authority=url,
            instance_discovery=False,
            validate_authority=False,
            azure_region=False,
            http_client=session,
            token_cache=cache.msal_cache if cache is not None else None,
        )
        result = app.acquire_token_for_client(scopes=wanted)
        token = _token(result, "client-credentials")
    _save(cache)
    return token


def _from_cache(
    app: msal.PublicClientApplication, scopes: list[str], login_hint: str | None
) -> AccessToken | None:
    accounts = app.get_accounts(username=login_hint) if login_hint else app.get_accounts()
    for account in accounts:
        result = app.acquire_token_silent(scopes, account=account)
        if result and "access_token" in result and not result.get("error"):
            return _token(result, "cache")
    return None


def _check(result: Mapping[str, Any] | None) -> None:
    """Raise `TokenError` when an msal result reports an error, or when there is no result."""
    if not result:
        raise TokenError("no_result", "msal returned no result")
    if result.get("error") or result.get("error_description"):
        raise TokenError(
            str(result.get("error") or "error"),
            str(result.get("error_description") or ""),
            [code for code in result.get("error_codes", []) if isinstance(code, int)],
        )


def _token(result: Mapping[str, Any] | None, source: str) -> AccessToken:
    _check(result)
    assert result is not None
    value = result.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenError("no_access_token", "the token response has no access_token")
    expires_in = result.get("expires_in")
    expires_at = (
        datetime.fromtimestamp(time.time() + float(expires_in), UTC)
        if isinstance(expires_in, int | float)
        else None
    )
    account = result.get("id_token_claims", {}).get("preferred_username")
    logger.info("got an access token from %s for %s", source, account or "the app")
    return AccessToken(
        token=Secret(value),
        expires_at=expires_at,
        scopes=tuple(str(result.get("scope", "")).split()),
        account=account if isinstance(account, str) else None,
        source=source,
    )


def _save(cache: TokenCache | None) -> None:
    if cache is not None:
        cache.save()
