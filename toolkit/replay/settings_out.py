"""The settings file and the variables that point a triage at a running replay.

The checked entries keep every field of the report except four. The host
becomes the replay's address and the port its listener's port. The CA file
becomes the replay's own CA, only when the original certificate was trusted.
The password and token variables get replay names. An entry whose provider the
toolkit knew by its host gets that provider written out, because the replay's
address no longer identifies it. The file's other entries move to the replay's
address too, so that nothing in the file points at a real server. A tenant
file's queues and permissions are copied, so step 7 predicts the same replies.

The replay accepts any credentials, so its variables contain stand-ins. A
password has 16 letters, the shape of a Gmail app password, unless the original
password had another shape. An OAuth2 token is an unsigned JWT with the
recorded claims, its times moved forward by the age of the report. An entry
whose password or token was missing in the original stays without one.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from toolkit.replay.plan import EntryScript

REPLAY_HOST = "127.0.0.1"
# A stand-in password in the shape of a Gmail app password: 16 lower-case letters.
STAND_IN_PASSWORD = "replayreplayrepl"  # noqa: S105 (a replay-only stand-in, not a secret)
# A stand-in for an original password that had another shape.
STAND_IN_OTHER_PASSWORD = "replay-stand-in-password"  # noqa: S105 (a replay-only stand-in)
# A stand-in for an OAuth2 token that was not a JWT.
STAND_IN_OPAQUE_TOKEN = "replay-stand-in-token-that-is-not-a-jwt"  # noqa: S105
_TIME_CLAIMS = ("exp", "nbf", "iat")


def variable_key(name: str) -> str:
    """Return an entry name as a variable suffix: ``gina-imap`` becomes ``GINA_IMAP``."""
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def replay_document(
    document: Mapping[str, Any],
    scripts: Sequence[EntryScript],
    ports: Mapping[str, int],
    ca_files: Mapping[str, Path],
) -> dict[str, Any]:
    """Return the replay's settings file as a TOML document (a tenant file if the original was)."""
    providers = document.get("providers") or {}
    servers = []
    for script in scripts:
        entry = dict(script.entry)
        entry["host"] = REPLAY_HOST
        entry["port"] = ports[script.name]
        entry.pop("ca_file", None)
        if script.name in ca_files:
            entry["ca_file"] = str(ca_files[script.name])
        _set_provider(entry, providers)
        key = variable_key(script.name)
        if "password_env" in entry or entry.get("auth") == "basic":
            entry["password_env"] = f"MAILDIAG_REPLAY_PASSWORD_{key}"
        if "token_env" in entry or entry.get("auth") == "oauth2":
            entry["token_env"] = f"MAILDIAG_REPLAY_TOKEN_{key}"
        servers.append(entry)
    for other in document.get("other_servers") or []:
        entry = dict(other)
        entry["host"] = REPLAY_HOST
        entry.pop("ca_file", None)
        _set_provider(entry, providers)
        servers.append(entry)
    result: dict[str, Any] = dict(document.get("tenant") or {})
    result["server"] = servers
    return result


def replay_environment(
    document: Mapping[str, Any], scripts: Sequence[EntryScript], now: float | None = None
) -> dict[str, str]:
    """Return the stand-in password and token variables that the replay's settings name."""
    odd_shape = _entries_with_finding(document, "app-password-format")
    environment: dict[str, str] = {}
    for script in scripts:
        key = variable_key(script.name)
        if script.login_reason in ("password-missing", "token-missing"):
            continue
        if script.entry.get("auth") == "oauth2":
            environment[f"MAILDIAG_REPLAY_TOKEN_{key}"] = _stand_in_token(
                script.token_claims, str(document.get("started", "")), now
            )
        else:
            password = STAND_IN_OTHER_PASSWORD if script.name in odd_shape else STAND_IN_PASSWORD
            environment[f"MAILDIAG_REPLAY_PASSWORD_{key}"] = password
    return environment


def _set_provider(entry: dict[str, Any], providers: Mapping[str, Any]) -> None:
    known = providers.get(str(entry.get("name")))
    if "provider" not in entry and known:
        entry["provider"] = known


def _entries_with_finding(document: Mapping[str, Any], finding_id: str) -> set[str]:
    return {
        str(finding.get("server"))
        for finding in document.get("findings") or []
        if finding.get("id") == finding_id
    }


def _stand_in_token(
    claims: Mapping[str, Any] | None, started: str, now: float | None
) -> str:
    """Return an unsigned JWT with the recorded claims, its times moved to the present.

    The token checks read the claims without the signature, and the replay
    accepts any token, so no key is needed.
    """
    if not claims:
        return STAND_IN_OPAQUE_TOKEN
    try:
        recorded = datetime.fromisoformat(started).timestamp()
    except ValueError:
        recorded = time.time()
    shift = (time.time() if now is None else now) - recorded
    payload = dict(claims)
    for name in _TIME_CLAIMS:
        value = payload.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            payload[name] = int(value + shift)
    header = {"alg": "none", "typ": "JWT"}
    return ".".join(
        (_base64url(header), _base64url(payload), _base64url({"replay": "unsigned"}))
    )


def _base64url(data: Mapping[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
