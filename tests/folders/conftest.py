"""Fixtures for the folder tests: a sandbox per test module, with extra folders for Dana."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.settings import ServerSettings
from toolkit.settings_file import resolve_secrets

# Dana's extra folders: German, Cyrillic and Japanese names, and '&' and '+', which
# modified UTF-7 treats specially.
DANA_FOLDERS = ("Überweisungen", "Поддержка", "日本語", "Support & Sales", "A+B")
# Chris's extra folders on the Courier-like server, for a '/' path on a '.' server.
CHRIS_FOLDERS = ("INBOX.Archive", "INBOX.Archive.2024")


def folder_tenant_data() -> dict[str, object]:
    """Return a tenant with one user per personality, as the default tenant has."""
    return {
        "name": "Folder tests",
        "domain": "m365.sandbox.test",
        "users": [
            {"address": "gina@gmail.sandbox.test", "personality": "gmail"},
            {"address": "alice@m365.sandbox.test", "personality": "microsoft365"},
            {"address": "chris@courier.sandbox.test", "personality": "courier",
             "folders": list(CHRIS_FOLDERS)},
            {"address": "dana@dovecot.sandbox.test", "personality": "dovecot",
             "folders": list(DANA_FOLDERS)},
        ],
    }


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox on free ports with the folder-test tenant, shared by one module."""
    with Sandbox(port_base=0, tenant=tenant_from_dict(folder_tenant_data())) as running:
        yield running


def entry(sandbox: Sandbox, name: str) -> ServerSettings:
    """Return the sandbox entry with this name, with its password or a fresh token."""
    settings = next(s for s in sandbox.settings() if s.name == name)
    settings = resolve_secrets(settings, sandbox.environment())
    if settings.token_env and not settings.token:
        settings = settings.with_secrets(token=sandbox.access_token(settings.user))
    return settings
