"""Settings files in TOML: a list of ``[[server]]`` tables.

Example::

    [[server]]
    name = "support-imap"
    protocol = "imap"
    host = "imap.example.com"
    port = 993
    tls = true                # the product's TLS tick: false means STARTTLS
    auth = "basic"
    user = "support@example.com"
    storage_folder = "Support"
    password_env = "SUPPORT_IMAP_PASSWORD"

A file never contains a password or token: it names the environment variable
that holds one, and `save_settings` writes only what `ServerSettings.to_dict`
returns. Tenant files (queues and permissions) extend this format with more
tables, which `load_settings` ignores.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w

from toolkit.settings import (
    FieldError,
    ServerSettings,
    SettingsError,
    build_settings,
    field_label,
    shown,
)

# Top-level tables that other parts of the toolkit own; a plain settings load skips them.
_OTHER_TABLES = {"queue", "permissions", "tenant", "sandbox"}


def load_settings(path: str | os.PathLike[str]) -> list[ServerSettings]:
    """Read every ``[[server]]`` entry of a TOML file.

    Raises `SettingsError` when the file is missing, is not TOML, or holds entries
    that cannot be used; the error lists every problem with its entry number.
    """
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _file_error(path, "was not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _file_error(
            path, f"cannot be read ({error})", "check the path and that the file is UTF-8 text"
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _file_error(
            path,
            f"is not valid TOML ({error})",
            "fix the syntax at the line named, and put strings in double quotes",
        ) from None
    return settings_from_document(document, base_dir=file_path.parent, source=str(path))


def _file_error(path: str | os.PathLike[str], problem: str, fix: str) -> SettingsError:
    return SettingsError([FieldError("file", shown(str(path)), problem, fix)], source=str(path))


def settings_from_document(
    document: Mapping[str, Any], *, base_dir: Path | None = None, source: str = ""
) -> list[ServerSettings]:
    """Build the entries of a parsed TOML document, collecting the errors of all of them."""
    errors: list[FieldError] = []
    unknown = [key for key in document if key != "server" and key not in _OTHER_TABLES]
    for key in unknown:
        errors.append(
            FieldError(
                field_label(key),
                shown(key),
                "is not a known table",
                "put each server entry under [[server]]",
            )
        )
    entries = document.get("server", [])
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        errors.append(
            FieldError(
                "server",
                shown(entries),
                "is not a list of tables",
                "write each entry as a [[server]] table",
            )
        )
        entries = []
    if not entries and not errors:
        errors.append(
            FieldError("server", "[]", "has no entries", "add at least one [[server]] table")
        )
    servers: list[ServerSettings] = []
    for number, entry in enumerate(entries, start=1):
        label = entry.get("name") if isinstance(entry.get("name"), str) else None
        where = f"server {number}" + (f" ({label})" if label else "")
        try:
            servers.append(build_settings(entry, base_dir=base_dir))
        except SettingsError as error:
            errors.extend(
                FieldError(f"{where}: {e.field}", e.value, e.problem, e.fix) for e in error.errors
            )
    if errors:
        raise SettingsError(errors, source=source)
    return servers


def dump_settings(servers: Iterable[ServerSettings]) -> str:
    """Return the TOML text for the entries, without any secret."""
    return tomli_w.dumps({"server": [server.to_dict() for server in servers]})


def save_settings(path: str | os.PathLike[str], servers: Sequence[ServerSettings]) -> Path:
    """Write the entries to a TOML file and return its path. No secret is written."""
    file_path = Path(path)
    file_path.write_text(dump_settings(servers), encoding="utf-8")
    return file_path


def resolve_secrets(
    server: ServerSettings, environ: Mapping[str, str] | None = None
) -> ServerSettings:
    """Return a copy with the password and token read from the environment variables it names.

    An entry that already carries a secret keeps it; a variable that is not set
    leaves the secret empty, and the login check reports it.
    """
    env = os.environ if environ is None else environ
    password = None
    token = None
    if server.password is None and server.password_env and env.get(server.password_env):
        password = env[server.password_env]
    if server.token is None and server.token_env and env.get(server.token_env):
        token = env[server.token_env]
    return server.with_secrets(password=password, token=token)
