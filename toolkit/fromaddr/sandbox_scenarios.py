"""The seed From-address scenarios on the sandbox: its users and a tenant file that points at it.

`scenario_tenant` returns the sandbox tenant: Gmail-like accounts with and
without a verified alias, Microsoft-365-like accounts with Send As, Send on
Behalf, both, or neither, a shared mailbox with a Send As delegate, and a
pass-through and an envelope-owner relay. `write_scenario_file` writes the
tenant file for a sandbox started with it, and `scenario_environment` returns
the password and token variables that file names.

The sandbox is imported inside the functions only: the From-address
predictions never use it, it is the independent check of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

if TYPE_CHECKING:
    from toolkit.sandbox import Sandbox, Tenant

GINA = "gina@gmail.sandbox.test"
GABE = "gabe@gmail.sandbox.test"
HELP = "help@shop.sandbox.test"
ALICE = "alice@m365.sandbox.test"
BOB = "bob@m365.sandbox.test"
FRANK = "frank@m365.sandbox.test"
DAVE = "dave@m365.sandbox.test"
ERIN = "erin@m365.sandbox.test"
SUPPORT = "support@m365.sandbox.test"
CHRIS = "chris@courier.sandbox.test"
DANA = "dana@dovecot.sandbox.test"

SHARED_IMAP_ENTRY = "support-m365-imap"
OBSERVER_ENTRY = "dana-dovecot-imap"

SCENARIO_USERS: tuple[dict[str, Any], ...] = (
    {"address": GINA, "personality": "gmail", "display_name": "Gina Gmail", "aliases": [HELP]},
    {"address": GABE, "personality": "gmail", "display_name": "Gabe Gmail"},
    # The mailbox behind Gina's verified alias, so that it has an IMAP entry of its own.
    {"address": HELP, "personality": "dovecot", "display_name": "Shop Help"},
    {
        "address": ALICE,
        "personality": "microsoft365",
        "display_name": "Alice M365",
        "send_as": [SUPPORT, ERIN],
    },
    {
        "address": BOB,
        "personality": "microsoft365",
        "display_name": "Bob M365",
        "send_on_behalf": [SUPPORT, ERIN],
    },
    {
        "address": FRANK,
        "personality": "microsoft365",
        "display_name": "Frank M365",
        "send_as": [ERIN],
        "send_on_behalf": [ERIN],
    },
    {"address": DAVE, "personality": "microsoft365", "display_name": "Dave M365"},
    {"address": ERIN, "personality": "microsoft365", "display_name": "Erin M365"},
    {"address": SUPPORT, "personality": "microsoft365", "display_name": "Support", "shared": True},
    {"address": CHRIS, "personality": "courier", "display_name": "Chris Courier"},
    {"address": DANA, "personality": "dovecot", "display_name": "Dana Dovecot"},
)

# IMAP rows and SMTP columns of the scenario table, by the sandbox's entry names.
IMAP_ENTRIES = (
    "gina-gmail-imap",
    "gabe-gmail-imap",
    "help-shop-imap",
    "alice-m365-imap",
    "erin-m365-imap",
    SHARED_IMAP_ENTRY,
    "bob-m365-imap",
    "frank-m365-imap",
    "dave-m365-imap",
    OBSERVER_ENTRY,
)
SMTP_ENTRIES = (
    "gina-gmail-smtp",
    "alice-m365-smtp",
    "bob-m365-smtp",
    "frank-m365-smtp",
    "dave-m365-smtp",
    "chris-courier-smtp",
    "dana-dovecot-smtp",
)

# One queue per seed scenario: (name, IMAP entries, SMTP entry, envelope sender or None).
SCENARIO_QUEUES: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    ("gmail-rewritten", ("gabe-gmail-imap",), "gina-gmail-smtp", None),
    ("gmail-alias", ("help-shop-imap",), "gina-gmail-smtp", None),
    ("m365-same-account", ("alice-m365-imap",), "alice-m365-smtp", None),
    ("m365-send-as", ("erin-m365-imap",), "alice-m365-smtp", None),
    ("m365-send-on-behalf", ("erin-m365-imap",), "bob-m365-smtp", None),
    ("m365-send-as-and-on-behalf", ("erin-m365-imap",), "frank-m365-smtp", None),
    ("m365-neither", ("erin-m365-imap",), "dave-m365-smtp", None),
    ("m365-neither-login-envelope", ("erin-m365-imap",), "dave-m365-smtp", "login"),
    ("m365-shared-mailbox", (SHARED_IMAP_ENTRY,), "alice-m365-smtp", None),
    ("gmail-imap-m365-smtp", ("gina-gmail-imap",), "alice-m365-smtp", None),
    ("m365-imap-gmail-smtp", ("alice-m365-imap",), "gina-gmail-smtp", None),
    ("relay-pass-through", ("erin-m365-imap",), "chris-courier-smtp", None),
    ("relay-envelope-owner", ("erin-m365-imap",), "dana-dovecot-smtp", None),
    ("relay-envelope-owner-login-envelope", ("erin-m365-imap",), "dana-dovecot-smtp", "login"),
    ("relay-same-account", (OBSERVER_ENTRY,), "dana-dovecot-smtp", None),
    ("two-gmail-accounts", ("gina-gmail-imap", "gabe-gmail-imap"), "gina-gmail-smtp", None),
)

# The sandbox personalities without a provider of their own, as declared relay rules.
_RELAY_RULES = {"courier": "pass-through", "dovecot": "envelope-owner"}


def scenario_tenant() -> Tenant:
    """Return the sandbox tenant of the seed scenarios, with fresh sandbox-only passwords."""
    from toolkit.sandbox import tenant_from_dict

    return tenant_from_dict(
        {
            "name": "From-address scenarios",
            "domain": "m365.sandbox.test",
            "users": [dict(user) for user in SCENARIO_USERS],
        }
    )


def scenario_document(sandbox: Sandbox) -> dict[str, Any]:
    """Return the tenant file of the scenarios as a TOML document for a running sandbox."""
    entries = {server.name: server.to_dict() for server in sandbox.settings()}
    # A delegate reaches a shared mailbox over IMAP with its own token and the
    # shared address as user name, as Exchange Online's OAuth2 IMAP access does.
    entries[SHARED_IMAP_ENTRY] = {
        **entries["alice-m365-imap"],
        "name": SHARED_IMAP_ENTRY,
        "user": SUPPORT,
    }
    servers = [entries[name] for name in (*IMAP_ENTRIES, *SMTP_ENTRIES)]
    users = sandbox.tenant.users
    relays = [
        {"server": name, "rule": _RELAY_RULES[user.personality.value]}
        for name in SMTP_ENTRIES
        for user in users
        if entries[name]["user"] == user.address and user.personality.value in _RELAY_RULES
    ]
    queues = []
    for name, imap, smtp, envelope in SCENARIO_QUEUES:
        queue: dict[str, Any] = {"name": name, "imap": list(imap), "smtp": smtp}
        if envelope is not None:
            queue["envelope_sender"] = envelope
        queues.append(queue)
    return {
        "tenant": {
            "name": "From-address scenarios on the sandbox",
            "observer": OBSERVER_ENTRY,
            "envelope_sender": "from",
        },
        "server": servers,
        "queue": queues,
        "permissions": {
            "shared_mailboxes": [user.address for user in users if user.shared],
            "send_as": [
                {"user": user.address, "mailboxes": list(user.send_as)}
                for user in users
                if user.send_as
            ],
            "send_on_behalf": [
                {"user": user.address, "mailboxes": list(user.send_on_behalf)}
                for user in users
                if user.send_on_behalf
            ],
            "gmail_aliases": [
                {"user": user.address, "aliases": list(user.aliases)}
                for user in users
                if user.aliases
            ],
            "relays": relays,
        },
    }


def write_scenario_file(sandbox: Sandbox, path: str | Path | None = None) -> Path:
    """Write the scenarios' tenant file for a running sandbox and return its path.

    Without `path` the file goes into the sandbox's temporary folder. It names
    environment variables and contains no password or token.
    """
    target = Path(path) if path is not None else sandbox.folder / "from-scenarios.toml"
    target.write_text(tomli_w.dumps(scenario_document(sandbox)), encoding="utf-8")
    return target


def scenario_environment(sandbox: Sandbox) -> dict[str, str]:
    """Return the password and token variables that the sandbox's entries name.

    The tokens are fresh OAuth2 access tokens of the sandbox's local authority,
    valid for one hour.
    """
    from toolkit.sandbox.sandbox_settings import env_key

    environment = sandbox.environment()
    for user in sandbox.users:
        if user.can_sign_in and user.personality.value == "microsoft365":
            token = sandbox.access_token(user.address)
            environment[f"MAILDIAG_SANDBOX_TOKEN_{env_key(user.address)}"] = token.reveal()
    return environment
