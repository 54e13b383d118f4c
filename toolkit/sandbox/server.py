"""The `Sandbox`: every sandbox listener on its own event loop in a daemon thread.

The loop runs in a thread of its own so that the sandbox works the same from a
script, from pytest and from a notebook cell, whose kernel already runs an event
loop. `start` binds every socket first, in the calling thread, so that a port in
use fails at once with the port's name. `stop` closes the listeners, aborts
open client connections, ends the thread and removes the temporary folder.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from toolkit.sandbox import logfilters
from toolkit.sandbox.auth import Authenticator, TokenChecker
from toolkit.sandbox.authority import LocalAuthority
from toolkit.sandbox.behaviours import start_busy_listener, start_silent_listener
from toolkit.sandbox.ca import SandboxCertificates
from toolkit.sandbox.connections import ConnectionRegistry
from toolkit.sandbox.endpoints import (
    AUTHORITY_OFFSET,
    DEFAULT_PORT_BASE,
    ENDPOINT_SPECS,
    MAX_OFFSET,
    Behaviour,
    Endpoint,
    EndpointSpec,
    port_for,
)
from toolkit.sandbox.imap import ImapMode, SandboxConfig, SandboxLogin, start_imap_listener
from toolkit.sandbox.mailstore import Mailstore
from toolkit.sandbox.overview import endpoint_rows, user_rows
from toolkit.sandbox.sandbox_settings import sandbox_environment, sandbox_settings
from toolkit.sandbox.smtp import SubmissionHandler, start_smtp_listener
from toolkit.sandbox.tenant import SandboxUser, Tenant, default_tenant
from toolkit.secret import Secret
from toolkit.settings import Protocol, Security, ServerSettings
from toolkit.settings_file import save_settings

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

SETTINGS_FILE_NAME = "sandbox-settings.toml"


class SandboxError(RuntimeError):
    """The sandbox could not start, or was used while not running."""


class Sandbox:
    """Local IMAP and SMTP servers with provider personalities, for workshops and tests.

    Use it as a context manager, or call `start` and `stop`::

        with Sandbox(port_base=0) as sandbox:
            print(sandbox.endpoint("imap-tls").port)

    `port_base` places every listener at a fixed offset (see
    `toolkit.sandbox.endpoints`); 0 lets the operating system choose free ports.
    `tenant` decides users and personalities; `default_tenant()` is used when it
    is None. `host` must be a loopback address. `authority` starts the local
    OAuth2 authority for XOAUTH2 and OAUTHBEARER logins.
    """

    def __init__(
        self,
        *,
        port_base: int = DEFAULT_PORT_BASE,
        tenant: Tenant | None = None,
        host: str = "127.0.0.1",
        authority: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(
                f"host {host!r} is invalid: the sandbox listens only on a loopback address, "
                "such as 127.0.0.1 or ::1"
            )
        if port_base != 0 and not 1 <= port_base <= 65535 - MAX_OFFSET:
            raise ValueError(
                f"port_base {port_base} is invalid: use 0 for free ports, or a base from 1 to "
                f"{65535 - MAX_OFFSET} so that base + {MAX_OFFSET} is still a port"
            )
        self.port_base = port_base
        self.tenant = tenant if tenant is not None else default_tenant()
        self.host = host
        self.use_authority = authority
        self.authority: LocalAuthority | None = None
        self.start_seconds: float | None = None
        self._folder: Path | None = None
        self._certificates: SandboxCertificates | None = None
        self._endpoints: list[Endpoint] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._registry = ConnectionRegistry()
        self._mailstore: Mailstore | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (f"Sandbox({state}, host={self.host!r}, port_base={self.port_base}, "
                f"tenant={self.tenant.name!r}, users={len(self.tenant.users)})")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop`."""
        return self._loop is not None

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every listener with its bound port, IMAP and SMTP main ports first."""
        return list(self._endpoints)

    @property
    def users(self) -> tuple[SandboxUser, ...]:
        """The tenant's users, with their passwords as `Secret` values."""
        return self.tenant.users

    @property
    def folder(self) -> Path:
        """The temporary folder with the CA file and the default settings file."""
        return self._require(self._folder)

    @property
    def ca_file(self) -> Path:
        """The PEM file of the sandbox CA, for clients that verify the certificates."""
        return self._require(self._certificates).ca_file

    @property
    def certificates(self) -> SandboxCertificates:
        """The sandbox CA and its leaf certificates."""
        return self._require(self._certificates)

    def endpoint(self, name: str) -> Endpoint:
        """Return the endpoint with this name, such as ``imap-tls``. Raises KeyError if unknown."""
        for endpoint in self._endpoints:
            if endpoint.name == name:
                return endpoint
        known = ", ".join(e.name for e in self._endpoints) or "none while stopped"
        raise KeyError(f"no sandbox endpoint named {name!r}; known: {known}")

    def user(self, address: str) -> SandboxUser:
        """Return the user with this address. Raises KeyError if the tenant has none."""
        user = self.tenant.user(address)
        if user is None:
            raise KeyError(f"no sandbox user {address!r}")
        return user

    def client_context(self) -> ssl.SSLContext:
        """Return a client TLS context that trusts only the sandbox CA."""
        return self.certificates.client_context()

    def endpoint_rows(self) -> list[dict[str, str | int]]:
        """Return the endpoints as plain rows for a table, such as a pandas DataFrame."""
        return endpoint_rows(self._endpoints)

    def user_rows(self) -> list[dict[str, str]]:
        """Return the users as plain rows for a table, without passwords."""
        return user_rows(self.tenant)

    def settings(self) -> list[ServerSettings]:
        """Return settings entries: IMAP and SMTP for each user, one per behaviour endpoint."""
        self._require(self._loop)
        return sandbox_settings(self.tenant, self._endpoints, self.ca_file, self.authority)

    def environment(self) -> dict[str, str]:
        """Return the environment variables that the settings' ``password_env`` fields name.

        The values are the sandbox's own passwords and app passwords.
        """
        return sandbox_environment(self.tenant)

    def write_settings(self, path: str | Path | None = None) -> Path:
        """Write the settings to a TOML file and return its path.

        Without `path`, the file goes into the sandbox's temporary folder. The
        file names environment variables and contains no password.
        """
        target = Path(path) if path is not None else self.folder / SETTINGS_FILE_NAME
        return save_settings(target, self.settings())

    def access_token(self, address: str) -> Secret:
        """Return a fresh OAuth2 access token for a user, for XOAUTH2 or OAUTHBEARER.

        The token is valid for one hour and carries the Exchange Online scopes for
        IMAP and SMTP. Raises SandboxError when the authority is off.
        """
        authority = self.authority
        if authority is None:
            raise SandboxError("the OAuth2 authority is not running; start with authority=True")
        return Secret(authority.issue_token(user=self.user(address).address))

    def append_message(self, address: str, message: bytes, *, folder: str = "INBOX") -> int:
        """Put a message into a user's folder without SMTP and return its UID."""
        mailstore = self._require(self._mailstore)
        return self._call(mailstore.append(address, message, folder=folder))

    def start(self) -> None:
        """Start every listener and the OAuth2 authority. Raises SandboxError if a port is taken."""
        if self.running:
            return
        started = time.perf_counter()
        logfilters.install()
        folder = Path(tempfile.mkdtemp(prefix="maildiag-sandbox-"))
        sockets: list[tuple[EndpointSpec, socket.socket]] = []
        try:
            certificates = SandboxCertificates.create(folder)
            for spec in ENDPOINT_SPECS:
                sockets.append((spec, self._bind(spec)))
            self._folder, self._certificates = folder, certificates
            self._start_authority(certificates)
            self._start_loop()
            checker: TokenChecker | None = self.authority
            self._call(self._start_servers(sockets, certificates, checker))
        except BaseException:
            for _, sock in sockets:
                sock.close()
            self.stop()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self._endpoints = [
            Endpoint(spec.name, spec.protocol, spec.security, self.host,
                     sock.getsockname()[1], spec.description, spec.behaviour)
            for spec, sock in sockets
        ]
        self.start_seconds = time.perf_counter() - started
        _log.info("sandbox started in %.3f s with %d listeners on %s", self.start_seconds,
                  len(self._endpoints), self.host)

    def stop(self) -> None:
        """Stop every listener, close open connections, end the thread and remove the folder."""
        loop, thread = self._loop, self._thread
        if self.authority is not None:
            try:
                self.authority.stop()
            except Exception:
                _log.exception("stopping the OAuth2 authority failed")
            self.authority = None
        try:
            if loop is not None and thread is not None:
                try:
                    asyncio.run_coroutine_threadsafe(self._stop_servers(), loop).result(timeout=10)
                finally:
                    loop.call_soon_threadsafe(loop.stop)
                    thread.join(timeout=10)
                _log.info("sandbox stopped")
        finally:
            self._loop = self._thread = None
            self._servers, self._endpoints, self._mailstore = [], [], None
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self._certificates = None

    def _bind(self, spec: EndpointSpec) -> socket.socket:
        port = port_for(self.port_base, spec.offset)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # asyncio sets TCP_NODELAY only on accepted sockets whose proto is
        # IPPROTO_TCP, and socket.create_server leaves proto at 0. Without
        # TCP_NODELAY each multi-line reply stalled about 40 ms on delayed ACKs.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, port))
            sock.listen()
            return sock
        except OSError as error:
            sock.close()
            raise SandboxError(
                f"cannot listen on {self.host} port {port} for {spec.name}: "
                f"{error.strerror or error}. Stop the program that uses the port, or start "
                "the sandbox with another port base, or with port base 0 for free ports"
            ) from error

    def _start_authority(self, certificates: SandboxCertificates) -> None:
        if not self.use_authority:
            return
        authority = LocalAuthority(
            server_ssl_context=certificates.server_context(),
            host=self.host,
            port=port_for(self.port_base, AUTHORITY_OFFSET),
            tenant_id=self.tenant.tenant_id,
            tenant_domain=self.tenant.domain,
        )
        for user in self.tenant.users:
            if user.can_sign_in and user.profile.oauth:
                authority.register_user(user.address, display_name=user.display_name or None)
        try:
            authority.start()
        except OSError as error:
            raise SandboxError(f"cannot start the OAuth2 authority: {error}") from error
        self.authority = authority

    def _start_loop(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_log_loop_error)
        thread = threading.Thread(target=_run_loop, args=(loop,), name="maildiag-sandbox",
                                  daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread

    async def _start_servers(self, sockets: list[tuple[EndpointSpec, socket.socket]],
                             certificates: SandboxCertificates,
                             checker: TokenChecker | None) -> None:
        authenticator = Authenticator(self.tenant, checker)
        mailstore = Mailstore(self.tenant)
        await mailstore.create()
        config = SandboxConfig(ssl_context=certificates.server_context())
        login = SandboxLogin(config, authenticator, mailstore)
        handler = SubmissionHandler(authenticator, mailstore)
        contexts = {
            Behaviour.EXPIRED_CERTIFICATE: certificates.server_context(certificates.expired),
            Behaviour.WRONG_HOST_CERTIFICATE: certificates.server_context(certificates.wrong_host),
        }
        server_context = certificates.server_context()
        self._mailstore = mailstore
        for spec, sock in sockets:
            implicit: ssl.SSLContext | None = None
            if spec.security is Security.IMPLICIT_TLS:
                implicit = contexts.get(spec.behaviour, server_context)
            if spec.behaviour is Behaviour.SILENT:
                server = await start_silent_listener(sock, self._registry)
            elif spec.behaviour is Behaviour.BUSY:
                server = await start_busy_listener(sock, spec.protocol)
            elif spec.protocol is Protocol.IMAP:
                starttls = spec.security is Security.STARTTLS
                mode = ImapMode(offer_starttls=starttls, login_before_tls=not starttls)
                server = await start_imap_listener(sock, login, config, mode, self._registry,
                                                   ssl_context=implicit)
            else:
                server = await start_smtp_listener(
                    sock, handler, self._registry,
                    starttls_context=server_context if spec.security is Security.STARTTLS
                    else None,
                    implicit_tls_context=implicit,
                    require_starttls=spec.behaviour is Behaviour.STARTTLS_REQUIRED,
                )
            self._servers.append(server)

    async def _stop_servers(self) -> None:
        for server in self._servers:
            server.close()
        await self._registry.abort_all()
        for server in self._servers:
            await server.wait_closed()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 30) -> _T:
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise SandboxError("the sandbox is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=timeout)

    @staticmethod
    def _require(value: _T | None) -> _T:
        if value is None:
            raise SandboxError("the sandbox is not running; call start() first")
        return value


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Run the loop until `Sandbox.stop` stops it, then close it in this same thread.

    Closing here rather than in `stop` matters in a notebook: the kernel's own
    loop runs in the thread that calls `stop`, and asyncio refuses to run a
    second loop there.
    """
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    error = context.get("exception")
    if isinstance(error, OSError):
        # Clients that drop a connection or refuse a certificate are expected here.
        _log.debug("client connection error: %s", context.get("message"))
        return
    _log.warning("sandbox event loop error: %s", context.get("message"), exc_info=error)
