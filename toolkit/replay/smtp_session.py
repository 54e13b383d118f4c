"""The SMTP side of a replay: the recorded greeting, EHLO replies, STARTTLS and AUTH reply.

The session replies to EHLO, HELO, STARTTLS, AUTH, NOOP, RSET and QUIT from an
`EntryScript`. AUTH gets the recorded final reply whatever the credentials, and
mail commands are refused, because a replay never accepts a message.
"""

from __future__ import annotations

import base64
import json
import ssl

from toolkit.replay.connection import Connection
from toolkit.replay.plan import AuthBehaviour, EntryScript, ListenerMode

# The SASL LOGIN mechanism's two challenges, "Username:" and "Password:" in base64.
_LOGIN_CHALLENGES = ("334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6")


def serve_smtp(connection: Connection, script: EntryScript, context: ssl.SSLContext | None) -> None:
    """Run one SMTP session from the script until the client quits or disconnects."""
    greeting = script.greeting_tls if connection.tls else script.greeting_plain
    connection.send(*(greeting or ("220 replay ESMTP",)))
    if script.mode is ListenerMode.GREETING_THEN_CLOSE:
        return
    if script.mode is ListenerMode.GREETING_THEN_SILENT:
        connection.drain()
        return
    while True:
        line = connection.read_line()
        verb, _, arguments = line.partition(" ")
        verb = verb.upper()
        if verb in ("EHLO", "HELO"):
            connection.send(*_ehlo(script, connection.tls, verb))
        elif verb == "STARTTLS":
            _starttls(connection, script, context)
        elif verb == "AUTH":
            if not _auth(connection, script, arguments):
                return
        elif verb in ("NOOP", "RSET"):
            connection.send("250 2.0.0 OK")
        elif verb == "QUIT":
            connection.send("221 2.0.0 Bye")
            return
        elif verb in ("MAIL", "RCPT", "DATA", "BDAT"):
            connection.send("502 5.5.1 This replay accepts no mail")
        else:
            connection.send("500 5.5.2 Command not recognized")


def _ehlo(script: EntryScript, tls: bool, verb: str) -> tuple[str, ...]:
    recorded = script.ehlo_tls if tls else script.ehlo_plain
    if verb == "EHLO" and recorded:
        return recorded
    if verb == "HELO":
        return ("250 replay",)
    keywords = script.capabilities_tls if tls else script.capabilities_plain
    lines = ["replay", *keywords]
    return tuple(
        f"250{'-' if index < len(lines) - 1 else ' '}{text}" for index, text in enumerate(lines)
    )


def _starttls(connection: Connection, script: EntryScript, context: ssl.SSLContext | None) -> None:
    keywords = script.capabilities_tls if connection.tls else script.capabilities_plain
    offered = any(keyword.upper() == "STARTTLS" for keyword in keywords)
    if connection.tls or not offered or context is None:
        connection.send("502 5.5.1 STARTTLS is not available")
        return
    reply = script.starttls_reply
    connection.send(reply)
    if not reply.startswith("220"):
        return
    if script.plaintext_after_starttls:
        # The recorded server sent plain text after its go-ahead; the bytes are not kept.
        connection.send("250 plain text after the STARTTLS go-ahead")
    connection.start_tls(context)


def _auth(connection: Connection, script: EntryScript, arguments: str) -> bool:
    """Run an AUTH exchange and send the recorded reply; return False to end the session."""
    words = arguments.split()
    mechanism = words[0].upper() if words else ""
    if mechanism == "LOGIN":
        # RFC 4954 section 4: a response given on the command line replaces the first challenge.
        for challenge in _LOGIN_CHALLENGES[len(words) - 1 :]:
            connection.send(challenge)
            if connection.read_line().strip() == "*":
                connection.send("501 5.7.0 Authentication cancelled")
                return True
    elif len(words) < 2:
        connection.send("334 ")
        if connection.read_line().strip() == "*":
            connection.send("501 5.7.0 Authentication cancelled")
            return True
    login = script.login
    if login is None:
        connection.send("454 4.7.0 The report recorded no login")
        return True
    if login.token_error and not login.accepted:
        payload = json.dumps(dict(login.token_error)).encode("utf-8")
        connection.send("334 " + base64.b64encode(payload).decode("ascii"))
        connection.read_line()
    if login.behaviour is AuthBehaviour.SILENT:
        connection.drain()
        return False
    if login.behaviour is AuthBehaviour.CLOSE:
        return False
    connection.send(*login.reply.split("\n"))
    return True
