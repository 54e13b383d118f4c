"""The IMAP side of a replay: the recorded greeting, capabilities, login reply and folders.

The session replies to the commands the toolkit sends (CAPABILITY, STARTTLS,
LOGIN, AUTHENTICATE, EXAMINE, NAMESPACE, LIST, XLIST, LOGOUT) from an
`EntryScript`, and to any login with the recorded reply, whatever the
credentials. NOTE: LIST returns every recorded folder whatever its pattern,
because the toolkit always lists ``*``.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from imapclient.imap_utf7 import encode as encode_utf7

from toolkit.replay.connection import Connection, ConnectionClosed
from toolkit.replay.plan import AuthBehaviour, EntryScript, ListenerMode

_LITERAL = re.compile(r"\{(\d+)(\+?)\}\Z")
# The longest IMAP literal accepted, far above any login or folder name the toolkit sends.
_MAX_LITERAL = 64 * 1024


def serve_imap(connection: Connection, script: EntryScript, context: ssl.SSLContext | None) -> None:
    """Run one IMAP session from the script until the client logs out or disconnects."""
    greeting = script.greeting_tls if connection.tls else script.greeting_plain
    connection.send(*greeting)
    if script.mode is ListenerMode.GREETING_THEN_CLOSE:
        return
    if script.mode is ListenerMode.GREETING_THEN_SILENT:
        connection.drain()
        return
    session = _ImapSession(connection, script, context)
    while session.handle(_read_command(connection)):
        pass


class _ImapSession:
    def __init__(
        self, connection: Connection, script: EntryScript, context: ssl.SSLContext | None
    ) -> None:
        self.connection = connection
        self.script = script
        self.context = context
        self.authenticated = False

    @property
    def capabilities(self) -> tuple[str, ...]:
        script = self.script
        if self.authenticated and script.folders is not None and script.folders.capabilities:
            return script.folders.capabilities
        if self.connection.tls:
            return script.capabilities_tls
        return script.capabilities_plain

    def handle(self, line: str) -> bool:
        """Reply to one command. Return False when the session is over."""
        tag, _, rest = line.partition(" ")
        command, _, arguments = rest.partition(" ")
        command = command.upper()
        send = self.connection.send
        if command == "CAPABILITY":
            send("* CAPABILITY " + " ".join(self.capabilities), f"{tag} OK CAPABILITY completed")
        elif command == "NOOP":
            send(f"{tag} OK NOOP completed")
        elif command == "LOGOUT":
            send("* BYE Logging out", f"{tag} OK LOGOUT completed")
            return False
        elif command == "STARTTLS":
            return self._starttls(tag)
        elif command in ("LOGIN", "AUTHENTICATE"):
            return self._login(tag, command, arguments)
        elif not self.authenticated:
            send(f"{tag} BAD {command or 'command'} is not allowed before login")
        elif command in ("EXAMINE", "SELECT"):
            self._examine(tag, command)
        elif command == "NAMESPACE":
            self._namespace(tag)
        elif command in ("LIST", "XLIST"):
            self._list(tag, command)
        else:
            send(f"{tag} BAD {command or 'command'} is not part of this replay")
        return True

    def _starttls(self, tag: str) -> bool:
        listed = any(cap.upper() == "STARTTLS" for cap in self.capabilities)
        if self.connection.tls or not listed or self.context is None:
            self.connection.send(f"{tag} BAD STARTTLS is not available")
            return True
        reply = self.script.starttls_reply
        self.connection.send(f"{tag} {reply}")
        if not reply.upper().startswith("OK"):
            return True
        if self.script.plaintext_after_starttls:
            # The recorded server sent plain text after its go-ahead; the bytes are not kept.
            self.connection.send("* OK plain text after the STARTTLS go-ahead")
        self.connection.start_tls(self.context)
        return True

    def _login(self, tag: str, command: str, arguments: str) -> bool:
        login = self.script.login
        if command == "AUTHENTICATE":
            # Without an initial response (SASL-IR, RFC 4959) the client waits for "+".
            if len(arguments.split()) < 2:
                self.connection.send("+ ")
                if self.connection.read_line().strip() == "*":
                    self.connection.send(f"{tag} BAD AUTHENTICATE cancelled")
                    return True
            if login is not None and login.token_error and not login.accepted:
                challenge = json.dumps(dict(login.token_error)).encode("utf-8")
                self.connection.send("+ " + base64.b64encode(challenge).decode("ascii"))
                self.connection.read_line()
        if login is None:
            self.connection.send(f"{tag} NO [UNAVAILABLE] The report recorded no login")
            return True
        if login.behaviour is AuthBehaviour.SILENT:
            self.connection.drain()
            return False
        if login.behaviour is AuthBehaviour.CLOSE:
            return False
        self.connection.send(f"{tag} {login.reply}")
        self.authenticated = login.accepted
        return True

    def _examine(self, tag: str, command: str) -> None:
        login = self.script.login
        if login is not None and login.mailbox_reply:
            self.connection.send(f"{tag} {login.mailbox_reply}")
            return
        mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
        self.connection.send(
            "* 0 EXISTS",
            "* 0 RECENT",
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
            f"{tag} OK [{mode}] {command} completed",
        )

    def _namespace(self, tag: str) -> None:
        folders = self.script.folders
        if folders is None or folders.namespaces is None:
            self.connection.send(f"{tag} BAD NAMESPACE is not available")
            return
        parts = [_namespace_list(folders.namespaces.get(kind, [])) for kind in
                 ("personal", "other", "shared")]
        self.connection.send("* NAMESPACE " + " ".join(parts), f"{tag} OK NAMESPACE completed")

    def _list(self, tag: str, command: str) -> None:
        folders = self.script.folders
        if folders is None:
            self.connection.send(f"{tag} NO [UNAVAILABLE] The report recorded no folders")
            return
        if folders.list_reply:
            self.connection.send(f"{tag} {folders.list_reply}")
            return
        lines = [_list_line(command, folder) for folder in folders.folders]
        self.connection.send(*lines, f"{tag} OK {command} completed")


def _read_command(connection: Connection) -> str:
    """Read one command line, with any literals (RFC 9051 section 4.3) folded into it."""
    line = connection.read_line()
    while True:
        match = _LITERAL.search(line)
        if match is None:
            return line
        size = int(match[1])
        if size > _MAX_LITERAL:
            raise ConnectionClosed(f"literal of {size} bytes is too long")
        if not match[2]:
            connection.send("+ Ready for literal data")
        literal = connection.read_bytes(size).decode("utf-8", errors="replace")
        line = line[: match.start()] + _quoted(literal) + connection.read_line()


def _list_line(command: str, folder: Mapping[str, Any]) -> str:
    flags = " ".join(str(flag) for flag in folder.get("flags", []))
    delimiter = folder.get("delimiter")
    shown = "NIL" if delimiter is None else _quoted(str(delimiter))
    name = encode_utf7(str(folder["name"])).decode("ascii")
    return f"* {command} ({flags}) {shown} {_quoted(name)}"


def _namespace_list(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return "NIL"
    parts = []
    for item in items:
        delimiter = item.get("delimiter")
        shown = "NIL" if delimiter is None else _quoted(str(delimiter))
        prefix = encode_utf7(str(item.get("prefix", ""))).decode("ascii")
        parts.append(f"({_quoted(prefix)} {shown})")
    return "(" + "".join(parts) + ")"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
