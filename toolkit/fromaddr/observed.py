"""What the empirical check saw for each pairing, compared with the prediction.

These are plain result objects and pure functions. `toolkit.fromaddr.verify`
fills them in from the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from toolkit.fromaddr.predict import Prediction
from toolkit.fromaddr.rules import Outcome


class Delivery(StrEnum):
    """What happened to one test message."""

    DELIVERED = "delivered"  # it arrived in the observer's inbox
    REJECTED = "rejected"  # the SMTP server rejected it at MAIL FROM, RCPT TO or DATA
    NOT_ARRIVED = "not-arrived"  # accepted, but not in the inbox before the deadline
    NOT_SENT = "not-sent"  # no connection, no credentials, or the login failed


@dataclass(frozen=True)
class Observation:
    """The test message of one pairing: its Message-ID, how it fared, and the headers that arrived.

    `reply` is the SMTP server's reply to a rejected message, or the error that
    kept it from being sent. `return_path` is the envelope sender the receiving
    server recorded, and `folder` the observer's folder the message arrived in.
    """

    prediction: Prediction
    message_id: str
    delivery: Delivery
    from_address: str | None = None
    sender_address: str | None = None
    return_path: str | None = None
    folder: str = ""
    reply: str = ""
    stage: str = ""
    seconds: float = 0.0

    @property
    def outcome(self) -> Outcome | None:
        """The observed outcome in the table's terms, or None when none applies."""
        if self.delivery is Delivery.REJECTED:
            return Outcome.REJECTED
        if self.delivery is not Delivery.DELIVERED:
            return None
        address, login = self.prediction.address, self.prediction.login
        if self.from_address == address:
            if self.sender_address in (None, address):
                return Outcome.FROM_A
            return Outcome.ON_BEHALF
        if self.from_address == login:
            return Outcome.REWRITTEN
        return None

    @property
    def matches(self) -> bool | None:
        """Whether the observation equals the prediction, or None when nothing was predicted."""
        predicted = self.prediction
        if predicted.outcome is Outcome.UNKNOWN:
            return None
        if self.outcome is not predicted.outcome:
            return False
        if self.outcome is Outcome.REJECTED:
            return self.reply.startswith(predicted.reply)
        sender = self.sender_address if self.sender_address != predicted.address else None
        return self.from_address == predicted.from_address and sender == predicted.sender_address

    @property
    def headline(self) -> str:
        """A short text for a table cell: what arrived, or why nothing did."""
        if self.delivery is Delivery.REJECTED:
            return f"rejected {self.reply}".strip()
        if self.delivery is not Delivery.DELIVERED:
            return f"{self.delivery.value}: {self.reply}".rstrip(": ")
        if self.sender_address and self.sender_address != self.from_address:
            return f"{self.sender_address} on behalf of {self.from_address}"
        return str(self.from_address)

    def to_dict(self) -> dict[str, Any]:
        """Return the observation as plain data for JSON and tables."""
        return {
            "imap": self.prediction.imap,
            "smtp": self.prediction.smtp,
            "address": self.prediction.address,
            "login": self.prediction.login,
            "envelope_sender": self.prediction.envelope_sender.value,
            "message_id": self.message_id,
            "delivery": self.delivery.value,
            "from_address": self.from_address,
            "sender_address": self.sender_address,
            "return_path": self.return_path,
            "folder": self.folder,
            "reply": self.reply,
            "stage": self.stage,
            "seconds": round(self.seconds, 3),
            "observed_outcome": self.outcome.value if self.outcome else None,
            "predicted_outcome": self.prediction.outcome.value,
            "matches": self.matches,
        }


@dataclass(frozen=True)
class Cleanup:
    """What the check deleted again, and what it could not.

    `left_behind` lists the Message-IDs of test messages that could not be deleted
    from the observer's inbox. `may_arrive_later` lists accepted messages that had
    not arrived when the cleanup ran. `unchecked_sent_folders` lists SMTP logins whose sent folder
    may keep a copy, because the tenant has no IMAP entry to reach it.
    `inbox_before` and `inbox_after` count the observer's inbox messages.
    """

    deleted: int = 0
    sent_copies_deleted: int = 0
    left_behind: tuple[str, ...] = ()
    may_arrive_later: tuple[str, ...] = ()
    unchecked_sent_folders: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    inbox_before: int | None = None
    inbox_after: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the cleanup result as plain data."""
        return {
            "deleted": self.deleted,
            "sent_copies_deleted": self.sent_copies_deleted,
            "left_behind": list(self.left_behind),
            "may_arrive_later": list(self.may_arrive_later),
            "unchecked_sent_folders": list(self.unchecked_sent_folders),
            "problems": list(self.problems),
            "inbox_before": self.inbox_before,
            "inbox_after": self.inbox_after,
        }


@dataclass(frozen=True)
class VerifyReport:
    """The observations of one check run and its cleanup."""

    observer: str
    observer_address: str
    observations: tuple[Observation, ...]
    cleanup: Cleanup

    @property
    def all_match(self) -> bool:
        """True when every pairing with a prediction arrived as predicted."""
        return all(observation.matches is not False for observation in self.observations)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data for JSON."""
        return {
            "observer": self.observer,
            "observer_address": self.observer_address,
            "observations": [observation.to_dict() for observation in self.observations],
            "cleanup": self.cleanup.to_dict(),
            "all_match": self.all_match,
        }
