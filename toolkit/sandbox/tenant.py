"""The tenant a sandbox serves: its users, their personalities and their sending permissions.

A tenant is plain data. `default_tenant` returns one user of each personality,
plus the Microsoft 365 permission cases a workshop needs. `tenant_from_dict`
and `load_tenant` build a custom tenant from a Python structure or a TOML file::

    [tenant]
    name = "Support workshop"
    domain = "m365.sandbox.test"   # the Microsoft 365 tenant domain for OAuth2
    smtp_auth = true               # Exchange Online's tenant-wide SMTP AUTH switch

    [[tenant.users]]
    address = "alice@m365.sandbox.test"
    personality = "microsoft365"
    send_as = ["support@m365.sandbox.test"]

    [[tenant.users]]
    address = "support@m365.sandbox.test"
    personality = "microsoft365"
    shared = true                  # a shared mailbox receives mail but has no sign-in

A user without ``password`` (or, for Gmail-like users, ``app_password``) gets a
random one when the tenant is built. These passwords exist only in the sandbox,
which is why a tenant file may contain them, unlike a settings file.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import string
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.sandbox.personalities import Personality, Profile, profile_of
from toolkit.secret import Secret
from toolkit.settings import FieldError, SettingsError, shown

_ADDRESS = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+\Z")
_APP_PASSWORD = re.compile(r"[a-z]{16}\Z")
_USER_KEYS = {
    "address", "personality", "display_name", "password", "app_password", "aliases",
    "send_as", "send_on_behalf", "shared", "smtp_auth", "folders",
}
_TENANT_KEYS = {"name", "domain", "tenant_id", "smtp_auth", "users"}


@dataclass(frozen=True)
class SandboxUser:
    """A mailbox of the sandbox and the account that signs in to it.

    `aliases` are Gmail "Send mail as" addresses that the account has verified.
    `send_as` and `send_on_behalf` are the Exchange Online permissions this
    account holds on other mailboxes. `smtp_auth` is Exchange Online's
    per-mailbox SMTP AUTH switch: None follows the tenant, and True or False
    overrides it. A `shared` mailbox receives mail but has no sign-in of its own.
    """

    address: str
    personality: Personality
    password: Secret = field(repr=False)
    app_password: Secret | None = field(default=None, repr=False)
    display_name: str = ""
    aliases: tuple[str, ...] = ()
    send_as: tuple[str, ...] = ()
    send_on_behalf: tuple[str, ...] = ()
    shared: bool = False
    smtp_auth: bool | None = None
    folders: tuple[str, ...] = ()

    @property
    def profile(self) -> Profile:
        """The personality's profile: folders, delimiter, rules and replies."""
        return profile_of(self.personality)

    @property
    def domain(self) -> str:
        """The part of the address after the ``@``."""
        return self.address.rpartition("@")[2]

    @property
    def can_sign_in(self) -> bool:
        """True when some login can open this mailbox; false for a shared mailbox."""
        return not self.shared

    def password_matches(self, candidate: str) -> bool:
        """Compare a candidate with the account password in constant time."""
        return _same(candidate, self.password.reveal())

    def app_password_matches(self, candidate: str) -> bool:
        """Compare a candidate with the app password, ignoring spaces.

        Google shows an app password in four groups of four letters, and people
        paste it with or without the spaces.
        """
        if self.app_password is None:
            return False
        return _same(candidate.replace(" ", ""), self.app_password.reveal())


@dataclass(frozen=True)
class Tenant:
    """A set of sandbox users that share an OAuth2 tenant and the SMTP AUTH switch.

    `domain` and `tenant_id` identify the Microsoft-365-like tenant at the local
    OAuth2 authority. `smtp_auth` is the tenant-wide SMTP AUTH switch, which a
    user's own `smtp_auth` setting overrides.
    """

    name: str
    domain: str
    tenant_id: str
    users: tuple[SandboxUser, ...]
    smtp_auth: bool = True

    def user(self, address: str) -> SandboxUser | None:
        """Return the user with this address, compared without letter case, or None."""
        wanted = address.strip().lower()
        for user in self.users:
            if user.address == wanted:
                return user
        return None

    def profile_for(self, address: str) -> Profile | None:
        """Return the profile for a login name: its user's, else that of a user in its domain.

        A wrong login name in a known domain thus gets the reply that the
        provider of that domain would send.
        """
        user = self.user(address)
        if user is not None:
            return user.profile
        domain = address.strip().lower().rpartition("@")[2]
        for candidate in self.users:
            if candidate.domain == domain:
                return candidate.profile
        return None

    def smtp_auth_enabled(self, user: SandboxUser) -> bool:
        """Return whether SMTP AUTH is on for a user: the user's switch, else the tenant's."""
        return self.smtp_auth if user.smtp_auth is None else user.smtp_auth


def default_tenant() -> Tenant:
    """Return the standard workshop tenant with freshly generated passwords.

    - gina@gmail.sandbox.test: Gmail-like, with the verified alias help@shop.sandbox.test.
    - alice, bob and carol @m365.sandbox.test: Microsoft-365-like. Alice has send-as
      on the shared mailbox support@m365.sandbox.test, Bob has send-on-behalf on
      it, and Carol's mailbox has SMTP AUTH turned off.
    - chris@courier.sandbox.test: Courier-like.
    - dana@dovecot.sandbox.test: Dovecot-like.
    """
    return tenant_from_dict(
        {
            "name": "Sandbox tenant",
            "domain": "m365.sandbox.test",
            "users": [
                {"address": "gina@gmail.sandbox.test", "personality": "gmail",
                 "display_name": "Gina Gmail", "aliases": ["help@shop.sandbox.test"]},
                {"address": "alice@m365.sandbox.test", "personality": "microsoft365",
                 "display_name": "Alice M365", "send_as": ["support@m365.sandbox.test"]},
                {"address": "bob@m365.sandbox.test", "personality": "microsoft365",
                 "display_name": "Bob M365", "send_on_behalf": ["support@m365.sandbox.test"]},
                {"address": "carol@m365.sandbox.test", "personality": "microsoft365",
                 "display_name": "Carol M365", "smtp_auth": False},
                {"address": "support@m365.sandbox.test", "personality": "microsoft365",
                 "display_name": "Support", "shared": True},
                {"address": "chris@courier.sandbox.test", "personality": "courier",
                 "display_name": "Chris Courier"},
                {"address": "dana@dovecot.sandbox.test", "personality": "dovecot",
                 "display_name": "Dana Dovecot"},
            ],
        }
    )


def load_tenant(path: str | os.PathLike[str]) -> Tenant:
    """Read a tenant from the ``[tenant]`` table of a TOML file.

    Raises `SettingsError` when the file is missing, is not TOML, or describes an
    unusable tenant.
    """
    file_path = Path(path)
    try:
        document = tomllib.loads(file_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            [FieldError("file", shown(str(path)), "was not found", "check the path")]
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(
            [FieldError("file", shown(str(path)), f"cannot be read as TOML ({error})",
                        "check the path and the syntax at the line named")]
        ) from None
    return tenant_from_dict(document, source=str(path))


def tenant_from_dict(data: Mapping[str, Any], *, source: str = "") -> Tenant:
    """Build a tenant from plain data: the ``[tenant]`` table or a document that contains one.

    Raises `SettingsError` listing every unusable field. No message contains a
    password.
    """
    if "tenant" in data and isinstance(data["tenant"], Mapping):
        data = data["tenant"]
    errors: list[FieldError] = []
    for key in data:
        if key not in _TENANT_KEYS:
            errors.append(FieldError(f"tenant.{key}", shown(key), "is not a known field",
                                     "use one of: " + ", ".join(sorted(_TENANT_KEYS))))
    name = _text(data, "name", "tenant.name", errors) or "Sandbox tenant"
    domain = (_text(data, "domain", "tenant.domain", errors) or "m365.sandbox.test").lower()
    tenant_id = _text(data, "tenant_id", "tenant.tenant_id", errors) or str(
        uuid.uuid5(uuid.NAMESPACE_DNS, domain)
    )
    smtp_auth = _flag(data, "smtp_auth", "tenant.smtp_auth", errors, default=True)
    raw_users = data.get("users", [])
    if not isinstance(raw_users, list) or not raw_users:
        errors.append(FieldError("tenant.users", shown(raw_users), "is not a list of users",
                                 "add at least one [[tenant.users]] table"))
        raw_users = []

    users: list[SandboxUser] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_users, start=1):
        if not isinstance(raw, Mapping):
            errors.append(FieldError(f"tenant.users[{number}]", shown(raw), "is not a table",
                                     "write each user as a [[tenant.users]] table"))
            continue
        user = _user(raw, f"tenant.users[{number}]", errors)
        if user is None:
            continue
        if user.address in seen:
            errors.append(FieldError(f"tenant.users[{number}].address", shown(user.address),
                                     "appears twice", "give each user one table"))
            continue
        seen.add(user.address)
        users.append(user)

    if errors:
        raise SettingsError(errors, source=source)
    return Tenant(name=name, domain=domain, tenant_id=tenant_id, users=tuple(users),
                  smtp_auth=smtp_auth)


def _user(raw: Mapping[str, Any], where: str, errors: list[FieldError]) -> SandboxUser | None:
    count = len(errors)
    for key in raw:
        if key not in _USER_KEYS:
            errors.append(FieldError(f"{where}.{key}", shown(key), "is not a known field",
                                     "use one of: " + ", ".join(sorted(_USER_KEYS))))
    address = _address(raw.get("address"), f"{where}.address", errors)
    personality: Personality | None = None
    try:
        personality = Personality(str(raw.get("personality", "")).strip().lower())
    except ValueError:
        errors.append(FieldError(f"{where}.personality", shown(raw.get("personality")),
                                 "is not a known personality",
                                 "use one of: " + ", ".join(p.value for p in Personality)))
    password = _text(raw, "password", f"{where}.password", errors, hide=True)
    app_password = _text(raw, "app_password", f"{where}.app_password", errors, hide=True)
    if app_password is not None:
        app_password = app_password.replace(" ", "").lower()
        if not _APP_PASSWORD.match(app_password):
            errors.append(FieldError(f"{where}.app_password", "(hidden)",
                                     "is not 16 letters", "use 16 letters from a to z, as "
                                     "Google generates them, or leave it out"))
    if app_password is not None and personality is not Personality.GMAIL:
        errors.append(FieldError(f"{where}.app_password", "(hidden)",
                                 "is only used by Gmail-like users", "remove it"))
    lists = {key: _addresses(raw.get(key, []), f"{where}.{key}", errors)
             for key in ("aliases", "send_as", "send_on_behalf")}
    folders = _strings(raw.get("folders", []), f"{where}.folders", errors)
    shared = _flag(raw, "shared", f"{where}.shared", errors, default=False)
    smtp_auth: bool | None = None
    if raw.get("smtp_auth") is not None:
        smtp_auth = _flag(raw, "smtp_auth", f"{where}.smtp_auth", errors, default=True)
    display_name = _text(raw, "display_name", f"{where}.display_name", errors) or ""
    if any(ord(character) < 32 or ord(character) == 127 for character in display_name):
        # The name goes into From and Sender headers; a line break would add a header.
        errors.append(FieldError(f"{where}.display_name", shown(display_name),
                                 "contains a control character", "write the name on one line"))

    if len(errors) > count or address is None or personality is None:
        return None
    if app_password is None and personality is Personality.GMAIL:
        app_password = generate_app_password()
    return SandboxUser(
        address=address,
        personality=personality,
        password=Secret(password or generate_password()),
        app_password=Secret(app_password) if app_password is not None else None,
        display_name=display_name,
        aliases=lists["aliases"],
        send_as=lists["send_as"],
        send_on_behalf=lists["send_on_behalf"],
        shared=shared,
        smtp_auth=smtp_auth,
        folders=folders,
    )


def generate_password() -> str:
    """Return a random account password of 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def generate_app_password() -> str:
    """Return a random app password: 16 lower-case letters, as Google issues them."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(16))


def _same(candidate: str, expected: str) -> bool:
    return hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8"))


def _text(data: Mapping[str, Any], key: str, where: str, errors: list[FieldError],
          *, hide: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(where, "(hidden)" if hide else shown(value),
                                 "is not a non-empty string", "write it as text in quotes"))
        return None
    return value.strip()


def _flag(data: Mapping[str, Any], key: str, where: str, errors: list[FieldError],
          *, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        errors.append(FieldError(where, shown(value), "is not true or false",
                                 "write true or false without quotes"))
        return default
    return value


def _address(value: object, where: str, errors: list[FieldError]) -> str | None:
    if not isinstance(value, str) or not _ADDRESS.match(value.strip().lower()):
        errors.append(FieldError(where, shown(value), "is not an email address",
                                 "write an address such as alice@m365.sandbox.test"))
        return None
    return value.strip().lower()


def _addresses(value: object, where: str, errors: list[FieldError]) -> tuple[str, ...]:
    if not isinstance(value, list):
        errors.append(FieldError(where, shown(value), "is not a list",
                                 'write a list such as ["support@m365.sandbox.test"]'))
        return ()
    found = (_address(item, where, errors) for item in value)
    return tuple(address for address in found if address is not None)


def _strings(value: object, where: str, errors: list[FieldError]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(FieldError(where, shown(value), "is not a list of folder names",
                                 'write a list such as ["Support/Contact"]'))
        return ()
    return tuple(v.strip() for v in value)
