"""The observer's mailbox and the senders' sent folders, as the From-address check uses them.

Test messages are found by their Message-ID only, so the check never touches
a message it did not send. The observer's junk folder (RFC 6154 \\Junk) is
searched after INBOX, because a reply whose From does not match its sender's
domain may be filed there.

NOTE: Gmail's IMAP server may keep an expunged message in "[Gmail]/All Mail",
depending on the account's IMAP settings. This was not checked against Gmail.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.imapclient import JUNK, SENT

from toolkit.fromaddr.clients import SESSION_ERRORS, close_imap, delete_by_uid, open_imap
from toolkit.fromaddr.model import mailbox_address
from toolkit.settings import Protocol, ServerSettings

logger = logging.getLogger(__name__)

INBOX = "INBOX"


@dataclass(frozen=True)
class Arrival:
    """The folder a test message arrived in, and its header block."""

    folder: str
    headers: bytes


@dataclass
class Deletion:
    """The result of deleting test messages: counts, leftovers and messages not found."""

    deleted: int = 0
    left: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)


class ObserverMailbox:
    """The observer's IMAP session, opened on first use and reopened after a failure.

    `folders` is INBOX followed by the junk folder, when the server marks one.
    """

    def __init__(self, server: ServerSettings, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.folders: list[str] = [INBOX]
        self._client: IMAPClient | None = None

    def client(self) -> IMAPClient:
        """Return the logged-in session, opening it when needed."""
        if self._client is None:
            client = open_imap(self.server, timeout=self.timeout)
            junk = client.find_special_folder(JUNK)
            self.folders = [INBOX] if junk is None else [INBOX, junk]
            self._client = client
        return self._client

    def count_inbox(self) -> int:
        """Return the number of messages in INBOX."""
        client = self.client()
        client.select_folder(INBOX)
        return len(client.search(["ALL"]))

    def wait_for(
        self, message_ids: Iterable[str], wait: float, poll_interval: float
    ) -> dict[str, Arrival]:
        """Poll until every message has arrived or `wait` seconds have passed.

        Each round selects every folder again, which lets the server report
        messages that arrived since the last look (RFC 3501 section 6.3.1).
        """
        pending = list(message_ids)
        found: dict[str, Arrival] = {}
        deadline = time.monotonic() + wait
        while pending:
            client = self.client()
            for folder in self.folders:
                client.select_folder(folder)
                for message_id in list(pending):
                    uids = client.search(["HEADER", "Message-ID", message_id])
                    if not uids:
                        continue
                    fetched = client.fetch(uids[:1], ["BODY.PEEK[HEADER]"])
                    headers = next(iter(fetched.values()))[b"BODY[HEADER]"]
                    found[message_id] = Arrival(folder, headers)
                    pending.remove(message_id)
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(poll_interval)
        return found

    def delete(self, message_ids: Sequence[str], problems: list[str]) -> Deletion:
        """Delete the messages from every folder, trying a new session once after a failure.

        IMAP errors become entries of `problems`, not exceptions.
        """
        for attempt in (1, 2):
            try:
                return self._delete(message_ids)
            except SESSION_ERRORS as error:
                logger.warning(
                    "deleting test messages from %s failed (attempt %d): %s",
                    self.server.name,
                    attempt,
                    error,
                )
                problems.append(f"deleting from the observer's mailbox failed: {error}")
                self.close()
        return Deletion(left=list(message_ids))

    def close(self) -> None:
        """Log out, if a session is open."""
        if self._client is not None:
            close_imap(self._client)
            self._client = None

    def _delete(self, message_ids: Sequence[str]) -> Deletion:
        result = Deletion(missing=set(message_ids))
        client = self.client()
        # Every folder is searched, because a message may have been filed twice.
        for folder in self.folders:
            client.select_folder(folder)
            for message_id in message_ids:
                uids = client.search(["HEADER", "Message-ID", message_id])
                if not uids:
                    continue
                result.missing.discard(message_id)
                if delete_by_uid(client, uids):
                    result.deleted += len(uids)
                else:
                    result.left.append(message_id)
        return result


def delete_sent_copies(
    servers: Sequence[ServerSettings],
    sent_by: dict[str, list[str]],
    timeout: float,
    problems: list[str],
) -> tuple[int, list[str]]:
    """Delete the copies that providers keep in the sender's sent folder (RFC 6154 \\Sent).

    `sent_by` maps an SMTP login to the Message-IDs it sent. Returns the number
    deleted and the logins that no IMAP entry reaches.
    """
    deleted = 0
    unchecked: list[str] = []
    for login, message_ids in sent_by.items():
        entry = next(
            (s for s in servers if s.protocol is Protocol.IMAP and mailbox_address(s) == login),
            None,
        )
        if entry is None:
            unchecked.append(login)
            continue
        client: IMAPClient | None = None
        try:
            client = open_imap(entry, timeout=timeout)
            folder = client.find_special_folder(SENT)
            if folder is None:
                continue  # no sent folder, so the provider keeps no copy
            client.select_folder(folder)
            for message_id in message_ids:
                uids = client.search(["HEADER", "Message-ID", message_id])
                if uids and delete_by_uid(client, uids):
                    deleted += len(uids)
        except SESSION_ERRORS as error:
            logger.warning("deleting the sent copies of %s failed: %s", login, error)
            problems.append(f"deleting the sent copies of {login} failed: {error}")
        finally:
            if client is not None:
                close_imap(client)
    return deleted, unchecked
