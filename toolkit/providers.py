"""Provider knowledge and port conventions, read from the files in ``data/``.

The facts live in the data files with a source note each. This module only
turns them into typed objects and finds the provider of an entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from toolkit.data import load_data
from toolkit.settings import AuthType, Protocol, Security, ServerSettings


@dataclass(frozen=True)
class Recommendation:
    """The recommended host, port and TLS tick of one provider for one protocol."""

    host: str
    port: int
    tls: bool
    source: str


@dataclass(frozen=True)
class Provider:
    """The facts the toolkit has about one mail provider."""

    key: str
    label: str
    auth: tuple[AuthType, ...]
    auth_source: str
    user_is_address: bool
    user_domains: tuple[str, ...]
    hosts: tuple[str, ...]
    recommended: dict[Protocol, Recommendation]
    product_ticks_tls_on_starttls_port: bool = False
    app_password_letters: int | None = None
    oauth2_note: str = ""


@dataclass(frozen=True)
class PortConvention:
    """The session protection a port number stands for, with its source."""

    protocol: Protocol
    port: int
    security: Security
    source: str
    relay_only: bool = False


@cache
def providers() -> dict[str, Provider]:
    """Return the known providers by key, such as ``gmail`` or ``microsoft365``."""
    result: dict[str, Provider] = {}
    for key, raw in load_data("providers.toml")["providers"].items():
        recommended = {
            protocol: Recommendation(
                raw[protocol.value]["host"],
                raw[protocol.value]["port"],
                raw[protocol.value]["tls"],
                raw[protocol.value]["source"],
            )
            for protocol in Protocol
            if protocol.value in raw
        }
        result[key] = Provider(
            key=key,
            label=raw["label"],
            auth=tuple(AuthType(value) for value in raw["auth"]),
            auth_source=raw["auth_source"],
            user_is_address=raw.get("user_is_address", False),
            user_domains=tuple(raw.get("user_domains", ())),
            hosts=tuple(raw.get("hosts", ())),
            recommended=recommended,
            product_ticks_tls_on_starttls_port=raw.get("product_ticks_tls_on_starttls_port", False),
            app_password_letters=raw.get("app_password_letters"),
            oauth2_note=raw.get("oauth2_note", ""),
        )
    return result


@cache
def port_conventions() -> dict[tuple[Protocol, int], PortConvention]:
    """Return the standard mail ports by protocol and number."""
    result: dict[tuple[Protocol, int], PortConvention] = {}
    for raw in load_data("ports.toml")["port"]:
        convention = PortConvention(
            Protocol(raw["protocol"]),
            raw["port"],
            Security(raw["security"]),
            raw["source"],
            raw.get("relay_only", False),
        )
        result[(convention.protocol, convention.port)] = convention
    return result


def identify_provider(settings: ServerSettings) -> Provider | None:
    """Return the provider an entry is for: named in the entry, or known by host or user domain.

    Returns None for an unknown provider key and for servers the data does not know.
    """
    known = providers()
    if settings.provider is not None:
        return known.get(settings.provider)
    for provider in known.values():
        if settings.host in provider.hosts:
            return provider
    domain = settings.user.rpartition("@")[2].lower()
    for provider in known.values():
        if domain and any(domain == d or domain.endswith("." + d) for d in provider.user_domains):
            return provider
    return None
