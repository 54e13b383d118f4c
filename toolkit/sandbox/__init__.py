"""Local IMAP and SMTP servers with provider personalities, for workshops, notebooks and tests.

Start one with ``with Sandbox(port_base=0) as sandbox:`` and read
`Sandbox.endpoints`, `Sandbox.users` and `Sandbox.settings()`. The modules:

- `server`: the `Sandbox` class, its thread and its listeners;
- `endpoints`: listener names, port offsets and behaviours;
- `tenant` and `personalities`: users, permissions and provider behaviour as data;
- `imap`, `smtp`, `mailstore`, `auth`, `sasl`, `sending`: the servers;
- `behaviours`: the silent and busy listeners; `ca`: the throwaway CA;
- `cli`: ``maildiag sandbox``.
"""

from toolkit.sandbox.endpoints import DEFAULT_PORT_BASE, Behaviour, Endpoint
from toolkit.sandbox.personalities import Personality
from toolkit.sandbox.server import Sandbox, SandboxError
from toolkit.sandbox.tenant import (
    SandboxUser,
    Tenant,
    default_tenant,
    load_tenant,
    tenant_from_dict,
)

__all__ = [
    "DEFAULT_PORT_BASE",
    "Behaviour",
    "Endpoint",
    "Personality",
    "Sandbox",
    "SandboxError",
    "SandboxUser",
    "Tenant",
    "default_tenant",
    "load_tenant",
    "tenant_from_dict",
]
