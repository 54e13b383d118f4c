"""Rows that describe a sandbox's endpoints and users, for tables in notebooks and the CLI.

The rows are plain dicts, so a notebook turns them into a DataFrame and the CLI
into text columns. User rows never contain a password.
"""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.sandbox.endpoints import Endpoint
from toolkit.sandbox.personalities import BasicAuth, Personality
from toolkit.sandbox.tenant import SandboxUser, Tenant


def endpoint_rows(endpoints: Iterable[Endpoint]) -> list[dict[str, str | int]]:
    """Return one row per endpoint: name, protocol, security, behaviour, host, port, description."""
    return [
        {
            "name": endpoint.name,
            "protocol": endpoint.protocol.value,
            "security": endpoint.security.value,
            "behaviour": endpoint.behaviour.value,
            "host": endpoint.host,
            "port": endpoint.port,
            "description": endpoint.description,
        }
        for endpoint in endpoints
    ]


def user_rows(tenant: Tenant) -> list[dict[str, str]]:
    """Return one row per user: address, personality, how the user logs in, and notes."""
    return [
        {
            "address": user.address,
            "personality": user.profile.label,
            "login": login_kind(user),
            "notes": user_notes(tenant, user),
        }
        for user in tenant.users
    ]


def login_kind(user: SandboxUser) -> str:
    """Return how the user logs in: password, app password, OAuth2 only, or no sign-in."""
    if not user.can_sign_in:
        return "no sign-in"
    if user.profile.basic_auth is BasicAuth.DISABLED:
        return "OAuth2 only"
    if user.profile.basic_auth is BasicAuth.APP_PASSWORD:
        return "app password"
    return "password"


def user_notes(tenant: Tenant, user: SandboxUser) -> str:
    """Return the user's aliases, sending permissions and switches as one line."""
    notes: list[str] = []
    if user.shared:
        notes.append("shared mailbox")
    if user.aliases:
        notes.append("alias " + ", ".join(user.aliases))
    if user.send_as:
        notes.append("send-as " + ", ".join(user.send_as))
    if user.send_on_behalf:
        notes.append("send-on-behalf " + ", ".join(user.send_on_behalf))
    if (user.personality is Personality.MICROSOFT365 and user.can_sign_in
            and not tenant.smtp_auth_enabled(user)):
        notes.append("SMTP AUTH off")
    return "; ".join(notes)
