"""Server settings as the product's admins enter them, and the parsing of pasted input.

A `ServerSettings` is one server entry of the product: an IMAP account that fetches
mail into a queue, or an SMTP server that sends the replies. Building one does no
I/O: no DNS lookup and no file access. Every input goes through `build_settings`,
which accepts what people paste (surrounding spaces, ``host:port``, URLs such as
``imaps://host:993/``, upper-case or internationalized host names, a trailing dot)
and reports everything it cannot use as `FieldError` entries that name the field,
the value and the fix, all at once rather than one per attempt.

Secrets (the password or app password, the OAuth2 token) are `Secret` objects in
fields with ``repr=False`` and ``compare=False``. `ServerSettings.to_dict` leaves them
out, so neither a settings file nor a report can contain them. A settings file
names an environment variable instead (``password_env``, ``token_env``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import idna

from toolkit.secret import Secret


class Protocol(StrEnum):
    """The mail protocol of a server entry."""

    IMAP = "imap"
    SMTP = "smtp"


class Security(StrEnum):
    """The protection of a session: implicit TLS (RFC 8314), STARTTLS (RFC 3207) or none."""

    IMPLICIT_TLS = "implicit-tls"
    STARTTLS = "starttls"
    NONE = "none"


class AuthType(StrEnum):
    """The authentication type of a server entry, as the product offers it."""

    BASIC = "basic"
    OAUTH2 = "oauth2"


# Ports by RFC 8314 section 3.3 (implicit TLS: 993 IMAP, 465 SMTP submission) and
# RFC 6409 section 3.1 (587 submission with STARTTLS). Port 25 is relay (RFC 5321).
IMPLICIT_TLS_PORTS = {Protocol.IMAP: 993, Protocol.SMTP: 465}
STARTTLS_PORTS = {Protocol.IMAP: 143, Protocol.SMTP: 587}
SMTP_RELAY_PORT = 25

# URL schemes a user may paste, with what each implies. imap and imaps follow
# RFC 5092 and common client usage. smtp, smtps and submission are the IANA
# service names of ports 25, 465 and 587.
URL_SCHEMES: dict[str, tuple[Protocol, bool, int]] = {
    "imap": (Protocol.IMAP, False, 143),
    "imaps": (Protocol.IMAP, True, 993),
    "smtp": (Protocol.SMTP, False, 25),
    "smtps": (Protocol.SMTP, True, 465),
    "submission": (Protocol.SMTP, False, 587),
    "submissions": (Protocol.SMTP, True, 465),
}

_AUTH_ALIASES = {
    "basic": AuthType.BASIC,
    "password": AuthType.BASIC,
    "app password": AuthType.BASIC,
    "app-password": AuthType.BASIC,
    "login": AuthType.BASIC,
    "plain": AuthType.BASIC,
    "oauth2": AuthType.OAUTH2,
    "oauth": AuthType.OAUTH2,
    "xoauth2": AuthType.OAUTH2,
    "modern": AuthType.OAUTH2,
}
_TRUE_WORDS = {"true", "yes", "on", "1", "ticked", "tls", "ssl", "implicit", "implicit-tls"}
_FALSE_WORDS = {"false", "no", "off", "0", "unticked", "starttls"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
_MAX_SHOWN = 80
# Secret-looking keys that a user may write into a file, and the reference to use instead.
_SECRET_REFERENCE = {"token": "token_env"}
_MAX_NAME = 64


@dataclass(frozen=True)
class FieldError:
    """One unusable input: the field, the value as entered, what is wrong and the fix."""

    field: str
    value: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.field}: {self.value} {self.problem}. Fix: {self.fix}"


class SettingsError(ValueError):
    """Input that cannot become settings. `errors` lists every problem found."""

    def __init__(self, errors: Iterable[FieldError], *, source: str = "") -> None:
        self.errors = tuple(errors)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + "; ".join(str(error) for error in self.errors))


def field_label(key: object) -> str:
    """Name an unknown key as written, or quoted when it is empty or has unprintable characters.

    TOML allows a key such as ``"" = 1``, and a message must still name it.
    """
    if isinstance(key, str) and key.strip() and key.isprintable():
        return key
    return shown(key)


def shown(value: object) -> str:
    """Quote an entered value for a message, shortened and with control characters escaped."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return repr(text)


@dataclass(frozen=True)
class OAuthSettings:
    """The source of an OAuth2 token: the authority, the app registration and the scopes."""

    authority: str
    client_id: str
    tenant: str = ""
    scopes: tuple[str, ...] = ()
    client_secret_env: str | None = None


@dataclass(frozen=True)
class ServerSettings:
    """One server entry with the fields the product's admins fill in.

    `tls` is the product's TLS tick: true means implicit TLS (the session starts
    encrypted), false means STARTTLS (plain text upgraded before authentication).
    `password` and `token` are never printed, compared or serialized.
    """

    name: str
    protocol: Protocol
    host: str
    port: int
    tls: bool
    auth: AuthType
    user: str
    storage_folder: str | None = None
    ca_file: Path | None = None
    provider: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    oauth: OAuthSettings | None = None
    password: Secret | None = field(default=None, repr=False, compare=False)
    token: Secret | None = field(default=None, repr=False, compare=False)

    @property
    def security(self) -> Security:
        """The session protection the TLS tick selects."""
        return Security.IMPLICIT_TLS if self.tls else Security.STARTTLS

    @property
    def endpoint(self) -> str:
        """The host and port as ``host:port``, with brackets around an IPv6 address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def with_secrets(
        self, *, password: Secret | str | None = None, token: Secret | str | None = None
    ) -> ServerSettings:
        """Return a copy that carries the given password or token."""
        if isinstance(password, str):
            password = Secret(password)
        if isinstance(token, str):
            token = Secret(token)
        return dataclasses.replace(
            self,
            password=password if password is not None else self.password,
            token=token if token is not None else self.token,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as plain data for TOML and JSON, without any secret."""
        data: dict[str, Any] = {
            "name": self.name,
            "protocol": self.protocol.value,
            "host": self.host,
            "port": self.port,
            "tls": self.tls,
            "auth": self.auth.value,
            "user": self.user,
        }
        optional: dict[str, Any] = {
            "storage_folder": self.storage_folder,
            "ca_file": str(self.ca_file) if self.ca_file is not None else None,
            "provider": self.provider,
            "password_env": self.password_env,
            "token_env": self.token_env,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        if self.oauth is not None:
            oauth = dataclasses.asdict(self.oauth)
            oauth["scopes"] = list(self.oauth.scopes)
            data["oauth"] = {key: value for key, value in oauth.items() if value not in (None, "")}
        return data


@dataclass(frozen=True)
class ParsedHost:
    """A host name cleaned from pasted input, with what a URL or ``host:port`` added."""

    host: str
    port: int | None = None
    tls: bool | None = None
    protocol: Protocol | None = None


def parse_port(value: object, field_name: str = "port") -> int:
    """Parse a port number from an int or a string such as ``" 993 "``.

    Raises `SettingsError` for anything that is not a whole number from 1 to 65535.
    """
    fix = "enter a whole number from 1 to 65535, such as 993 for IMAP or 587 for SMTP"
    if isinstance(value, bool):
        raise SettingsError([FieldError(field_name, shown(value), "is not a port number", fix)])
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise SettingsError([FieldError(field_name, shown(value), "is empty", fix)])
        if not text.isascii() or not text.isdigit():
            raise SettingsError([FieldError(field_name, shown(value), "is not a number", fix)])
        number = int(text)
    else:
        raise SettingsError([FieldError(field_name, shown(value), "is not a port number", fix)])
    if not 1 <= number <= 65535:
        raise SettingsError(
            [FieldError(field_name, shown(value), "is outside the port range 1 to 65535", fix)]
        )
    return number


def parse_tls(value: object) -> bool:
    """Parse the TLS tick from a bool or a word such as ``"true"``, ``"no"`` or ``"starttls"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise SettingsError(
        [
            FieldError(
                "tls",
                shown(value),
                "is not a TLS tick",
                "use true for implicit TLS (ports 993 and 465) "
                "or false for STARTTLS (ports 143 and 587)",
            )
        ]
    )


def parse_protocol(value: object) -> Protocol:
    """Parse ``imap`` or ``smtp`` in any letter case."""
    if isinstance(value, Protocol):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("imap", "imap4", "imap4rev1"):
            return Protocol.IMAP
        if word == "smtp":
            return Protocol.SMTP
    raise SettingsError(
        [FieldError("protocol", shown(value), "is not a known protocol", "use imap or smtp")]
    )


def parse_auth(value: object) -> AuthType:
    """Parse the authentication type: ``basic`` (password or app password) or ``oauth2``."""
    if isinstance(value, AuthType):
        return value
    if isinstance(value, str):
        found = _AUTH_ALIASES.get(" ".join(value.strip().lower().split()))
        if found is not None:
            return found
    raise SettingsError(
        [
            FieldError(
                "auth",
                shown(value),
                "is not a known authentication type",
                "use basic (a password or app password) or oauth2",
            )
        ]
    )


def _host_error(value: object, problem: str, fix: str) -> SettingsError:
    return SettingsError([FieldError("host", shown(value), problem, fix)])


def _normalize_host_name(raw: object, text: str) -> str:
    """Lower-case, drop one trailing dot, convert to IDNA ASCII and check each label."""
    fix_example = "enter only the server name, such as imap.example.com"
    if any(character.isspace() for character in text):
        raise _host_error(raw, "contains a space", "remove the space: " + fix_example)
    if "@" in text:
        raise _host_error(
            raw,
            "looks like an email address",
            "enter the server name (such as imap.example.com) in host and the address in user",
        )
    if "/" in text or "\\" in text:
        raise _host_error(raw, "contains a slash", fix_example)
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        return str(address)
    name = text[:-1] if text.endswith(".") else text
    if not name or name.startswith(".") or ".." in name:
        raise _host_error(raw, "has an empty label between dots", fix_example)
    ascii_name = name.lower()
    if ascii_name.isascii():
        _check_labels(raw, ascii_name)
    try:
        # UTS 46 mapping turns an internationalized name into its xn-- form and checks
        # an xn-- label that was pasted as such.
        ascii_name = idna.encode(ascii_name, uts46=True).decode("ascii")
    except idna.IDNAError as error:
        raise _host_error(raw, f"is not a valid host name ({error})", fix_example) from None
    labels = ascii_name.split(".")
    _check_labels(raw, ascii_name)
    if len(ascii_name) > 253:
        raise _host_error(raw, "is longer than 253 characters", fix_example)
    if labels[-1].isdigit():
        raise _host_error(raw, "is not a valid IP address", "check the four numbers of the address")
    return ascii_name


def _check_labels(raw: object, ascii_name: str) -> None:
    for label in ascii_name.split("."):
        if len(label) > 63:
            raise _host_error(
                raw,
                f"has a label of {len(label)} characters, more than the 63 allowed",
                "check the name for a pasted sentence or a missing dot",
            )
        if not _HOST_LABEL.match(label):
            raise _host_error(
                raw,
                f"has an invalid label {label!r}",
                "use letters, digits and hyphens between the dots, with no hyphen at either end",
            )


def parse_host(value: object, protocol: Protocol | None = None) -> ParsedHost:
    """Parse a pasted host: a name, an IP address, ``host:port`` or a mail URL.

    A URL's scheme gives the protocol, the TLS tick and the default port (see
    `URL_SCHEMES`). Raises `SettingsError` that names the value and the fix, for
    example when the scheme contradicts `protocol`.
    """
    if not isinstance(value, str):
        raise _host_error(value, "is not text", "enter the server name, such as imap.example.com")
    text = value.strip()
    if not text:
        raise _host_error(value, "is empty", "enter the server name, such as imap.example.com")
    _reject_credentials(text)
    if "://" in text:
        return _parse_host_url(value, text, protocol)

    port: int | None = None
    host_text = text.rstrip("/")
    if host_text.startswith("["):
        closing = host_text.find("]")
        if closing < 0:
            raise _host_error(value, "has an unclosed '['", "write an IPv6 address as [::1]:993")
        rest = host_text[closing + 1 :]
        host_text = host_text[1:closing]
        if rest:
            if not rest.startswith(":"):
                raise _host_error(value, "has text after ']'", "write an IPv6 address as [::1]:993")
            port = _port_from_host(value, rest[1:])
    elif host_text.count(":") == 1:
        host_text, port_text = host_text.split(":")
        port = _port_from_host(value, port_text)
    return ParsedHost(_normalize_host_name(value, host_text), port)


def _reject_credentials(text: str) -> None:
    """Raise, without echoing `text`, when it carries a user name and password before '@'.

    That is ``user:password@host`` with or without a URL scheme. urlsplit alone misses
    some: a '#', '?' or '/' in the password ends its authority part early.
    """
    before, at, after = text.rpartition("@")
    if not at or ("://" not in before and ":" not in before):
        return
    scheme = before.partition("://")[0].lower() if "://" in before else ""
    host = after.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    redacted = f"{scheme}://***@{host}" if scheme else f"***@{host}"
    raise _host_error(
        redacted,
        "contains a user name or password",
        "enter only the server name here, the user in user and the password in the "
        "password field",
    )


def _port_from_host(raw: object, port_text: str) -> int:
    try:
        return parse_port(port_text)
    except SettingsError:
        raise _host_error(
            raw,
            f"ends with {port_text!r}, which is not a port from 1 to 65535",
            "write host:port with a port such as 993, or put the port in the port field",
        ) from None


def _parse_host_url(raw: object, text: str, protocol: Protocol | None) -> ParsedHost:
    try:
        parts = urlsplit(text)
        url_port = parts.port
    except ValueError as error:
        raise _host_error(
            "(URL)", f"is not a valid URL ({error})", "enter only the server name"
        ) from None
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None:
        # Never echo this value: the part before '@' may contain a password.
        redacted = f"{scheme}://***@{parts.hostname or ''}"
        raise _host_error(
            redacted,
            "contains a user name or password",
            "enter only the server name here, the user in user and the password in the "
            "password field",
        )
    if scheme not in URL_SCHEMES:
        known = ", ".join(URL_SCHEMES)
        raise _host_error(
            raw,
            f"has the scheme {scheme or '(none)'}://, so it is not a mail server address",
            f"enter the mail server's name, such as imap.example.com, or a URL with one of "
            f"the schemes {known}",
        )
    url_protocol, url_tls, default_port = URL_SCHEMES[scheme]
    if protocol is not None and url_protocol is not protocol:
        raise _host_error(
            raw,
            f"has the scheme {scheme}://, which means {url_protocol.value.upper()}, "
            f"but this entry is {protocol.value.upper()}",
            f"use a {protocol.value}:// or {protocol.value}s:// URL, or change the protocol",
        )
    if not parts.hostname:
        raise _host_error(raw, "has no host name", "write the URL as imaps://imap.example.com:993")
    host = _normalize_host_name(raw, parts.hostname)
    return ParsedHost(host, url_port or default_port, url_tls, url_protocol)


def _text(value: object, field_name: str, errors: list[FieldError], fix: str) -> str | None:
    """Return stripped text, or None when empty. Record an error for a non-text value."""
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field_name, shown(value), "is not text", fix))
        return None
    text = value.strip()
    if any(ord(character) < 32 or ord(character) == 127 for character in text):
        errors.append(FieldError(field_name, shown(value), "contains a control character", fix))
        return None
    return text or None


def _env_name(value: object, field_name: str, errors: list[FieldError]) -> str | None:
    fix = "name an environment variable, such as MAILDIAG_PASSWORD (letters, digits, '_')"
    text = _text(value, field_name, errors, fix)
    if text is not None and not _ENV_NAME.match(text):
        errors.append(
            FieldError(field_name, shown(value), "is not an environment variable name", fix)
        )
        return None
    return text


def _oauth(value: object, errors: list[FieldError]) -> OAuthSettings | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        errors.append(
            FieldError(
                "oauth",
                shown(value),
                "is not a table",
                "write [server.oauth] with authority and client_id",
            )
        )
        return None
    authority = _text(value.get("authority"), "oauth.authority", errors, "enter an https:// URL")
    client_id = _text(
        value.get("client_id"), "oauth.client_id", errors, "enter the app's client id"
    )
    tenant = (
        _text(value.get("tenant"), "oauth.tenant", errors, "enter the tenant id or domain") or ""
    )
    if authority is None:
        errors.append(
            FieldError(
                "oauth.authority",
                "''",
                "is missing",
                "enter the authority URL, such as https://login.microsoftonline.com/<tenant>",
            )
        )
    elif urlsplit(authority).scheme != "https":
        errors.append(
            FieldError(
                "oauth.authority",
                shown(authority),
                "is not an https:// URL",
                "enter the authority as an https:// URL",
            )
        )
    if client_id is None:
        errors.append(
            FieldError(
                "oauth.client_id",
                "''",
                "is missing",
                "enter the application (client) id of the app registration",
            )
        )
    raw_scopes = value.get("scopes", ())
    scopes: tuple[str, ...] = ()
    if isinstance(raw_scopes, str):
        scopes = tuple(raw_scopes.split())
    elif isinstance(raw_scopes, list | tuple) and all(isinstance(s, str) for s in raw_scopes):
        scopes = tuple(s.strip() for s in raw_scopes if s.strip())
    else:
        errors.append(
            FieldError(
                "oauth.scopes",
                shown(raw_scopes),
                "is not a list of scopes",
                "write scopes as a list of strings",
            )
        )
    secret_env = _env_name(value.get("client_secret_env"), "oauth.client_secret_env", errors)
    if authority is None or client_id is None:
        return None
    return OAuthSettings(authority, client_id, tenant, scopes, secret_env)


def build_settings(
    raw: Mapping[str, Any],
    *,
    password: Secret | str | None = None,
    token: Secret | str | None = None,
    base_dir: Path | None = None,
    source: str = "",
) -> ServerSettings:
    """Build a `ServerSettings` from form or file input, checking every field.

    `raw` contains the fields by their settings-file names. A relative ``ca_file`` is
    taken relative to `base_dir`. Raises `SettingsError` listing every unusable
    field; no message contains the password or token.
    """
    errors: list[FieldError] = []
    known = {f.name for f in dataclasses.fields(ServerSettings)} - {"password", "token"}
    for key in raw:
        if key in ("password", "token", "app_password", "secret"):
            errors.append(
                FieldError(
                    key,
                    "(hidden)",
                    "must not be written into settings",
                    f"set {_SECRET_REFERENCE.get(key, 'password_env')} to the name of an "
                    "environment variable that contains it",
                )
            )
        elif key not in known:
            errors.append(
                FieldError(
                    field_label(key),
                    shown(raw[key]),
                    "is not a known field",
                    "remove it, or use one of: " + ", ".join(sorted(known)),
                )
            )

    protocol: Protocol | None = None
    if raw.get("protocol") is not None:
        protocol = _collect(errors, parse_protocol, raw["protocol"])

    parsed: ParsedHost | None = None
    if raw.get("host") is None:
        errors.append(
            FieldError(
                "host", "''", "is missing", "enter the server name, such as imap.example.com"
            )
        )
    else:
        parsed = _collect(errors, parse_host, raw["host"], protocol)
    if protocol is None and parsed is not None and parsed.protocol is not None:
        protocol = parsed.protocol
    if protocol is None and raw.get("protocol") is None:
        errors.append(FieldError("protocol", "''", "is missing", "use imap or smtp"))

    port = _reconcile_port(raw.get("port"), parsed, errors)
    tls = _reconcile_tls(raw.get("tls"), parsed, errors)

    auth: AuthType | None = None
    if raw.get("auth") is None:
        errors.append(FieldError("auth", "''", "is missing", "use basic or oauth2"))
    else:
        auth = _collect(errors, parse_auth, raw["auth"])

    name = _text(raw.get("name"), "name", errors, "enter a short name, such as support-imap")
    if name is None and not any(e.field == "name" for e in errors):
        errors.append(
            FieldError(
                "name",
                "''",
                "is missing",
                "enter a short name that identifies this entry, such as support-imap",
            )
        )
    elif name is not None and len(name) > _MAX_NAME:
        errors.append(
            FieldError(
                "name", shown(name), f"is longer than {_MAX_NAME} characters", "use a shorter name"
            )
        )

    user = _text(raw.get("user"), "user", errors, "enter the login name, usually the address")
    if user is None and not any(e.field == "user" for e in errors):
        errors.append(
            FieldError(
                "user", "''", "is missing", "enter the login name, usually the full email address"
            )
        )
    elif user is not None and any(character.isspace() for character in user):
        errors.append(
            FieldError(
                "user", shown(user), "contains a space", "remove the space; a login name has none"
            )
        )

    storage_folder = _text(
        raw.get("storage_folder"),
        "storage_folder",
        errors,
        "enter the folder name exactly as the server shows it",
    )
    ca_text = _text(raw.get("ca_file"), "ca_file", errors, "enter the path of a PEM file")
    ca_file: Path | None = None
    if ca_text is not None:
        ca_file = Path(ca_text).expanduser()
        if base_dir is not None and not ca_file.is_absolute():
            ca_file = base_dir / ca_file
    provider = _text(raw.get("provider"), "provider", errors, "use a provider key such as gmail")
    if provider is not None:
        provider = provider.lower()
        if not _SLUG.match(provider):
            errors.append(
                FieldError(
                    "provider",
                    shown(provider),
                    "is not a provider key",
                    "use a key such as microsoft365 or gmail, or leave it out",
                )
            )
    password_env = _env_name(raw.get("password_env"), "password_env", errors)
    token_env = _env_name(raw.get("token_env"), "token_env", errors)
    oauth = _oauth(raw.get("oauth"), errors)

    if errors:
        raise SettingsError(errors, source=source)
    # Every None below has recorded an error above, so these only narrow the types.
    assert protocol is not None
    assert parsed is not None
    assert port is not None
    assert tls is not None
    assert auth is not None
    assert name is not None
    assert user is not None
    settings = ServerSettings(
        name=name,
        protocol=protocol,
        host=parsed.host,
        port=port,
        tls=tls,
        auth=auth,
        user=user,
        storage_folder=storage_folder,
        ca_file=ca_file,
        provider=provider,
        password_env=password_env,
        token_env=token_env,
        oauth=oauth,
    )
    if password or token:
        settings = settings.with_secrets(password=password or None, token=token or None)
    return settings


def _collect(errors: list[FieldError], parse: Any, *args: Any) -> Any:
    try:
        return parse(*args)
    except SettingsError as error:
        errors.extend(error.errors)
        return None


def _reconcile_port(
    value: object, parsed: ParsedHost | None, errors: list[FieldError]
) -> int | None:
    url_port = parsed.port if parsed is not None else None
    if value is None or value == "":
        if url_port is None and parsed is not None:
            errors.append(
                FieldError(
                    "port",
                    "''",
                    "is missing",
                    "enter the port, such as 993 for IMAP or 587 for SMTP",
                )
            )
        return url_port
    port: int | None = _collect(errors, parse_port, value)
    if port is not None and url_port is not None and port != url_port:
        errors.append(
            FieldError(
                "port",
                shown(value),
                f"differs from port {url_port} in the host field",
                f"use one port: clear the port from the host field or set port to {url_port}",
            )
        )
    return port


def _reconcile_tls(
    value: object, parsed: ParsedHost | None, errors: list[FieldError]
) -> bool | None:
    url_tls = parsed.tls if parsed is not None else None
    if value is None or value == "":
        if url_tls is None:
            errors.append(
                FieldError(
                    "tls",
                    "''",
                    "is missing",
                    "set tls = true for implicit TLS (ports 993 and 465) or tls = false for "
                    "STARTTLS (ports 143 and 587)",
                )
            )
        return url_tls
    tls: bool | None = _collect(errors, parse_tls, value)
    if tls is not None and url_tls is not None and tls != url_tls:
        mode = "implicit TLS" if url_tls else "STARTTLS"
        errors.append(
            FieldError(
                "tls",
                shown(value),
                f"contradicts the URL in the host field, whose scheme means {mode}",
                f"set tls = {str(url_tls).lower()} or change the URL scheme",
            )
        )
    return tls
