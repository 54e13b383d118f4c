"""SMTP submission and IMAP sessions for the From-address check, with a timeout on every step.

Each function takes a `ServerSettings` entry with its password or token already
resolved. A secret leaves its `Secret` only in the call that sends it, and no
error text here contains one: smtplib and imapclient report the server's reply.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from toolkit.settings import AuthType, ServerSettings

logger = logging.getLogger(__name__)

# Errors of a connection that did not work: socket and TLS errors, SMTP and IMAP errors.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    smtplib.SMTPException,
    IMAPClientError,
    ssl.SSLError,
)


class MissingCredentials(ValueError):
    """An entry has neither the password nor the token that its authentication type needs."""


# Everything that can make an IMAP session of the check fail, credentials included.
SESSION_ERRORS: tuple[type[Exception], ...] = (*NETWORK_ERRORS, MissingCredentials)


@dataclass(frozen=True)
class SendResult:
    """The outcome of one SMTP submission.

    `accepted` is true when the server took the message after DATA. Otherwise
    `stage` names the step that failed (CONNECT, AUTH, MAIL FROM, RCPT TO, DATA)
    and `reply` contains the server's reply, or the error when there was none.
    `rejected` is true when the server replied with a 5xx or 4xx code to the
    message itself rather than to the connection or the login.
    """

    accepted: bool
    rejected: bool = False
    stage: str = ""
    reply: str = ""


def tls_context(server: ServerSettings) -> ssl.SSLContext:
    """Return a client TLS context that trusts the entry's CA file, else the system's CAs."""
    cafile = str(server.ca_file) if server.ca_file is not None else None
    return ssl.create_default_context(cafile=cafile)


def xoauth2_response(user: str, token: str) -> str:
    """Return the XOAUTH2 initial client response for a user and an access token."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def send_message(
    server: ServerSettings,
    envelope_sender: str,
    recipients: Sequence[str],
    message: bytes,
    *,
    timeout: float,
) -> SendResult:
    """Log in to an SMTP entry and submit one message.

    Socket, TLS and SMTP errors and missing credentials become a failed
    `SendResult` instead of an exception.
    """
    try:
        client = _smtp_connect(server, timeout)
    except NETWORK_ERRORS as error:
        return SendResult(False, stage="CONNECT", reply=_error_text(error))
    try:
        try:
            _smtp_login(client, server)
        except MissingCredentials as error:
            return SendResult(False, stage="AUTH", reply=str(error))
        except smtplib.SMTPResponseException as error:
            return SendResult(False, stage="AUTH", reply=_reply(error.smtp_code, error.smtp_error))
        except NETWORK_ERRORS as error:
            return SendResult(False, stage="AUTH", reply=_error_text(error))
        try:
            client.sendmail(envelope_sender, list(recipients), message)
        except smtplib.SMTPSenderRefused as error:
            return SendResult(False, True, "MAIL FROM", _reply(error.smtp_code, error.smtp_error))
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            return SendResult(False, True, "RCPT TO", _reply(code, text))
        except smtplib.SMTPDataError as error:
            return SendResult(False, True, "DATA", _reply(error.smtp_code, error.smtp_error))
        except NETWORK_ERRORS as error:
            return SendResult(False, stage="DATA", reply=_error_text(error))
        return SendResult(True)
    finally:
        _smtp_close(client)


def open_imap(server: ServerSettings, *, timeout: float) -> IMAPClient:
    """Connect and log in to an IMAP entry. Raises one of `SESSION_ERRORS` when that fails."""
    context = tls_context(server)
    client = IMAPClient(
        server.host, port=server.port, ssl=server.tls, ssl_context=context, timeout=timeout
    )
    try:
        if not server.tls:
            client.starttls(context)
        if server.auth is AuthType.OAUTH2:
            if server.token is None:
                raise MissingCredentials(_missing(server))
            client.oauth2_login(server.user, server.token.reveal())
        else:
            if server.password is None:
                raise MissingCredentials(_missing(server))
            client.login(server.user, server.password.reveal())
    except BaseException:
        _imap_close(client, logout=False)
        raise
    return client


def close_imap(client: IMAPClient) -> None:
    """Log out, or drop the connection when LOGOUT fails."""
    _imap_close(client, logout=True)


def delete_by_uid(client: IMAPClient, uids: Sequence[int]) -> bool:
    """Flag messages of the selected folder \\Deleted and expunge only those.

    Uses UID EXPUNGE (RFC 4315) when the server offers UIDPLUS. Without it, a
    plain EXPUNGE would also remove other messages flagged \\Deleted, so it runs
    only when no other message has that flag. Returns False when the messages
    stay flagged but not expunged.
    """
    if not uids:
        return True
    client.delete_messages(list(uids))
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(list(uids))
        return True
    flagged = set(client.search(["DELETED"]))
    if flagged <= set(uids):
        client.expunge()
        return True
    logger.warning(
        "left %d messages flagged \\Deleted: other messages carry the flag too and "
        "the server has no UID EXPUNGE",
        len(uids),
    )
    return False


def _smtp_connect(server: ServerSettings, timeout: float) -> smtplib.SMTP:
    context = tls_context(server)
    client: smtplib.SMTP
    if server.tls:
        client = smtplib.SMTP_SSL(server.host, server.port, context=context, timeout=timeout)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        try:
            client.ehlo()
            client.starttls(context=context)
        except BaseException:
            _smtp_close(client)
            raise
    return client


def _smtp_login(client: smtplib.SMTP, server: ServerSettings) -> None:
    client.ehlo()  # smtplib's login() and auth() do not send EHLO after STARTTLS by themselves
    if server.auth is AuthType.OAUTH2:
        if server.token is None:
            raise MissingCredentials(_missing(server))
        token = server.token
        client.auth("XOAUTH2", lambda challenge=None: xoauth2_response(server.user, token.reveal()))
        return
    if server.password is None:
        raise MissingCredentials(_missing(server))
    client.login(server.user, server.password.reveal())


def _smtp_close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except NETWORK_ERRORS:
        client.close()


def _imap_close(client: IMAPClient, *, logout: bool) -> None:
    try:
        if logout:
            client.logout()
            return
    except NETWORK_ERRORS:
        pass
    try:
        client.shutdown()
    except NETWORK_ERRORS:
        pass


def _missing(server: ServerSettings) -> str:
    if server.auth is AuthType.OAUTH2:
        variable = server.token_env or "token_env"
        return f"no OAuth2 token for {server.user}: set the environment variable {variable}"
    variable = server.password_env or "password_env"
    return f"no password for {server.user}: set the environment variable {variable}"


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # smtplib joins the lines of a multi-line reply with newlines.
    return f"{code} {' '.join(text.split())}"


def _error_text(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, smtplib.SMTPResponseException):
        return _reply(error.smtp_code, error.smtp_error)
    return f"{type(error).__name__}: {error}"
