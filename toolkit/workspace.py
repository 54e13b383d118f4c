"""The settings a notebook works on: the ``make lab`` sandbox, or one started in the kernel.

``make lab`` starts the sandbox beside JupyterLab and sets ``MAILDIAG_SETTINGS``
to its settings file, with the sandbox passwords in environment variables. A
notebook run on its own (under nbval, say) finds no such variable and starts a
sandbox inside its kernel instead. Either way it gets the same entries, so every
notebook runs top to bottom with no edits.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.settings import Protocol, ServerSettings
from toolkit.settings_file import load_settings, resolve_secrets

logger = logging.getLogger(__name__)

SETTINGS_VARIABLE = "MAILDIAG_SETTINGS"


@dataclass
class Workspace:
    """Server entries with their secrets resolved, and the in-kernel sandbox if one was started."""

    servers: list[ServerSettings]
    source: str
    sandbox: Any = field(default=None, repr=False)

    def server(self, name: str) -> ServerSettings:
        """Return the entry with this short name; raise KeyError naming the known ones."""
        for server in self.servers:
            if server.name == name:
                return server
        known = ", ".join(server.name for server in self.servers)
        raise KeyError(f"no entry named {name!r}; the entries are: {known}")

    def first(self, protocol: Protocol, **fields: object) -> ServerSettings:
        """Return the first entry of a protocol whose fields equal the given values."""
        for server in self.servers:
            if server.protocol is protocol and all(
                getattr(server, key) == value for key, value in fields.items()
            ):
                return server
        raise KeyError(f"no {protocol.value} entry with {fields}")

    def close(self) -> None:
        """Stop the in-kernel sandbox, if this workspace started one."""
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def open_workspace(settings_file: str | os.PathLike[str] | None = None) -> Workspace:
    """Open the given settings file, the one ``MAILDIAG_SETTINGS`` names, or a new sandbox.

    Passwords and tokens are read from the environment variables each entry
    names. A sandbox started here runs until `Workspace.close` or the kernel ends.
    """
    path = settings_file or os.environ.get(SETTINGS_VARIABLE)
    if path:
        servers = [resolve_secrets(server) for server in load_settings(path)]
        return Workspace(servers, f"settings file {Path(path)}")

    # Imported here: the library never needs the sandbox.
    from toolkit.sandbox import Sandbox
    from toolkit.sandbox.cli import sandbox_tokens

    sandbox = Sandbox(port_base=0)
    sandbox.start()
    environment = {**sandbox.environment(), **sandbox_tokens(sandbox)}
    servers = [resolve_secrets(server, environment) for server in sandbox.settings()]
    logger.info("started a sandbox in this kernel with %d entries", len(servers))
    return Workspace(servers, "a sandbox started in this kernel", sandbox)
