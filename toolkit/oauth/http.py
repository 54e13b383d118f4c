"""The HTTP session msal uses: one origin only, TLS verified, no settings from the environment.

msal sends its requests through the ``http_client`` it is given. This session
sends only to the origin (scheme, host and port) of the configured authority. It
raises `OffAuthorityRequestError` before any other request leaves the machine, so
a redirect or an overlooked msal default (instance discovery, region detection)
cannot reach another host.

``trust_env`` is off, because requests otherwise lets ``REQUESTS_CA_BUNDLE`` and
``CURL_CA_BUNDLE`` replace the trusted CAs and ``*_PROXY`` variables route the
requests through a proxy. Certificates are verified against the system trust
store plus an optional CA file, through an `ssl.SSLContext` given to urllib3.
"""

from __future__ import annotations

import os
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter


class OffAuthorityRequestError(RuntimeError):
    """A request to another origin than the authority's, stopped before it was sent."""


def origin(url: str) -> tuple[str, str, int]:
    """Return the scheme, lower-case host and port of a URL, with the scheme's default port."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def tls_context(ca_file: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """Build a client context that trusts the system store and, when given, a CA file.

    Raises OSError or ssl.SSLError when the CA file cannot be read as PEM.
    """
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=os.fspath(ca_file))
    return context


class _ContextAdapter(HTTPAdapter):
    """An adapter whose connections use one SSLContext for certificate verification."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would load certifi's bundle into the context here. The context already
        # contains the system store and the CA file, so only verification is required.
        super().cert_verify(conn, url, verify, cert)
        conn.ca_certs = None
        conn.ca_cert_dir = None


class AuthoritySession(requests.Session):
    """A requests session that talks only to one authority's origin, over verified TLS."""

    def __init__(self, authority_url: str, ca_file: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        scheme, host, port = origin(authority_url)
        if scheme != "https" or not host:
            raise ValueError(f"the authority must be an https:// URL, not {authority_url!r}")
        self.allowed_origin = (scheme, host, port)
        self.trust_env = False
        self.verify = True
        self.mount("https://", _ContextAdapter(tls_context(ca_file)))

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        """Send `request` if it goes to the authority's origin; raise otherwise.

        Redirects pass through here too, so a redirect cannot lead to another host.
        """
        target = origin(request.url or "")
        if target != self.allowed_origin:
            scheme, host, port = target
            raise OffAuthorityRequestError(
                f"stopped a request to {scheme}://{host}:{port}, because the msal client sends "
                f"requests only to its authority {self.allowed_origin[1]}:{self.allowed_origin[2]}"
            )
        return super().send(request, **kwargs)
