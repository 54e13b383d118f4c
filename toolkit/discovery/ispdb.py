"""Provider files in the Thunderbird autoconfig (ISPDB) format, shipped in ``data/autoconfig/``.

Each file is a ``clientConfig`` with one ``emailProvider``. Its ``domain`` elements
name the address domains it covers and, as in the ISPDB, the MX domains of hosted
mail such as ``google.com``. Each ``incomingServer type="imap"`` and ``outgoingServer
type="smtp"`` gives host, port, ``socketType`` (``SSL`` for implicit TLS, or
``STARTTLS``) and the ``authentication`` methods. ``sources.toml`` beside the files gives each
file's source and the product provider (in ``providers.toml``) it maps to; a file
without a source entry is rejected.
"""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from toolkit.data import data_dir
from toolkit.settings import Protocol

AUTOCONFIG_FOLDER = "autoconfig"
SOURCES_FILE = "sources.toml"

# socketType values of the ISPDB format and the TLS tick each means. "plain" (no TLS)
# has no tick: the product always protects the session, so such servers are skipped.
SOCKET_TYPE_TICK = {"SSL": True, "STARTTLS": False}
KNOWN_SOCKET_TYPES = frozenset({"SSL", "STARTTLS", "plain"})

# Placeholders of the ISPDB <username> element.
_EMAIL_ADDRESS = "%EMAILADDRESS%"
_EMAIL_LOCAL_PART = "%EMAILLOCALPART%"
_EMAIL_DOMAIN = "%EMAILDOMAIN%"


class IspdbError(ValueError):
    """A provider file or its source entry that cannot be used; the message names the file."""


@dataclass(frozen=True)
class IspdbServer:
    """One ``incomingServer`` (IMAP) or ``outgoingServer`` (SMTP) of a provider file."""

    protocol: Protocol
    host: str
    port: int
    socket_type: str
    username: str
    authentication: tuple[str, ...]

    @property
    def tls(self) -> bool | None:
        """The TLS tick for the socket type, or None for a plain-text server."""
        return SOCKET_TYPE_TICK.get(self.socket_type)

    def user_for(self, address: str) -> str:
        """Return the login name for an address, with the ISPDB placeholders filled in."""
        local, _, domain = address.rpartition("@")
        return (
            self.username.replace(_EMAIL_ADDRESS, address)
            .replace(_EMAIL_LOCAL_PART, local)
            .replace(_EMAIL_DOMAIN, domain)
        )


@dataclass(frozen=True)
class IspdbProvider:
    """One provider file: its domains and servers, with the source and the product mapping."""

    file: str
    provider_id: str
    display_name: str
    domains: tuple[str, ...]
    servers: tuple[IspdbServer, ...]
    source: str
    product_provider: str | None
    mx_label: str

    def servers_for(self, protocol: Protocol) -> list[IspdbServer]:
        """Return the servers of one protocol in file order, the ISPDB's order of preference."""
        return [server for server in self.servers if server.protocol is protocol]


def autoconfig_dir() -> Path:
    """Return the folder of the provider files."""
    return data_dir() / AUTOCONFIG_FOLDER


@cache
def ispdb_providers() -> tuple[IspdbProvider, ...]:
    """Load every ``*.xml`` provider file once per process, sorted by file name.

    Raises `IspdbError` for a file that is not valid or has no entry in ``sources.toml``.
    """
    folder = autoconfig_dir()
    sources = _load_sources(folder / SOURCES_FILE)
    providers = []
    for path in sorted(folder.glob("*.xml")):
        entry = sources.get(path.name)
        if entry is None:
            raise IspdbError(
                f"{path}: no [files.{path.name!r}] entry in {SOURCES_FILE}; every provider "
                "file needs its source"
            )
        providers.append(load_provider_file(path, entry))
    return tuple(providers)


def _load_sources(path: Path) -> dict[str, dict[str, str]]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise IspdbError(f"{path}: cannot be read ({error})") from None
    files: dict[str, dict[str, str]] = {}
    for name, entry in document.get("files", {}).items():
        if not isinstance(entry, dict) or not str(entry.get("source", "")).strip():
            raise IspdbError(f"{path}: files.{name!r} has no source")
        files[name] = {key: str(value) for key, value in entry.items()}
    return files


def load_provider_file(path: Path, entry: dict[str, str]) -> IspdbProvider:
    """Parse one provider file; `entry` is its table from ``sources.toml``."""
    try:
        # The files ship with the toolkit and are not user input, so the standard
        # parser is safe here.
        root = ElementTree.parse(path).getroot()  # noqa: S314
    except (OSError, ElementTree.ParseError) as error:
        raise IspdbError(f"{path}: is not a readable XML file ({error})") from None
    provider = root.find("emailProvider")
    if root.tag != "clientConfig" or provider is None:
        raise IspdbError(f"{path}: has no clientConfig/emailProvider element")

    domains = tuple(
        (element.text or "").strip().lower().rstrip(".") for element in provider.findall("domain")
    )
    if not domains or not all(domains):
        raise IspdbError(f"{path}: needs at least one non-empty <domain> element")
    servers: list[IspdbServer] = []
    for tag in ("incomingServer", "outgoingServer"):
        for element in provider.findall(tag):
            server = _parse_server(path, element)
            if server is not None:
                servers.append(server)
    return IspdbProvider(
        file=path.name,
        provider_id=provider.get("id", path.stem),
        display_name=(provider.findtext("displayName") or path.stem).strip(),
        domains=domains,
        servers=tuple(servers),
        source=entry["source"].strip(),
        product_provider=entry.get("product_provider") or None,
        mx_label=entry.get("mx_label", "").strip(),
    )


def _parse_server(path: Path, element: ElementTree.Element) -> IspdbServer | None:
    """Parse one server element; return None for protocols other than IMAP and SMTP."""
    kind = element.get("type", "")
    if (element.tag, kind) == ("incomingServer", "imap"):
        protocol = Protocol.IMAP
    elif (element.tag, kind) == ("outgoingServer", "smtp"):
        protocol = Protocol.SMTP
    else:
        return None
    where = f"{path}: {element.tag} type={kind!r}"
    host = (element.findtext("hostname") or "").strip().lower()
    port_text = (element.findtext("port") or "").strip()
    socket_type = (element.findtext("socketType") or "").strip()
    if not host:
        raise IspdbError(f"{where}: <hostname> is missing")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise IspdbError(f"{where}: <port> {port_text!r} is not a port from 1 to 65535")
    if socket_type not in KNOWN_SOCKET_TYPES:
        raise IspdbError(
            f"{where}: <socketType> {socket_type!r} is not one of "
            + ", ".join(sorted(KNOWN_SOCKET_TYPES))
        )
    return IspdbServer(
        protocol=protocol,
        host=host,
        port=int(port_text),
        socket_type=socket_type,
        username=(element.findtext("username") or _EMAIL_ADDRESS).strip(),
        authentication=tuple(
            (item.text or "").strip() for item in element.findall("authentication") if item.text
        ),
    )


def provider_for_domain(domain: str) -> tuple[IspdbProvider, str] | None:
    """Return the provider file that lists the address domain, and the listed domain.

    An exact match wins, as in the ISPDB. Otherwise the longest listed parent domain
    matches, so that a Microsoft 365 tenant address such as ``x@contoso.onmicrosoft.com``
    finds the file that lists ``onmicrosoft.com``.
    """
    wanted = domain.lower().rstrip(".")
    for provider in ispdb_providers():
        if wanted in provider.domains:
            return provider, wanted
    return _longest_suffix_match(wanted)


def provider_for_mx_host(host: str) -> tuple[IspdbProvider, str] | None:
    """Return the provider whose listed domain is the longest suffix of an MX host, and that domain.

    The longest match wins, so ``x.mail.protection.outlook.com`` finds the Microsoft 365
    file (``mail.protection.outlook.com``) rather than one that lists ``outlook.com``.
    """
    return _longest_suffix_match(host.lower().rstrip("."))


def _longest_suffix_match(name: str) -> tuple[IspdbProvider, str] | None:
    best: tuple[IspdbProvider, str] | None = None
    for provider in ispdb_providers():
        for domain in provider.domains:
            under = name == domain or name.endswith("." + domain)
            if under and (best is None or len(domain) > len(best[1])):
                best = (provider, domain)
    return best
