"""The tenant model behind the From-address table: servers, queues and sending permissions.

`toolkit.fromaddr.tenant` reads and writes these objects as tenant files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from toolkit.settings import Protocol, ServerSettings


class EnvelopeSender(StrEnum):
    """The envelope sender (SMTP MAIL FROM) that the product uses for a reply."""

    FROM_ADDRESS = "from"  # the address in the reply's From header, the IMAP account A
    LOGIN = "login"  # the SMTP login B


class RelayRule(StrEnum):
    """The sender rule of an SMTP server that the tenant file declares."""

    PASS_THROUGH = "pass-through"  # noqa: S105 (a rule name, not a password)
    ENVELOPE_OWNER = "envelope-owner"
    HEADER_MATCHES_ENVELOPE = "header-matches-envelope"
    LOGIN_ONLY = "login-only"


@dataclass(frozen=True)
class Queue:
    """A queue of the product: the IMAP entries it reads and the SMTP entry it replies through.

    `envelope_sender` is None when the queue uses the tenant's setting.
    """

    name: str
    imap: tuple[str, ...]
    smtp: str
    envelope_sender: EnvelopeSender | None = None


@dataclass(frozen=True)
class Permissions:
    """Sending permissions between accounts, all addresses in lower case.

    `send_as` and `send_on_behalf` are (delegate login, mailbox address) pairs of
    Microsoft 365, `gmail_aliases` are (Gmail account, verified alias) pairs, and
    `relays` are (SMTP entry name, rule) pairs.
    """

    send_as: frozenset[tuple[str, str]] = frozenset()
    send_on_behalf: frozenset[tuple[str, str]] = frozenset()
    shared_mailboxes: frozenset[str] = frozenset()
    gmail_aliases: frozenset[tuple[str, str]] = frozenset()
    relays: tuple[tuple[str, RelayRule], ...] = ()

    def has_send_as(self, login: str, address: str) -> bool:
        """Return whether `login` has Send As on `address`."""
        return (login.lower(), address.lower()) in self.send_as

    def has_send_on_behalf(self, login: str, address: str) -> bool:
        """Return whether `login` has Send on Behalf on `address`."""
        return (login.lower(), address.lower()) in self.send_on_behalf

    def is_gmail_alias(self, login: str, address: str) -> bool:
        """Return whether `address` is a verified "Send mail as" address of the Gmail `login`."""
        return (login.lower(), address.lower()) in self.gmail_aliases

    def is_shared(self, address: str) -> bool:
        """Return whether `address` is a shared mailbox."""
        return address.lower() in self.shared_mailboxes

    def relay_rule(self, server_name: str) -> RelayRule | None:
        """Return the declared sender rule of an SMTP entry, or None."""
        for name, rule in self.relays:
            if name == server_name:
                return rule
        return None


@dataclass(frozen=True)
class TenantSetup:
    """Server entries, queues and permissions of one tenant, as read from a tenant file."""

    servers: tuple[ServerSettings, ...]
    queues: tuple[Queue, ...] = ()
    permissions: Permissions = field(default_factory=Permissions)
    name: str = ""
    observer: str | None = None
    envelope_sender: EnvelopeSender = EnvelopeSender.FROM_ADDRESS
    source: str = ""

    def server(self, name: str) -> ServerSettings:
        """Return the entry with this name. Raises KeyError naming the known entries."""
        for server in self.servers:
            if server.name == name:
                return server
        known = ", ".join(server.name for server in self.servers)
        raise KeyError(f"no entry named {name!r}; the entries are: {known}")

    @property
    def table_imap(self) -> tuple[ServerSettings, ...]:
        """The IMAP entries that are rows of the table: all but an observer that no queue reads."""
        read = {name for queue in self.queues for name in queue.imap}
        return tuple(
            server
            for server in self.servers
            if server.protocol is Protocol.IMAP
            and (server.name != self.observer or server.name in read)
        )

    @property
    def table_smtp(self) -> tuple[ServerSettings, ...]:
        """The SMTP entries, the columns of the table."""
        return tuple(server for server in self.servers if server.protocol is Protocol.SMTP)

    def envelope_for(self, queue: Queue) -> EnvelopeSender:
        """Return the envelope sender a queue's replies use."""
        return queue.envelope_sender or self.envelope_sender


def mailbox_address(server: ServerSettings) -> str:
    """Return the address of an entry's account in lower case: the login name."""
    return server.user.strip().lower()
