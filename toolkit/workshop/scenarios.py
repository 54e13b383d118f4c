"""Helpers that the exercises share to set up their sandbox: users, entries and tenant files.

Every exercise runs on a sandbox of its own with only the users it needs, on
free ports. Its entry starts from the sandbox's own settings entry for a user
(`Sandbox.settings`), with the secrets filled in, and changes one setting.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import tomli_w

from toolkit.fromaddr.sandbox_scenarios import scenario_environment
from toolkit.sandbox import Sandbox, Tenant, tenant_from_dict
from toolkit.settings import ServerSettings
from toolkit.settings_file import resolve_secrets

DANA = "dana@dovecot.sandbox.test"
CHRIS = "chris@courier.sandbox.test"
GINA = "gina@gmail.sandbox.test"
GABE = "gabe@gmail.sandbox.test"
ALICE = "alice@m365.sandbox.test"
BOB = "bob@m365.sandbox.test"
ERIN = "erin@m365.sandbox.test"
M365_DOMAIN = "m365.sandbox.test"


def tenant_of(*users: Mapping[str, Any]) -> Tenant:
    """Return a tenant with these users, as `tenant_from_dict` reads them, with fresh passwords."""
    return tenant_from_dict(
        {"name": "Workshop", "domain": M365_DOMAIN, "users": [dict(user) for user in users]}
    )


def user(address: str, personality: str, **fields: Any) -> dict[str, Any]:
    """Return one user of a tenant, with a display name made from the address."""
    name = address.partition("@")[0].capitalize()
    return {"address": address, "personality": personality, "display_name": name, **fields}


def account_password() -> str:
    """Return a random account password that can never pass for a 16-letter app password.

    The digits and the hyphen keep the shape check of Gmail app passwords
    (``app-password-format``) reliable, whatever the random part is.
    """
    return f"{secrets.token_urlsafe(9)}-{secrets.randbelow(90) + 10}"


def entries(sandbox: Sandbox) -> dict[str, ServerSettings]:
    """Return the sandbox's settings entries by name, with the sandbox passwords filled in."""
    environment = sandbox.environment()
    return {entry.name: resolve_secrets(entry, environment) for entry in sandbox.settings()}


def renamed(entry: ServerSettings, name: str, **changes: Any) -> ServerSettings:
    """Return a copy of `entry` with another name and the given fields changed."""
    return dataclasses.replace(entry, name=name, **changes)


def port_of(sandbox: Sandbox, endpoint: str) -> int:
    """Return the port of a sandbox endpoint, such as ``smtp-tls``."""
    return sandbox.endpoint(endpoint).port


def tenant_text(
    sandbox: Sandbox,
    servers: Sequence[str],
    queue: Mapping[str, Any],
    permissions: Mapping[str, Any],
    observer: str,
) -> str:
    """Return the TOML tenant file of a From-address exercise on the running sandbox.

    `servers` names the sandbox entries to include, `queue` is the one queue
    table, and `observer` the IMAP entry that receives test messages. The file
    names environment variables and contains no password or token.
    """
    by_name = {entry.name: entry.to_dict() for entry in sandbox.settings()}
    document = {
        "tenant": {"name": "Workshop tenant", "observer": observer, "envelope_sender": "from"},
        "server": [by_name[name] for name in servers],
        "queue": [dict(queue)],
        "permissions": dict(permissions),
    }
    return tomli_w.dumps(document)


def environment_of(sandbox: Sandbox) -> dict[str, str]:
    """Return the password and token variables that the sandbox's entries name, with values."""
    return scenario_environment(sandbox)
