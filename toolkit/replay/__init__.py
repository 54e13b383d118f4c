"""Replay a saved triage report: local listeners that reply as the customer's servers did.

A colleague or trainer reproduces a ticket offline: `ReplayServer` reads the
JSON report, starts one listener per checked entry on 127.0.0.1, and writes a
settings file that points at them. A triage of that file then finds the same
findings as the original, except that messages name the replay's address and
ports. The modules:

- `plan`: the report's step data turned into one script per entry (no I/O);
- `certs`: throwaway certificates that repeat the recorded certificate facts;
- `connection`, `imap_session`, `smtp_session`: the hand-written sessions;
- `settings_out`: the settings file and the stand-in passwords and tokens;
- `server`: the listeners and their threads.
"""

from toolkit.replay.plan import ReplayError
from toolkit.replay.server import ReplayEndpoint, ReplayServer

__all__ = ["ReplayEndpoint", "ReplayError", "ReplayServer"]
