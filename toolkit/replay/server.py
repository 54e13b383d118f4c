"""The replay server: one listener on 127.0.0.1 per entry of a saved triage report.

Each listener plays back what the report recorded for its entry, so a triage of
the replay's settings file finds what the original triage found. The listeners
use the standard library's `socketserver` with a thread per connection. The
sessions themselves are written by hand in `imap_session` and `smtp_session`,
because no library replays recorded IMAP or SMTP exchanges. Server libraries
such as pymap and aiosmtpd implement real mailboxes and real authentication,
but a replay must reply with the recorded words whatever the client sends.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import tomli_w

from toolkit.replay.certs import CertificateSpec, IssuedCertificate, issue_certificate
from toolkit.replay.connection import Connection, ConnectionClosed
from toolkit.replay.imap_session import serve_imap
from toolkit.replay.plan import EntryScript, ListenerMode, entry_scripts
from toolkit.replay.settings_out import REPLAY_HOST, replay_document, replay_environment
from toolkit.replay.smtp_session import serve_smtp
from toolkit.settings import Protocol

logger = logging.getLogger(__name__)

SETTINGS_FILE_NAME = "replay-settings.toml"
# How long a listener that speaks both modes waits for a ClientHello before it greets.
SNIFF_SECONDS = 0.5
_Serve = Callable[[Connection, EntryScript, ssl.SSLContext | None], None]


@dataclass(frozen=True)
class ReplayEndpoint:
    """One running listener: the entry it replays, its protocol, how it starts, its port."""

    name: str
    protocol: Protocol
    mode: ListenerMode
    host: str
    port: int
    certificate: str


class ReplayServer:
    """Listeners that replay a saved triage report on a loopback address.

    Use it as a context manager, or call `start` and `stop`. `document` is the
    report as `toolkit.reports.load_report` returns it. `folder` receives the
    certificates and the settings file; a temporary folder is made and removed
    when None. Raises ReplayError (from `start`) for a report that lacks what a
    replay needs, and ValueError for a `host` that is not a loopback address.
    """

    def __init__(
        self, document: Mapping[str, Any], *, host: str = REPLAY_HOST, folder: Path | None = None
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"host {host!r} is invalid: a replay listens on loopback only")
        self.document = document
        self.host = host
        self.scripts = entry_scripts(document)
        self._own_folder = folder is None
        self._folder = folder
        self._servers: list[_Listener] = []
        self._refusing: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._certificates: dict[str, IssuedCertificate] = {}
        self.endpoints: list[ReplayEndpoint] = []

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def folder(self) -> Path:
        """The folder with the certificates and, by default, the settings file."""
        if self._folder is None:
            raise RuntimeError("the replay is not running: call start() first")
        return self._folder

    @property
    def notes(self) -> list[str]:
        """What the replay cannot reproduce, one sentence per entry concerned."""
        return [f"{script.name}: {note}" for script in self.scripts for note in script.notes]

    def start(self) -> None:
        """Make the certificates and start one listener per entry."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="maildiag-replay-"))
        try:
            for script in self.scripts:
                self.endpoints.append(self._start_listener(script))
        except BaseException:
            self.stop()
            raise
        for endpoint in self.endpoints:
            logger.info(
                "replaying %s (%s, %s) on %s:%d",
                endpoint.name,
                endpoint.protocol.value,
                endpoint.mode.value,
                endpoint.host,
                endpoint.port,
            )

    def stop(self) -> None:
        """Stop every listener, close open connections and remove a temporary folder."""
        for server in self._servers:
            server.shutdown()
            server.close_connections()
            server.server_close()
        for sock in self._refusing:
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._refusing.clear()
        self._threads.clear()
        if self._own_folder and self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def settings_document(self) -> dict[str, Any]:
        """Return the settings file that points at the listeners, as a TOML document."""
        ports = {endpoint.name: endpoint.port for endpoint in self.endpoints}
        ca_files = {
            name: issued.ca_file for name, issued in self._certificates.items() if issued.trusted
        }
        return replay_document(self.document, self.scripts, ports, ca_files)

    def write_settings(self, path: Path | None = None) -> Path:
        """Write the settings file, by default into the replay's folder, and return its path."""
        target = path if path is not None else self.folder / SETTINGS_FILE_NAME
        target.write_text(tomli_w.dumps(self.settings_document()), encoding="utf-8")
        return target

    def environment(self) -> dict[str, str]:
        """Return the stand-in password and token variables that the settings file names."""
        return replay_environment(self.document, self.scripts)

    def _start_listener(self, script: EntryScript) -> ReplayEndpoint:
        if script.mode is ListenerMode.REFUSED:
            # A bound socket that does not listen refuses connections, and keeps the
            # port from being taken by anything else while the replay runs.
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
            sock.bind((self.host, 0))
            self._refusing.append(sock)
            port = int(sock.getsockname()[1])
            return ReplayEndpoint(script.name, script.protocol, script.mode, self.host, port, "")
        context, described = self._tls_context(script)
        serve = serve_imap if script.protocol is Protocol.IMAP else serve_smtp
        server = _Listener((self.host, 0), script, context, serve)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"maildiag-replay-{script.name}",
            daemon=True,
        )
        thread.start()
        self._servers.append(server)
        self._threads.append(thread)
        port = int(server.server_address[1])
        return ReplayEndpoint(script.name, script.protocol, script.mode, self.host, port, described)

    def _tls_context(self, script: EntryScript) -> tuple[ssl.SSLContext | None, str]:
        needs_tls = script.mode in (
            ListenerMode.IMPLICIT_TLS,
            ListenerMode.STARTTLS,
            ListenerMode.BOTH,
        )
        if not needs_tls:
            return None, ""
        spec = script.certificate or _plain_spec()
        issued = issue_certificate(spec, self.host, self.folder, _file_stem(script.name))
        self._certificates[script.name] = issued
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(issued.chain_file), str(issued.key_file))
        trust = "trusted with the replay's CA file" if issued.trusted else "untrusted"
        return context, f"{spec.subject or 'certificate'}, {trust}"


class _Listener(socketserver.ThreadingTCPServer):
    """A listener for one entry; each connection runs the entry's script in its own thread."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        script: EntryScript,
        context: ssl.SSLContext | None,
        serve: _Serve,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.script = script
        self.context = context
        self.serve = serve
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()


class _Handler(socketserver.BaseRequestHandler):
    server: _Listener

    def handle(self) -> None:
        listener = self.server
        script = listener.script
        sock: socket.socket = self.request
        listener.track(sock, True)
        connection = Connection(sock)
        try:
            if script.mode is ListenerMode.SILENT:
                connection.drain()
                return
            sniffed = script.mode is ListenerMode.BOTH and connection.client_starts_tls(
                SNIFF_SECONDS
            )
            if listener.context is not None and (
                script.mode is ListenerMode.IMPLICIT_TLS or sniffed
            ):
                connection.start_tls(listener.context)
            listener.serve(connection, script, listener.context)
        except ConnectionClosed as closed:
            logger.debug("replay of %s: connection ended: %s", script.name, closed)
        finally:
            listener.track(sock, False)
            connection.close()


def _plain_spec() -> CertificateSpec:
    """Return a certificate for a TLS mode whose recorded probe kept no certificate."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return CertificateSpec(
        subject="CN=maildiag replay",
        issuer="CN=maildiag replay CA",
        san_dns=(),
        san_ip=(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
        hostname_matched=True,
        trusted=True,
        self_signed=False,
        chain_length=1,
        missing_intermediate=False,
    )


def _file_stem(name: str) -> str:
    return "".join(character if character.isalnum() else "-" for character in name)[:60]
