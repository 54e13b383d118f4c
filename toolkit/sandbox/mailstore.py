"""In-memory mailboxes of every sandbox user, shared by the IMAP server and SMTP delivery.

The mailboxes are pymap's dict backend. pymap fixes the hierarchy delimiter at
'/', so `PersonalityMailboxSet` makes it a per-user value, which gives Courier's
``INBOX.Sent`` layout with '.' next to Gmail's ``[Gmail]/Sent Mail``. All methods
run on the sandbox's event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from pymap.backend.dict.filter import FilterSet
from pymap.backend.dict.mailbox import MailboxSet
from pymap.parsing.message import AppendMessage
from pymap.parsing.specials.flag import Flag, Seen

from toolkit.sandbox.personalities import Profile
from toolkit.sandbox.tenant import SandboxUser, Tenant

_log = logging.getLogger(__name__)


class PersonalityMailboxSet(MailboxSet):
    """A dict-backend mailbox set with the hierarchy delimiter of the user's personality."""

    def __init__(self, delimiter: str) -> None:
        super().__init__()
        self._delimiter = delimiter

    @property
    def delimiter(self) -> str:
        return self._delimiter


@dataclass(frozen=True)
class UserMailboxes:
    """The mailbox set and Sieve filter set of one user, with the user's profile."""

    user: SandboxUser
    mailbox_set: PersonalityMailboxSet
    filter_set: FilterSet

    @property
    def profile(self) -> Profile:
        """The user's personality profile."""
        return self.user.profile


class Mailstore:
    """Every user's mailboxes, created with the personality's folders at sandbox start."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._users: dict[str, UserMailboxes] = {}

    async def create(self) -> None:
        """Create each user's mailbox set with the personality's folders and the user's own."""
        for user in self.tenant.users:
            mailbox_set = PersonalityMailboxSet(user.profile.delimiter)
            names = [folder.name for folder in user.profile.folders] + list(user.folders)
            for name in dict.fromkeys(names):
                await mailbox_set.add_mailbox(name)
            self._users[user.address] = UserMailboxes(user, mailbox_set, FilterSet())

    def mailboxes(self, address: str) -> UserMailboxes:
        """Return the mailboxes of a user. Raises KeyError for an address outside the tenant."""
        return self._users[address.strip().lower()]

    async def append(
        self,
        address: str,
        message: bytes,
        *,
        folder: str = "INBOX",
        seen: bool = False,
    ) -> int:
        """Append a message to a user's folder and return its UID.

        Raises KeyError when the user or the folder does not exist.
        """
        mailbox = await self.mailboxes(address).mailbox_set.get_mailbox(folder)
        flags: frozenset[Flag] = frozenset({Seen}) if seen else frozenset()
        appended = await mailbox.append(
            AppendMessage(message, datetime.now(UTC), flags), recent=not seen
        )
        _log.debug("appended %d bytes to %s of %s as UID %d", len(message), folder, address,
                   appended.uid)
        return appended.uid
