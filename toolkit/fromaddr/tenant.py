"""The tenant setup behind the From-address table: servers, queues and sending permissions.

A tenant file is a settings file (``[[server]]`` tables, see `toolkit.settings_file`)
with three more tables, which ``maildiag check`` ignores::

    [tenant]
    name = "Contoso support"
    observer = "observer-imap"    # IMAP entry whose mailbox receives the --verify test messages
    envelope_sender = "from"      # MAIL FROM of replies: "from" (the From address) or "login"

    [[queue]]
    name = "support"
    imap = ["support-imap", "sales-imap"]   # IMAP entries the queue fetches from
    smtp = "support-smtp"                   # the SMTP entry it replies through
    envelope_sender = "login"               # optional, overrides [tenant]

    [permissions]
    shared_mailboxes = ["support@contoso.example"]

    [[permissions.send_as]]                 # Microsoft 365 Send As
    user = "alice@contoso.example"          # the account that signs in (the delegate)
    mailboxes = ["support@contoso.example"] # the addresses it may send as

    [[permissions.send_on_behalf]]          # Microsoft 365 Send on Behalf, same shape
    user = "bob@contoso.example"
    mailboxes = ["support@contoso.example"]

    [[permissions.gmail_aliases]]           # Gmail verified "Send mail as" addresses
    user = "sales@gmail.com"
    aliases = ["help@shop.example"]

    [[permissions.relays]]                  # sender rule of an SMTP entry
    server = "office-relay"
    rule = "envelope-owner"   # pass-through, envelope-owner, header-matches-envelope, login-only

A relay rule takes precedence over the provider that `identify_provider` finds for
the entry, so a provider's relay service with its own rules can be described too.
Loading does no I/O beyond reading the file, and no message contains a secret.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from toolkit.fromaddr.model import (
    EnvelopeSender,
    Permissions,
    Queue,
    RelayRule,
    TenantSetup,
    mailbox_address,
)
from toolkit.settings import FieldError, Protocol, ServerSettings, SettingsError, shown
from toolkit.settings_file import resolve_secrets, settings_from_document

__all__ = [
    "EnvelopeSender",
    "Permissions",
    "Queue",
    "RelayRule",
    "TenantSetup",
    "dump_tenant_setup",
    "load_tenant_setup",
    "mailbox_address",
    "tenant_setup_from_document",
    "tenant_setup_from_text",
    "with_secrets",
]

# A practical address shape, as in the settings checks: one '@' and a dot in the domain.
_ADDRESS = re.compile(r"[^@\s{}]+@[^@\s{}]+\.[^@\s{}]+\Z")
_TENANT_KEYS = ("name", "observer", "envelope_sender")
_QUEUE_KEYS = ("name", "imap", "smtp", "envelope_sender")
_PERMISSION_KEYS = ("send_as", "send_on_behalf", "shared_mailboxes", "gmail_aliases", "relays")


def with_secrets(tenant: TenantSetup, environ: Mapping[str, str] | None = None) -> TenantSetup:
    """Return a copy whose entries carry the passwords and tokens their variables name.

    `environ` defaults to the process environment.
    """
    servers = tuple(resolve_secrets(server, environ) for server in tenant.servers)
    return dataclasses.replace(tenant, servers=servers)


def load_tenant_setup(path: str | os.PathLike[str]) -> TenantSetup:
    """Read a tenant file. Raises `SettingsError` naming every unusable field."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _file_error(path, "was not found", "check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _file_error(
            path, f"cannot be read ({error})", "check the path and that the file is UTF-8 text"
        ) from None
    return tenant_setup_from_text(text, base_dir=file_path.parent, source=str(path))


def tenant_setup_from_text(
    text: str, *, base_dir: Path | None = None, source: str = ""
) -> TenantSetup:
    """Parse the TOML text of a tenant file. Raises `SettingsError` for unusable input."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _file_error(
            source or "tenant file",
            f"is not valid TOML ({error})",
            "fix the syntax at the line named",
        ) from None
    return tenant_setup_from_document(document, base_dir=base_dir, source=source)


def tenant_setup_from_document(
    document: Mapping[str, Any], *, base_dir: Path | None = None, source: str = ""
) -> TenantSetup:
    """Build a tenant setup from a parsed TOML document, collecting every error."""
    errors: list[FieldError] = []
    servers: list[ServerSettings] = []
    try:
        servers = settings_from_document(document, base_dir=base_dir)
    except SettingsError as error:
        errors += error.errors
    names = [server.name for server in servers]
    for name in sorted({name for name in names if names.count(name) > 1}):
        errors.append(
            FieldError(
                "server",
                shown(name),
                "is the name of more than one entry",
                "give each entry its own name, because queues refer to entries by name",
            )
        )
    by_name = {server.name: server for server in servers}

    tenant = _table(document, "tenant", errors)
    _unknown_keys(tenant, "tenant", _TENANT_KEYS, errors)
    name = _text(tenant.get("name"), "tenant.name", errors) or ""
    envelope = _envelope(tenant.get("envelope_sender"), "tenant.envelope_sender", errors)
    observer = _text(tenant.get("observer"), "tenant.observer", errors)
    if observer is not None and servers:
        _require_entry(observer, Protocol.IMAP, by_name, "tenant.observer", errors)

    queues = _queues(document.get("queue", []), by_name, bool(servers), errors)
    permissions = _permissions(_table(document, "permissions", errors), by_name, errors)

    if servers and not any(server.protocol is Protocol.SMTP for server in servers):
        errors.append(
            FieldError(
                "server",
                "(no SMTP entry)",
                "has no SMTP entry",
                "add the [[server]] entries that replies go out through",
            )
        )
    if servers and not any(server.protocol is Protocol.IMAP for server in servers):
        errors.append(
            FieldError(
                "server",
                "(no IMAP entry)",
                "has no IMAP entry",
                "add the [[server]] entries that fetch the customers' mail",
            )
        )
    if errors:
        raise SettingsError(errors, source=source)
    return TenantSetup(
        servers=tuple(servers),
        queues=tuple(queues),
        permissions=permissions,
        name=name,
        observer=observer,
        envelope_sender=envelope or EnvelopeSender.FROM_ADDRESS,
        source=source,
    )


def dump_tenant_setup(tenant: TenantSetup) -> str:
    """Return the TOML text of a tenant file for the setup, without any secret."""
    document: dict[str, Any] = {}
    header: dict[str, Any] = {"envelope_sender": tenant.envelope_sender.value}
    if tenant.name:
        header["name"] = tenant.name
    if tenant.observer:
        header["observer"] = tenant.observer
    document["tenant"] = header
    document["server"] = [server.to_dict() for server in tenant.servers]
    queues = []
    for queue in tenant.queues:
        entry: dict[str, Any] = {"name": queue.name, "imap": list(queue.imap), "smtp": queue.smtp}
        if queue.envelope_sender is not None:
            entry["envelope_sender"] = queue.envelope_sender.value
        queues.append(entry)
    if queues:
        document["queue"] = queues
    permissions = tenant.permissions
    document["permissions"] = {
        "shared_mailboxes": sorted(permissions.shared_mailboxes),
        "send_as": _grouped(permissions.send_as, "mailboxes"),
        "send_on_behalf": _grouped(permissions.send_on_behalf, "mailboxes"),
        "gmail_aliases": _grouped(permissions.gmail_aliases, "aliases"),
        "relays": [{"server": name, "rule": rule.value} for name, rule in permissions.relays],
    }
    return tomli_w.dumps(document)


def _grouped(pairs: frozenset[tuple[str, str]], key: str) -> list[dict[str, Any]]:
    users = sorted({user for user, _ in pairs})
    return [
        {"user": user, key: sorted(target for owner, target in pairs if owner == user)}
        for user in users
    ]


def _queues(
    raw: object, by_name: Mapping[str, ServerSettings], check_names: bool, errors: list[FieldError]
) -> list[Queue]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        errors.append(
            FieldError(
                "queue",
                shown(raw),
                "is not a list of tables",
                "write each queue as a [[queue]] table",
            )
        )
        return []
    queues: list[Queue] = []
    seen: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        where = f"queue[{number}]"
        if not isinstance(entry, Mapping):
            errors.append(
                FieldError(
                    where, shown(entry), "is not a table", "write each queue as a [[queue]] table"
                )
            )
            continue
        count = len(errors)
        _unknown_keys(entry, where, _QUEUE_KEYS, errors)
        name = _text(entry.get("name"), f"{where}.name", errors)
        if name is None and len(errors) == count:
            errors.append(
                FieldError(
                    f"{where}.name", "''", "is missing", "give the queue a name, such as support"
                )
            )
        elif name is not None and name in seen:
            errors.append(
                FieldError(
                    f"{where}.name",
                    shown(name),
                    "is the name of another queue",
                    "give each queue its own name",
                )
            )
        imap = _names(entry.get("imap"), f"{where}.imap", errors)
        smtp = _text(entry.get("smtp"), f"{where}.smtp", errors)
        if smtp is None and entry.get("smtp") is None:
            errors.append(
                FieldError(
                    f"{where}.smtp",
                    "''",
                    "is missing",
                    "name the SMTP entry that the queue replies through",
                )
            )
        envelope = _envelope(entry.get("envelope_sender"), f"{where}.envelope_sender", errors)
        if check_names:
            for index, imap_name in enumerate(imap, start=1):
                _require_entry(imap_name, Protocol.IMAP, by_name, f"{where}.imap[{index}]", errors)
            if smtp is not None:
                _require_entry(smtp, Protocol.SMTP, by_name, f"{where}.smtp", errors)
        if len(errors) > count or name is None or smtp is None:
            continue
        seen.add(name)
        queues.append(Queue(name, imap, smtp, envelope))
    return queues


def _permissions(
    raw: Mapping[str, Any], by_name: Mapping[str, ServerSettings], errors: list[FieldError]
) -> Permissions:
    _unknown_keys(raw, "permissions", _PERMISSION_KEYS, errors)
    shared = _addresses(raw.get("shared_mailboxes", []), "permissions.shared_mailboxes", errors)
    send_as = _grants(raw.get("send_as", []), "permissions.send_as", "mailboxes", errors)
    on_behalf = _grants(
        raw.get("send_on_behalf", []), "permissions.send_on_behalf", "mailboxes", errors
    )
    aliases = _grants(raw.get("gmail_aliases", []), "permissions.gmail_aliases", "aliases", errors)
    relays: list[tuple[str, RelayRule]] = []
    for number, entry in enumerate(
        _tables(raw.get("relays", []), "permissions.relays", errors), start=1
    ):
        where = f"permissions.relays[{number}]"
        _unknown_keys(entry, where, ("server", "rule"), errors)
        server = _text(entry.get("server"), f"{where}.server", errors)
        rule: RelayRule | None = None
        try:
            rule = RelayRule(str(entry.get("rule", "")).strip().lower())
        except ValueError:
            errors.append(
                FieldError(
                    f"{where}.rule",
                    shown(entry.get("rule")),
                    "is not a known relay rule",
                    "use one of: " + ", ".join(rule.value for rule in RelayRule),
                )
            )
        if server is None:
            errors.append(
                FieldError(
                    f"{where}.server",
                    shown(entry.get("server")),
                    "is missing",
                    "name the SMTP entry the rule applies to",
                )
            )
        elif by_name:
            _require_entry(server, Protocol.SMTP, by_name, f"{where}.server", errors)
        if server is not None and any(name == server for name, _ in relays):
            errors.append(
                FieldError(
                    f"{where}.server",
                    shown(server),
                    "has a rule already",
                    "give each SMTP entry one relay rule",
                )
            )
        elif server is not None and rule is not None:
            relays.append((server, rule))
    return Permissions(
        send_as=frozenset(send_as),
        send_on_behalf=frozenset(on_behalf),
        shared_mailboxes=frozenset(shared),
        gmail_aliases=frozenset(aliases),
        relays=tuple(relays),
    )


def _grants(raw: object, where: str, key: str, errors: list[FieldError]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for number, entry in enumerate(_tables(raw, where, errors), start=1):
        place = f"{where}[{number}]"
        _unknown_keys(entry, place, ("user", key), errors)
        user = _address(entry.get("user"), f"{place}.user", errors)
        targets = _addresses(entry.get(key, []), f"{place}.{key}", errors)
        if not targets and entry.get(key) is None:
            errors.append(
                FieldError(
                    f"{place}.{key}", "''", "is missing", f"list the addresses in {key} = [...]"
                )
            )
        if user is not None:
            pairs.update((user, target) for target in targets)
    return pairs


def _tables(raw: object, where: str, errors: list[FieldError]) -> list[Mapping[str, Any]]:
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(entry, Mapping) for entry in raw):
        errors.append(
            FieldError(
                where,
                shown(raw),
                "is not a list of tables",
                f"write each entry as a [[{where}]] table",
            )
        )
        return []
    return list(raw)


def _table(document: Mapping[str, Any], key: str, errors: list[FieldError]) -> Mapping[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, Mapping):
        errors.append(FieldError(key, shown(value), "is not a table", f"write it as [{key}]"))
        return {}
    return value


def _unknown_keys(
    table: Mapping[str, Any], where: str, known: tuple[str, ...], errors: list[FieldError]
) -> None:
    for key in table:
        if key not in known:
            errors.append(
                FieldError(
                    f"{where}.{key}",
                    shown(key),
                    "is not a known field",
                    "use one of: " + ", ".join(known),
                )
            )


def _text(value: object, where: str, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append(
            FieldError(
                where,
                shown(value),
                "is not a non-empty string",
                "write it as text in double quotes",
            )
        )
        return None
    return value.strip()


def _names(value: object, where: str, errors: list[FieldError]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        errors.append(
            FieldError(
                where,
                shown(value),
                "is not a list of entry names",
                'name the IMAP entries, such as imap = ["support-imap"]',
            )
        )
        return ()
    names = [_text(item, f"{where}[{index}]", errors) for index, item in enumerate(value, start=1)]
    return tuple(dict.fromkeys(name for name in names if name is not None))


def _address(value: object, where: str, errors: list[FieldError]) -> str | None:
    if not isinstance(value, str) or not _ADDRESS.match(value.strip()):
        errors.append(
            FieldError(
                where,
                shown(value),
                "is not an email address",
                "write the full address, such as support@example.com",
            )
        )
        return None
    return value.strip().lower()


def _addresses(value: object, where: str, errors: list[FieldError]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        errors.append(
            FieldError(
                where,
                shown(value),
                "is not a list of addresses",
                'write a list, such as ["support@example.com"]',
            )
        )
        return []
    found = [_address(item, f"{where}[{index}]", errors) for index, item in enumerate(value, 1)]
    return [address for address in found if address is not None]


def _envelope(value: object, where: str, errors: list[FieldError]) -> EnvelopeSender | None:
    if value is None:
        return None
    try:
        return EnvelopeSender(str(value).strip().lower())
    except ValueError:
        errors.append(
            FieldError(
                where,
                shown(value),
                "is not a known envelope sender",
                'use "from" (the From address) or "login" (the SMTP login)',
            )
        )
        return None


def _require_entry(
    name: str,
    protocol: Protocol,
    by_name: Mapping[str, ServerSettings],
    where: str,
    errors: list[FieldError],
) -> None:
    server = by_name.get(name)
    if server is None:
        errors.append(
            FieldError(
                where,
                shown(name),
                "is not the name of a [[server]] entry",
                "use one of: " + ", ".join(by_name),
            )
        )
    elif server.protocol is not protocol:
        # "an" fits both: IMAP and SMTP start with a vowel sound.
        errors.append(
            FieldError(
                where,
                shown(name),
                f"is an {server.protocol.value.upper()} entry",
                f"name an {protocol.value.upper()} entry",
            )
        )


def _file_error(path: str | os.PathLike[str], problem: str, fix: str) -> SettingsError:
    return SettingsError([FieldError("file", shown(str(path)), problem, fix)], source=str(path))
