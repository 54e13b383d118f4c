"""Turn what goes wrong in a folder session into a named reason with the server's words.

This is the one place where socket, TLS, imaplib and imapclient errors become a
`ListingReason`, the most specific error type first.
"""

from __future__ import annotations

import ast
import imaplib
import logging
import re
import socket
import ssl
from typing import Any

from imapclient.exceptions import LoginError, ProtocolError

from toolkit.folders.model import ListingReason

logger = logging.getLogger(__name__)

# OpenSSL verify codes of a rejected certificate (X509_V_ERR_*).
_CERT_NOT_YET_VALID = 9
_CERT_EXPIRED = 10
_HOSTNAME_MISMATCH = 62
# imapclient quotes the server's reply as a bytes literal, such as
# b'[AUTHENTICATIONFAILED] Authentication failed.'
_BYTES_LITERAL = re.compile(r"^b(['\"]).*\1$", re.DOTALL)


class SessionFailure(Exception):
    """An exception that ends a folder session with a reason, turned into a listing."""

    def __init__(self, reason: ListingReason, error: str, server_text: str = "") -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error
        self.server_text = server_text


def classify(stage: str, read_timeout: float, error: BaseException) -> SessionFailure:
    """Translate an exception from a session into a reason, specific errors first."""
    if isinstance(error, SessionFailure):
        return error
    if isinstance(error, LoginError):
        return SessionFailure(
            ListingReason.LOGIN_REJECTED, "the server rejected the login", server_words(error)
        )
    if isinstance(error, ProtocolError):
        # imapclient could not parse the reply; the server accepted the command.
        return SessionFailure(
            ListingReason.PROTOCOL_ERROR,
            f"the server's reply during {stage} could not be parsed ({error})",
        )
    if isinstance(error, imaplib.IMAP4.abort):
        return SessionFailure(
            ListingReason.CONNECTION_CLOSED,
            f"the server ended the session during {stage}",
            server_words(error),
        )
    if isinstance(error, imaplib.IMAP4.error):
        reason = {
            "starttls": ListingReason.STARTTLS_REJECTED,
            "list": ListingReason.LIST_FAILED,
            "namespace": ListingReason.LIST_FAILED,
            "create": ListingReason.CREATE_FAILED,
        }.get(stage, ListingReason.PROTOCOL_ERROR)
        return SessionFailure(
            reason, f"the server rejected a command during {stage}", server_words(error)
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return _certificate_failure(error)
    if isinstance(error, ssl.SSLError):
        if getattr(error, "reason", "") == "WRONG_VERSION_NUMBER":
            return SessionFailure(
                ListingReason.TLS_ON_PLAIN_PORT,
                f"the server answered the TLS handshake in plain text ({error})",
            )
        return SessionFailure(ListingReason.TLS_HANDSHAKE_FAILED, f"TLS failed: {error}")
    if isinstance(error, socket.gaierror):
        return SessionFailure(ListingReason.DNS_FAILED, f"name lookup failed: {error.strerror}")
    if isinstance(error, ConnectionRefusedError):
        return SessionFailure(
            ListingReason.CONNECTION_REFUSED, "connection refused: nothing listens on this port"
        )
    if isinstance(error, TimeoutError):
        if stage == "connect":
            return SessionFailure(
                ListingReason.CONNECT_TIMEOUT,
                "no connection, TLS handshake or greeting within the time limit",
            )
        return SessionFailure(
            ListingReason.READ_TIMEOUT, f"no reply during {stage} within {read_timeout:g} s"
        )
    if isinstance(error, OSError):
        reason = (
            ListingReason.CONNECTION_FAILED
            if stage == "connect"
            else (ListingReason.CONNECTION_CLOSED)
        )
        return SessionFailure(reason, f"the connection failed during {stage}: {error}")
    # The traceback goes to DEBUG only: at WARNING, Python's last-resort handler would
    # print it on the command line's stderr, where a user expects a reason, not a traceback.
    logger.warning("unexpected error in a folder session at %s: %r", stage, error)
    logger.debug("traceback of the unexpected error at %s", stage, exc_info=error)
    return SessionFailure(ListingReason.PROTOCOL_ERROR,
                          f"unexpected error during {stage}: {error!r}")


def _certificate_failure(error: ssl.SSLCertVerificationError) -> SessionFailure:
    code = error.verify_code
    message = error.verify_message or str(error)
    if code == _CERT_EXPIRED:
        return SessionFailure(ListingReason.CERTIFICATE_EXPIRED,
                              f"certificate rejected: {message}")
    if code == _CERT_NOT_YET_VALID:
        return SessionFailure(ListingReason.CERTIFICATE_NOT_YET_VALID,
                              f"certificate rejected: {message}")
    if code == _HOSTNAME_MISMATCH:
        return SessionFailure(
            ListingReason.CERTIFICATE_HOSTNAME_MISMATCH, f"certificate rejected: {message}"
        )
    return SessionFailure(ListingReason.CERTIFICATE_UNTRUSTED, f"certificate rejected: {message}")


def server_words(error: BaseException) -> str:
    """Return the server's reply from an imaplib or imapclient error, without Python quoting."""
    reply = str(error)
    # imapclient formats failures as "<command> failed: <reply>".
    head, separator, tail = reply.partition(" failed: ")
    if separator and " " not in head.strip():
        reply = tail
    reply = reply.strip()
    if _BYTES_LITERAL.match(reply):
        try:
            reply = text(ast.literal_eval(reply))
        except (ValueError, SyntaxError):
            pass
    return reply


def text(value: Any) -> str:
    """Return bytes from imaplib as text, and anything else as its str()."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
