"""Check the predictions empirically: one tagged test message per pairing, read back and deleted.

For each pairing the check logs in to the SMTP entry as B and sends a message
with From A to the tenant's observer mailbox. The message has a unique
Message-ID and a subject that marks it as a diagnostics test. The check then
reads the observer's INBOX and junk folder over IMAP, records the From, Sender and Return-Path
that arrived (or the rejection reply), and deletes exactly the messages it
created, found by their Message-ID. Copies that a provider keeps in B's sent
folder are deleted too when the tenant has an IMAP entry for B.

Cleanup runs in a ``finally`` block, so it also runs when a step fails. Every
connection has a timeout, and waiting for delivery has a deadline.
NOTE: a message that arrives only after the cleanup, from a provider slower than
`VerifyOptions.delivery_wait`, stays in the observer's inbox. The report lists
such messages in `Cleanup.may_arrive_later`, so raise the wait for slow providers.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, compat32
from email.utils import formatdate, getaddresses

from toolkit.fromaddr.clients import SESSION_ERRORS, SendResult, send_message
from toolkit.fromaddr.mailbox import Arrival, ObserverMailbox, delete_sent_copies
from toolkit.fromaddr.observed import Cleanup, Delivery, Observation, VerifyReport
from toolkit.fromaddr.predict import FromTable, Prediction, predict_queues
from toolkit.fromaddr.tenant import EnvelopeSender, TenantSetup, mailbox_address

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[maildiag diagnostics test]"
TEST_HEADER = "X-Maildiag-Test"
_BODY = (
    "maildiag sent this message to check which From address the recipients\n"
    "of replies see. The check deletes it again. If you find it, delete it.\n"
)

Progress = Callable[[int, int, str], None]


class VerifyError(RuntimeError):
    """The check cannot start: no observer, or its inbox cannot be opened."""


@dataclass(frozen=True)
class VerifyOptions:
    """Time limits of the check, in seconds.

    `timeout` applies to each connection step (connect, TLS, each command).
    `delivery_wait` bounds the wait for accepted messages to reach the observer,
    polled every `poll_interval`.
    """

    timeout: float = 10.0
    delivery_wait: float = 30.0
    poll_interval: float = 0.25


def verification_targets(tenant: TenantSetup, table: FromTable) -> list[Prediction]:
    """Return the table's pairings plus the queue pairings whose envelope sender differs."""
    targets = list(table.predictions)
    seen = {(p.imap, p.smtp, p.envelope_sender) for p in targets}
    for _, prediction in predict_queues(tenant):
        key = (prediction.imap, prediction.smtp, prediction.envelope_sender)
        if key not in seen:
            seen.add(key)
            targets.append(prediction)
    return targets


def verify_predictions(
    tenant: TenantSetup,
    predictions: Sequence[Prediction],
    *,
    options: VerifyOptions | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Send one test message per prediction to the observer, record what arrived, delete it all.

    The entries must carry their passwords or tokens (see
    `toolkit.settings_file.resolve_secrets`). Raises VerifyError when the tenant
    names no observer or its inbox cannot be opened, before anything is sent.
    Later connection problems become observations and cleanup problems.
    """
    options = options or VerifyOptions()
    if tenant.observer is None:
        raise VerifyError(
            "tenant.observer is missing: name the IMAP entry whose mailbox "
            "receives the test messages in the [tenant] table"
        )
    observer = tenant.server(tenant.observer)
    recipient = mailbox_address(observer)
    mailbox = ObserverMailbox(observer, options.timeout)
    try:
        inbox_before = mailbox.count_inbox()
    except SESSION_ERRORS as error:
        mailbox.close()
        raise VerifyError(
            f"the observer's inbox ({observer.name}, {recipient}) cannot be opened: {error}"
        ) from None

    attempts: list[tuple[Prediction, str, SendResult, float]] = []
    found: dict[str, Arrival] = {}
    problems: list[str] = []
    try:
        for number, prediction in enumerate(predictions, start=1):
            message_id = new_message_id(prediction.address)
            started = time.monotonic()
            # Recorded before sending: a reply that times out after DATA may still deliver.
            attempts.append((prediction, message_id, SendResult(False, stage="DATA"), 0.0))
            result = _send(tenant, prediction, recipient, message_id, options)
            attempts[-1] = (prediction, message_id, result, time.monotonic() - started)
            if progress is not None:
                progress(number, len(predictions), f"{prediction.imap} via {prediction.smtp}")
        accepted = [message_id for _, message_id, result, _ in attempts if result.accepted]
        try:
            found = mailbox.wait_for(accepted, options.delivery_wait, options.poll_interval)
        except SESSION_ERRORS as error:
            problems.append(f"reading the observer's mailbox failed: {error}")
            mailbox.close()
    finally:
        cleanup = _clean_up(tenant, mailbox, attempts, inbox_before, options, problems)
    observations = tuple(
        _observation(prediction, message_id, result, seconds, found.get(message_id))
        for prediction, message_id, result, seconds in attempts
    )
    return VerifyReport(observer.name, recipient, observations, cleanup)


def new_message_id(address: str) -> str:
    """Return a unique Message-ID in the domain of the From address (RFC 5322 section 3.6.4)."""
    domain = address.rpartition("@")[2] or "maildiag.invalid"
    return f"<maildiag-from-check.{uuid.uuid4().hex}@{domain}>"


def build_test_message(prediction: Prediction, recipient: str, message_id: str) -> bytes:
    """Return the test message of one pairing: From A, a unique Message-ID, a tagged subject."""
    message = EmailMessage()
    message["From"] = prediction.address
    message["To"] = recipient
    message["Subject"] = (
        f"{SUBJECT_PREFIX} From-address check: {prediction.imap} via {prediction.smtp}"
    )
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    message[TEST_HEADER] = "from-address-check"
    message.set_content(_BODY)
    # CRLF line ends: smtplib sends bytes as given, and servers may reject bare LF.
    return message.as_bytes(policy=SMTP)


def header_addresses(header_block: bytes) -> tuple[str | None, str | None, str | None]:
    """Return the first From, Sender and Return-Path address of a header block, in lower case."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(header_block)

    def first(name: str) -> str | None:
        values = [str(value) for value in headers.get_all(name) or []]
        addresses = [address for _, address in getaddresses(values) if address]
        return addresses[0].lower() if addresses else None

    return first("From"), first("Sender"), first("Return-Path")


def _send(
    tenant: TenantSetup,
    prediction: Prediction,
    recipient: str,
    message_id: str,
    options: VerifyOptions,
) -> SendResult:
    smtp = tenant.server(prediction.smtp)
    envelope = (
        prediction.address
        if prediction.envelope_sender is EnvelopeSender.FROM_ADDRESS
        else prediction.login
    )
    message = build_test_message(prediction, recipient, message_id)
    result = send_message(smtp, envelope, [recipient], message, timeout=options.timeout)
    logger.info(
        "test message %s from %s through %s: %s %s",
        message_id,
        prediction.address,
        smtp.name,
        "accepted" if result.accepted else result.stage,
        result.reply,
    )
    return result


def _observation(
    prediction: Prediction,
    message_id: str,
    result: SendResult,
    seconds: float,
    arrival: Arrival | None,
) -> Observation:
    if result.rejected:
        return Observation(
            prediction,
            message_id,
            Delivery.REJECTED,
            reply=result.reply,
            stage=result.stage,
            seconds=seconds,
        )
    if not result.accepted:
        return Observation(
            prediction,
            message_id,
            Delivery.NOT_SENT,
            reply=result.reply,
            stage=result.stage,
            seconds=seconds,
        )
    if arrival is None:
        return Observation(
            prediction,
            message_id,
            Delivery.NOT_ARRIVED,
            reply="not in the observer's mailbox before the deadline",
            seconds=seconds,
        )
    from_address, sender, return_path = header_addresses(arrival.headers)
    return Observation(
        prediction,
        message_id,
        Delivery.DELIVERED,
        from_address,
        sender,
        return_path,
        folder=arrival.folder,
        seconds=seconds,
    )


def _clean_up(
    tenant: TenantSetup,
    mailbox: ObserverMailbox,
    attempts: Sequence[tuple[Prediction, str, SendResult, float]],
    inbox_before: int,
    options: VerifyOptions,
    problems: list[str],
) -> Cleanup:
    """Delete every test message the run may have created.

    IMAP errors and missing credentials become cleanup problems, not exceptions.
    """
    message_ids = [message_id for _, message_id, _, _ in attempts]
    # Accepted, or cut off after DATA: such a message may be delivered.
    maybe_sent = {
        message_id
        for _, message_id, result, _ in attempts
        if result.accepted or (not result.rejected and result.stage == "DATA")
    }
    deletion = mailbox.delete(message_ids, problems)
    inbox_after: int | None = None
    try:
        inbox_after = mailbox.count_inbox()
    except SESSION_ERRORS as error:
        problems.append(f"counting the observer's inbox after the check failed: {error}")
    mailbox.close()

    sent_by: dict[str, list[str]] = {}
    for prediction, message_id, _, _ in attempts:
        if message_id in maybe_sent:
            sent_by.setdefault(prediction.login, []).append(message_id)
    copies, unchecked = delete_sent_copies(tenant.servers, sent_by, options.timeout, problems)
    return Cleanup(
        deleted=deletion.deleted,
        sent_copies_deleted=copies,
        left_behind=tuple(deletion.left),
        may_arrive_later=tuple(m for m in message_ids if m in deletion.missing and m in maybe_sent),
        unchecked_sent_folders=tuple(unchecked),
        problems=tuple(problems),
        inbox_before=inbox_before,
        inbox_after=inbox_after,
    )
