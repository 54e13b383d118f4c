"""Sender rules of submitted mail: who may use which envelope sender and header From.

The rules follow each personality's `FromPolicy`:

- Gmail replaces a header From and an envelope sender that are neither the
  account nor one of its verified "Send mail as" aliases with the account.
- Exchange Online checks the envelope sender at MAIL FROM and the header From
  after DATA against the mailbox permissions Send As and Send on Behalf. A
  message sent on behalf of a mailbox names the real sender in a Sender header
  (Microsoft Graph documentation, "Send Outlook messages from another user").
- Postfix with ``reject_sender_login_mismatch`` checks the envelope sender only.
- A server without sender checks passes everything through.

The functions here do no I/O. Header changes work on the raw header block, so
the body and every other header reach the recipient byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import formataddr, getaddresses

from toolkit.sandbox.personalities import FromPolicy
from toolkit.sandbox.tenant import SandboxUser

# Microsoft 365 replies, as Exchange Online sends them for these two cases.
M365_SEND_AS_DENIED_MAIL_FROM = (
    "550 5.7.60 SMTP; Client does not have permissions to send as this sender"
)
M365_SEND_AS_DENIED_DATA = "554 5.2.252 SendAsDenied; {user} not allowed to send as {sender}"
# Postfix, reject_sender_login_mismatch (postconf(5)).
POSTFIX_NOT_OWNED = "553 5.7.1 <{sender}>: Sender address rejected: not owned by user {user}"

_HEADER_NAME = re.compile(rb"([!-9;-~]+):")


class FromAction:
    """Stable ids for what the server did with the header From."""

    KEPT = "kept"
    REWRITTEN = "rewritten"
    SENDER_ADDED = "sender-added"
    ADDED = "added"
    REJECTED = "rejected"


@dataclass(frozen=True)
class HeaderDecision:
    """The server's decision on a submitted message's From and Sender headers.

    `reply` is set when the message is rejected. `from_header` and
    `sender_header` are new header values, or None to leave the header as sent.
    """

    action: str
    reply: str | None = None
    from_header: str | None = None
    sender_header: str | None = None


def check_envelope_sender(user: SandboxUser, mail_from: str) -> str | None:
    """Return the rejection reply for an envelope sender at MAIL FROM, or None to accept it."""
    sender = mail_from.strip().lower()
    if not sender:
        return None  # the null sender of a bounce (RFC 5321 section 4.5.5)
    policy = user.profile.from_policy
    if policy is FromPolicy.SEND_AS_PERMISSIONS and not _may_send_for(user, sender):
        return M365_SEND_AS_DENIED_MAIL_FROM
    if policy is FromPolicy.ENVELOPE_OWNER and sender != user.address:
        return POSTFIX_NOT_OWNED.format(sender=mail_from, user=user.address)
    return None


def envelope_sender(user: SandboxUser, mail_from: str) -> str:
    """Return the envelope sender the server keeps for an accepted MAIL FROM.

    Gmail replaces an envelope sender that is neither the account nor an alias
    with the account, as it does with the header From. Other rules keep it.
    """
    sender = mail_from.strip().lower()
    if user.profile.from_policy is not FromPolicy.REWRITE_UNLESS_ALIAS or not sender:
        return mail_from
    if sender == user.address or sender in user.aliases:
        return mail_from
    return user.address


def decide_headers(user: SandboxUser, header_from: str | None) -> HeaderDecision:
    """Decide the From and Sender headers for a message submitted by `user`.

    `header_from` is the address in the message's From header, or None when the
    message has none.
    """
    policy = user.profile.from_policy
    own = formataddr((user.display_name, user.address)) if user.display_name else user.address
    if header_from is None:
        if policy in (FromPolicy.REWRITE_UNLESS_ALIAS, FromPolicy.SEND_AS_PERMISSIONS):
            return HeaderDecision(FromAction.ADDED, from_header=own)
        return HeaderDecision(FromAction.KEPT)
    address = header_from.strip().lower()
    if policy is FromPolicy.REWRITE_UNLESS_ALIAS:
        if address == user.address or address in user.aliases:
            return HeaderDecision(FromAction.KEPT)
        return HeaderDecision(FromAction.REWRITTEN, from_header=own)
    if policy is FromPolicy.SEND_AS_PERMISSIONS:
        if address == user.address or address in user.send_as:
            return HeaderDecision(FromAction.KEPT)
        if address in user.send_on_behalf:
            return HeaderDecision(FromAction.SENDER_ADDED, sender_header=own)
        reply = M365_SEND_AS_DENIED_DATA.format(user=user.address, sender=address)
        return HeaderDecision(FromAction.REJECTED, reply=reply)
    return HeaderDecision(FromAction.KEPT)


def header_from_address(message: bytes) -> str | None:
    """Return the first address of the message's From header, or None when it has none."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(message)
    values = headers.get_all("From")
    if not values:
        return None
    addresses = [address for _, address in getaddresses([str(v) for v in values]) if address]
    return addresses[0] if addresses else None


def apply_headers(message: bytes, decision: HeaderDecision) -> bytes:
    """Return the message with the decision's From and Sender headers in place of the old ones."""
    replace: dict[bytes, str] = {}
    if decision.from_header is not None:
        replace[b"from"] = decision.from_header
    if decision.sender_header is not None:
        replace[b"sender"] = decision.sender_header
    if not replace:
        return message
    head, separator, body = _split_header_block(message)
    newline = b"\r\n" if head.endswith(b"\r\n") or not head else b"\n"
    kept = [line for line in _header_fields(head) if _field_name(line) not in replace]
    added = [f"{name.decode().title()}: {value}".encode() + newline
             for name, value in replace.items()]
    return b"".join(added + kept) + separator + body


def prepend_trace(message: bytes, return_path: str, received: str) -> bytes:
    """Return the message with Return-Path and Received trace headers (RFC 5321 section 4.4)."""
    trace = f"Return-Path: <{return_path}>\r\nReceived: {received}\r\n".encode()
    return trace + message


def _split_header_block(message: bytes) -> tuple[bytes, bytes, bytes]:
    """Split a message into the header block, the empty line after it and the body."""
    found = [(message.find(blank), blank) for blank in (b"\r\n\r\n", b"\n\n")]
    found = [(index, blank) for index, blank in found if index >= 0]
    if not found:
        return message, b"", b""
    index, blank = min(found)
    half = len(blank) // 2
    return message[: index + half], message[index + half : index + len(blank)], message[
        index + len(blank) :
    ]


def _header_fields(head: bytes) -> list[bytes]:
    """Split a header block into fields, each with its folded continuation lines."""
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _field_name(field: bytes) -> bytes:
    match = _HEADER_NAME.match(field)
    return match.group(1).lower() if match else b""


def _may_send_for(user: SandboxUser, sender: str) -> bool:
    return sender == user.address or sender in user.send_as or sender in user.send_on_behalf
