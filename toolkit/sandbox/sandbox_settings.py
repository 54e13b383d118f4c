"""Settings entries and environment variables that point the toolkit at a running sandbox.

Each user who can sign in gets an IMAP entry (implicit TLS) and an SMTP entry
(STARTTLS). Each behaviour endpoint gets one entry for a user with an ordinary
password, a Dovecot-like one if the tenant has one. Entries name environment
variables for their secrets:

- ``MAILDIAG_SANDBOX_PASSWORD_<USER>``: the account password;
- ``MAILDIAG_SANDBOX_APP_PASSWORD_<USER>``: the app password of a Gmail-like user;
- ``MAILDIAG_SANDBOX_TOKEN_<USER>``: an OAuth2 access token of a Microsoft-365-like
  user, which the caller fetches from the local authority.

``<USER>`` is the address in capitals with every other character as ``_``, so
alice@m365.sandbox.test becomes ``ALICE_M365_SANDBOX_TEST``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.providers import providers
from toolkit.sandbox.authority import (
    IMAP_SCOPE,
    SANDBOX_PUBLIC_CLIENT_ID,
    SMTP_SCOPE,
    LocalAuthority,
)
from toolkit.sandbox.endpoints import Behaviour, Endpoint
from toolkit.sandbox.personalities import BasicAuth, Personality
from toolkit.sandbox.tenant import SandboxUser, Tenant
from toolkit.settings import Protocol, Security, ServerSettings, build_settings

# The delegated Exchange Online scope that each protocol's token needs.
OAUTH_SCOPES = {Protocol.IMAP: (IMAP_SCOPE,), Protocol.SMTP: (SMTP_SCOPE,)}


def env_key(address: str) -> str:
    """Return the environment variable suffix for an address: ``ALICE_M365_SANDBOX_TEST``."""
    return re.sub(r"[^A-Z0-9]", "_", address.upper())


def password_env(user: SandboxUser) -> str:
    """Return the variable with the password a client should use, the app password if any."""
    if user.app_password is not None:
        return f"MAILDIAG_SANDBOX_APP_PASSWORD_{env_key(user.address)}"
    return f"MAILDIAG_SANDBOX_PASSWORD_{env_key(user.address)}"


def sandbox_environment(tenant: Tenant) -> dict[str, str]:
    """Return every password variable with its sandbox-only value."""
    environment: dict[str, str] = {}
    for user in tenant.users:
        if not user.can_sign_in:
            continue
        environment[f"MAILDIAG_SANDBOX_PASSWORD_{env_key(user.address)}"] = user.password.reveal()
        if user.app_password is not None:
            environment[password_env(user)] = user.app_password.reveal()
    return environment


def sandbox_settings(tenant: Tenant, endpoints: Sequence[Endpoint], ca_file: Path,
                     authority: LocalAuthority | None) -> list[ServerSettings]:
    """Build the settings entries for the users and the behaviour endpoints."""
    by_name = {endpoint.name: endpoint for endpoint in endpoints}
    entries: list[ServerSettings] = []
    names: set[str] = set()
    for user in tenant.users:
        if not user.can_sign_in:
            continue
        base = _entry_name(user, names)
        for endpoint in (by_name["imap-tls"], by_name["smtp-starttls"]):
            entries.append(_user_entry(user, endpoint, f"{base}-{endpoint.protocol.value}",
                                       ca_file, tenant, authority))

    # Behaviour endpoints get a user with an ordinary password, Dovecot-like first
    # because its folders are the plainest.
    basic_users = sorted(
        (u for u in tenant.users if u.can_sign_in and u.profile.basic_auth is BasicAuth.PASSWORD),
        key=lambda u: u.personality is not Personality.DOVECOT,
    )
    if basic_users:
        for endpoint in endpoints:
            if endpoint.behaviour is not Behaviour.NORMAL:
                entries.append(_user_entry(basic_users[0], endpoint, endpoint.name, ca_file,
                                           tenant, authority))
    return entries


def _user_entry(user: SandboxUser, endpoint: Endpoint, name: str, ca_file: Path,
                tenant: Tenant, authority: LocalAuthority | None) -> ServerSettings:
    oauth_only = user.profile.basic_auth is BasicAuth.DISABLED
    raw: dict[str, Any] = {
        "name": name,
        "protocol": endpoint.protocol.value,
        "host": endpoint.host,
        "port": endpoint.port,
        "tls": endpoint.security is Security.IMPLICIT_TLS,
        "auth": "oauth2" if oauth_only else "basic",
        "user": user.address,
        "ca_file": str(ca_file),
        "password_env": password_env(user),
    }
    # Only Gmail and Microsoft 365 have provider recommendations to check against.
    if user.personality.value in providers():
        raw["provider"] = user.personality.value
    if endpoint.protocol is Protocol.IMAP:
        raw["storage_folder"] = storage_folder(user)
    if oauth_only:
        raw["token_env"] = f"MAILDIAG_SANDBOX_TOKEN_{env_key(user.address)}"
        if authority is not None:
            raw["oauth"] = {
                "authority": authority.authority_url,
                "client_id": SANDBOX_PUBLIC_CLIENT_ID,
                "tenant": tenant.tenant_id,
                "scopes": list(OAUTH_SCOPES[endpoint.protocol]),
            }
    return build_settings(raw, source="sandbox")


def storage_folder(user: SandboxUser) -> str:
    """Return the user's top-level folder for fetched mail: Support, or INBOX.Support on Courier."""
    names = [folder.name for folder in user.profile.folders]
    for candidate in ("Support", "INBOX.Support"):
        if candidate in names:
            return candidate
    return "INBOX"


def _entry_name(user: SandboxUser, taken: set[str]) -> str:
    """Return a short unique entry name such as ``alice-m365``, else one built from the address."""
    local, _, domain = user.address.partition("@")
    name = re.sub(r"[^a-z0-9-]", "-", f"{local}-{domain.split('.')[0]}")
    if name in taken:
        name = re.sub(r"[^a-z0-9-]", "-", user.address)
    taken.add(name)
    return name
