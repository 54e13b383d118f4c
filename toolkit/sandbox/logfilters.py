"""Logging filters that keep sandbox credentials out of pymap's and aiosmtpd's logs.

pymap logs every line it reads at DEBUG level, including the password of a
LOGIN command and the base64 credentials that follow AUTHENTICATE. `ImapCredentialFilter`
replaces those lines until the server sends the tagged reply to the command.

aiosmtpd masks the argument of an AUTH command itself, but it logs a client
response that is not valid base64 in full, and it logs a WARNING about its own
deprecated ``Session.login_data`` on every successful AUTH. `SmtpLogFilter`
masks the first and drops the second, which would otherwise reach a notebook's
output at each login.
"""

from __future__ import annotations

import logging
import re
import ssl

REDACTED = "<credentials redacted>"
# The format strings of pymap 0.36 (pymap.imap.IMAPConnection._print).
_CLIENT_LINE = "%s -->| %s"
_SERVER_LINE = "%s <--| %s"
_DISCONNECT_LINE = "%s ---| %s"
_AUTH_COMMAND = re.compile(r"(\S+) (LOGIN|AUTHENTICATE)\b", re.IGNORECASE)
# Messages of aiosmtpd 1.4 (aiosmtpd.smtp).
_SMTP_BAD_BASE64 = "%r can't decode base64: %s"
_SMTP_LOGIN_DATA = "Session.login_data is deprecated"
_SMTP_UNRECOGNISED = "%r unrecognised: %s"
_SMTP_SESSION_EXCEPTION = "%r SMTP session exception"


class ImapCredentialFilter(logging.Filter):
    """Replace client lines of IMAP LOGIN and AUTHENTICATE exchanges in pymap's transcript."""

    def __init__(self) -> None:
        super().__init__()
        # The tag of the authentication command still waiting for its reply, per connection id.
        self._pending: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(record.args, tuple) or len(record.args) != 2:
            return True
        connection, line = record.args
        key, text = str(connection), str(line)
        if record.msg == _CLIENT_LINE:
            if key in self._pending:
                record.args = (connection, REDACTED)
                return True
            match = _AUTH_COMMAND.match(text)
            if match is not None:
                self._pending[key] = match.group(1)
                record.args = (connection, f"{match.group(0)} {REDACTED}")
        elif record.msg == _SERVER_LINE:
            tag = self._pending.get(key)
            if tag is not None and text.startswith(tag + " "):
                del self._pending[key]
        elif record.msg == _DISCONNECT_LINE:
            self._pending.pop(key, None)
        return True


class SmtpLogFilter(logging.Filter):
    """Mask undecodable AUTH responses and drop aiosmtpd's login_data deprecation warning.

    It also lowers aiosmtpd's "unrecognised" command warning to DEBUG, and a failed
    TLS handshake from a traceback at ERROR to one line at INFO. Probes send a
    TLS handshake to the STARTTLS port on purpose, and a notebook should not show a
    warning for each one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _SMTP_SESSION_EXCEPTION and _is_tls_failure(record):
            # A client that offers only old TLS versions, or gives up mid-handshake, is a
            # normal event for a sandbox that probes visit: one INFO line, no traceback.
            error = record.exc_info[1] if record.exc_info else None
            cause = error.__cause__ if error is not None and error.__cause__ else error
            record.msg = "%r TLS handshake failed: %s"
            record.args = (record.args[0] if isinstance(record.args, tuple) else "", cause)
            record.exc_info = None
            record.exc_text = None
            record.levelno = logging.INFO
            record.levelname = logging.getLevelName(logging.INFO)
            return True
        if record.msg == _SMTP_UNRECOGNISED:
            record.levelno = logging.DEBUG
            record.levelname = logging.getLevelName(logging.DEBUG)
            return True
        if record.msg == _SMTP_BAD_BASE64 and isinstance(record.args, tuple):
            record.args = (record.args[0], REDACTED)
            return True
        return not (isinstance(record.msg, str) and record.msg.startswith(_SMTP_LOGIN_DATA))


def _is_tls_failure(record: logging.LogRecord) -> bool:
    """Return whether a logged exception is a failed TLS handshake."""
    if not record.exc_info or record.exc_info[1] is None:
        return False
    error = record.exc_info[1]
    return type(error).__name__ == "TLSSetupException" or isinstance(error, ssl.SSLError)


_installed = False


def install() -> None:
    """Attach the filters to the pymap and aiosmtpd loggers once per process."""
    global _installed
    if _installed:
        return
    logging.getLogger("pymap.imap").addFilter(ImapCredentialFilter())
    logging.getLogger("mail.log").addFilter(SmtpLogFilter())
    _installed = True
