"""The HTTPS transport of the local OAuth2 authority and its Microsoft-shaped replies.

`toolkit.sandbox.authority.LocalAuthority` decides what each request gets. This module
contains the transport of requests and replies over loopback HTTPS: the threading server
that does the TLS handshake per connection, the request handler that reads the form and
sends the reply, the HTML of the device-code approval page, and error bodies in the
shape of Microsoft's token endpoint (``error_codes``, ``trace_id``, AADSTS codes), which
msal parses.

The authority is hand-written because no library serves the Microsoft identity platform
v2.0 endpoints on loopback in the shapes msal depends on. The docstring of
`toolkit.sandbox.authority` gives the full reason. The names here are internal to that
module and to `toolkit.sandbox.oauth_claims`.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import logging
import socket
import socketserver
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from toolkit.sandbox.authority import DeviceCodeRequest

# Log as the authority does, so that one logger setting covers the whole authority.
logger = logging.getLogger("toolkit.sandbox.authority")

_MAX_BODY_BYTES: Final = 64 * 1024
_CONNECTION_TIMEOUT_SECONDS: Final = 10.0


@dataclass(frozen=True)
class Reply:
    """An HTTP reply: status code, Content-Type and body."""

    status: int
    content_type: str
    body: bytes


# The authority's request entry point: (method, path, form, Authorization header) -> reply.
RequestRouter = Callable[[str, str, Mapping[str, str], str | None], Reply]


class ProtocolError(Exception):
    """An OAuth2 error reply in Microsoft's shape (RFC 6749 section 5.2 plus ``error_codes``)."""

    def __init__(self, error: str, description: str, *, code: int | None, status: int = 400):
        super().__init__(f"{error}: AADSTS{code}" if code else error)
        self.error = error
        self.description = description
        self.code = code
        self.status = status


def error_body(error: ProtocolError) -> dict[str, Any]:
    """Build an error reply in the shape Microsoft's token endpoint uses."""
    trace_id = str(uuid.uuid4())
    correlation_id = str(uuid.uuid4())
    timestamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    prefix = f"AADSTS{error.code}: " if error.code else ""
    return {
        "error": error.error,
        "error_description": (
            f"{prefix}{error.description}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {timestamp}"
        ),
        "error_codes": [error.code] if error.code else [],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
    }


def json_reply(status: int, payload: Mapping[str, Any]) -> Reply:
    return Reply(status, "application/json; charset=utf-8", json.dumps(payload).encode())


def basic_credentials(authorization: str | None) -> tuple[str | None, str | None]:
    """Read client_secret_basic credentials (RFC 6749 section 2.3.1): form-encoded id and secret."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        return None, None
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def render_device_login(
    tenant_domain: str,
    usernames: Iterable[str],
    requests: Iterable[DeviceCodeRequest],
    message: str,
) -> str:
    """Render the verification page, where a trainer approves or declines a device code."""
    escape = html.escape
    rows = []
    for request in requests:
        state = request.approved_by or ("declined" if request.declined else "waiting")
        rows.append(
            f"<tr><td><code>{escape(request.user_code)}</code></td>"
            f"<td>{escape(request.client_id)}</td>"
            f"<td>{escape(' '.join(request.scopes))}</td><td>{escape(state)}</td></tr>"
        )
    options = "".join(f"<option>{escape(name)}</option>" for name in usernames)
    notice = f"<p><strong>{escape(message)}</strong></p>" if message else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Sandbox sign-in, {escape(tenant_domain)}</title></head><body>"
        f"<h1>Sandbox sign-in for {escape(tenant_domain)}</h1>{notice}"
        "<form method='post' action='/devicelogin'>"
        "<label>Code <input name='user_code' autocomplete='off' required></label> "
        f"<label>User <select name='username'>{options}</select></label> "
        "<button name='action' value='approve'>Approve</button> "
        "<button name='action' value='decline'>Decline</button></form>"
        "<h2>Waiting sign-ins</h2><table border='1'>"
        "<tr><th>Code</th><th>Client</th><th>Scopes</th><th>State</th></tr>"
        f"{''.join(rows)}</table></body></html>"
    )


class HTTPSServer(ThreadingHTTPServer):
    """A threading HTTP server that does the TLS handshake in each request thread.

    Wrapping the listening socket instead would run handshakes in the accept loop, where
    one stalled client would block every other one.
    """

    daemon_threads = False  # server_close() joins the request threads
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        route_request: RequestRouter,
        ssl_context: ssl.SSLContext,
        family: socket.AddressFamily,
    ) -> None:
        self.address_family = family
        self.route_request = route_request
        self.ssl_context = ssl_context
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that a
        # loopback-only server does not need.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(_CONNECTION_TIMEOUT_SECONDS)
        try:
            connection = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError as error:
            logger.debug("TLS handshake with %s failed: %s", client_address[0], error)
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            _RequestHandler(connection, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def close_open_connections(self) -> None:
        """Shut down connections still open, so that their request threads end at once."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the peer or by its request thread

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver would print these to stderr, but a dropped client is routine here.
        logger.debug("Request from %s failed", client_address[0], exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    """Pass each request to the authority and send its reply, one request per connection."""

    server: HTTPSServer
    protocol_version = "HTTP/1.0"
    server_version = "SandboxAuthority/1.0"
    sys_version = ""
    timeout = _CONNECTION_TIMEOUT_SECONDS

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        # Only the method and path are logged: bodies carry secrets, codes and tokens.
        logger.debug("%s %s", method, path)
        form: dict[str, str] = {}
        if method == "POST":
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= _MAX_BODY_BYTES:
                logger.info("Rejected %s %s: invalid Content-Length", method, path)
                description = f"Content-Length must be 0 to {_MAX_BODY_BYTES} bytes."
                error = {"error": "invalid_request", "error_description": description}
                self._send(json_reply(400 if length < 0 else 413, error))
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            form = {
                key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()
            }
        try:
            reply = self.server.route_request(method, path, form, self.headers.get("Authorization"))
        except Exception:
            logger.exception("Local authority failed to handle %s %s", method, path)
            reply = json_reply(
                500, {"error": "server_error", "error_description": "internal error"}
            )
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        # RFC 6749 section 5.1: token responses must not be cached.
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        self.end_headers()
        self.wfile.write(reply.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs the path without its query string

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("HTTP: " + format, *args)
