"""The sandbox's listeners: names, ports and the behaviour each one shows.

With a port base B, each listener's port is B plus the offset below. The last
three digits of an offset are the standard port of the listener's TLS mode, and
the thousands digit numbers the behaviour, so base 10000 gives:

=========================  ======  ======  ==========================================
behaviour                  IMAP    SMTP    what a client sees
=========================  ======  ======  ==========================================
normal, STARTTLS           10143   10587   the personalities; LOGINDISABLED / no AUTH
                                           until STARTTLS
normal, implicit TLS       10993   10465   the personalities, TLS from the first byte
starttls-required          11143   11587   LOGINDISABLED / no AUTH before STARTTLS;
                                           SMTP replies 530 to MAIL before STARTTLS
no-starttls                12143   12587   no STARTTLS offered; plain-text login allowed
expired-certificate        13993   13465   implicit TLS with a certificate expired 30 days ago
wrong-host-certificate     14993   14465   implicit TLS with a certificate for another host
silent                     15143   15587   accepts TCP, never sends a byte
busy                       16143   16587   ``* BYE Too many connections`` /
                                           ``421 4.7.0 Too many connections``, then closes
OAuth2 authority (HTTPS)   10443           the local token authority
=========================  ======  ======  ==========================================

Port base 0 lets the operating system choose every port, which tests use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from toolkit.settings import Protocol, Security

DEFAULT_PORT_BASE = 10000
AUTHORITY_OFFSET = 443


class Behaviour(StrEnum):
    """The behaviour of a listener, as a stable id."""

    NORMAL = "normal"
    STARTTLS_REQUIRED = "starttls-required"
    NO_STARTTLS = "no-starttls"
    EXPIRED_CERTIFICATE = "expired-certificate"
    WRONG_HOST_CERTIFICATE = "wrong-host-certificate"
    SILENT = "silent"
    BUSY = "busy"


@dataclass(frozen=True)
class Endpoint:
    """One listening port of a running sandbox.

    `name` is unique, such as ``imap-tls`` or ``smtp-busy``. `security` is how a
    client starts the session: TLS from the first byte, a plain greeting that
    STARTTLS upgrades, or plain text throughout. `behaviour` names the failure
    the endpoint shows, or ``normal``.
    """

    name: str
    protocol: Protocol
    security: Security
    host: str
    port: int
    description: str
    behaviour: Behaviour = Behaviour.NORMAL


@dataclass(frozen=True)
class EndpointSpec:
    """A listener before it is bound: its name, mode and port offset."""

    name: str
    protocol: Protocol
    security: Security
    behaviour: Behaviour
    offset: int
    description: str


def _spec(protocol: Protocol, security: Security, behaviour: Behaviour, offset: int,
          description: str) -> EndpointSpec:
    suffix = {Security.IMPLICIT_TLS: "tls", Security.STARTTLS: "starttls", Security.NONE: "plain"}
    if behaviour is Behaviour.NORMAL:
        name = f"{protocol.value}-{suffix[security]}"
    else:
        name = f"{protocol.value}-{behaviour.value}"
    return EndpointSpec(name, protocol, security, behaviour, offset, description)


IMAP, SMTP = Protocol.IMAP, Protocol.SMTP
STARTTLS, TLS, NONE = Security.STARTTLS, Security.IMPLICIT_TLS, Security.NONE

ENDPOINT_SPECS: tuple[EndpointSpec, ...] = (
    _spec(IMAP, STARTTLS, Behaviour.NORMAL, 143,
          "IMAP with STARTTLS; login only after STARTTLS"),
    _spec(IMAP, TLS, Behaviour.NORMAL, 993, "IMAP over implicit TLS"),
    _spec(SMTP, STARTTLS, Behaviour.NORMAL, 587,
          "SMTP submission with STARTTLS; AUTH only after STARTTLS"),
    _spec(SMTP, TLS, Behaviour.NORMAL, 465, "SMTP submission over implicit TLS"),
    _spec(IMAP, STARTTLS, Behaviour.STARTTLS_REQUIRED, 1143,
          "IMAP that advertises LOGINDISABLED until STARTTLS"),
    _spec(SMTP, STARTTLS, Behaviour.STARTTLS_REQUIRED, 1587,
          "SMTP that offers no AUTH and replies 530 to MAIL until STARTTLS"),
    _spec(IMAP, NONE, Behaviour.NO_STARTTLS, 2143,
          "IMAP without STARTTLS; accepts a plain-text login"),
    _spec(SMTP, NONE, Behaviour.NO_STARTTLS, 2587,
          "SMTP without STARTTLS; accepts a plain-text AUTH"),
    _spec(IMAP, TLS, Behaviour.EXPIRED_CERTIFICATE, 3993,
          "IMAP over implicit TLS with an expired certificate"),
    _spec(SMTP, TLS, Behaviour.EXPIRED_CERTIFICATE, 3465,
          "SMTP over implicit TLS with an expired certificate"),
    _spec(IMAP, TLS, Behaviour.WRONG_HOST_CERTIFICATE, 4993,
          "IMAP over implicit TLS with a certificate for mail.other-host.test"),
    _spec(SMTP, TLS, Behaviour.WRONG_HOST_CERTIFICATE, 4465,
          "SMTP over implicit TLS with a certificate for mail.other-host.test"),
    _spec(IMAP, NONE, Behaviour.SILENT, 5143, "accepts TCP connections and never sends a byte"),
    _spec(SMTP, NONE, Behaviour.SILENT, 5587, "accepts TCP connections and never sends a byte"),
    _spec(IMAP, STARTTLS, Behaviour.BUSY, 6143,
          "greets with * BYE Too many connections and closes"),
    _spec(SMTP, STARTTLS, Behaviour.BUSY, 6587,
          "greets with 421 4.7.0 Too many connections and closes"),
)

MAX_OFFSET = max(spec.offset for spec in ENDPOINT_SPECS)


def port_for(port_base: int, offset: int) -> int:
    """Return the port for an offset: the base plus the offset, or 0 (any free port) for base 0."""
    return 0 if port_base == 0 else port_base + offset
