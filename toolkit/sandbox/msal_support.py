"""Options that keep msal on loopback when it talks to the sandbox authority.

Left to its defaults, msal 1.39 contacts Microsoft hosts even when its authority is a
local server. These options stop each of those calls, as read in msal's
``authority.py``, ``application.py`` and ``region.py``. The tests in
``tests/sandbox/test_authority.py`` record every connect and name lookup to check that
nothing leaves loopback with them.

- ``authority=<loopback URL>``: without it msal falls back to Microsoft's public cloud.
- ``instance_discovery=False`` and ``validate_authority=False``: otherwise the
  constructor and `acquire_token_silent` ask Microsoft's instance discovery endpoint
  about the authority.
- ``azure_region=False`` (ConfidentialClientApplication only): otherwise msal may query
  the Azure instance metadata service at 169.254.169.254 for a region and send token
  requests to a regional host, for example when ``MSAL_FORCE_REGION`` is set.
- ``http_client=msal_http_client(ca_file)``: a `requests.Session` that trusts the
  sandbox CA and raises `NonLoopbackRequestError` before any request leaves loopback.

`loopback_msal_options` returns all of them as keyword arguments::

    app = msal.PublicClientApplication(client_id, **loopback_msal_options(url, session))
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

import requests
from requests import PreparedRequest, Response


class NonLoopbackRequestError(RuntimeError):
    """A request to a host other than a loopback address, stopped before it was sent."""


class LoopbackSession(requests.Session):
    """A requests session that only sends to loopback hosts and trusts one CA file.

    ``trust_env`` is off, because requests lets ``REQUESTS_CA_BUNDLE`` and
    ``CURL_CA_BUNDLE`` override ``verify`` and lets ``*_PROXY`` variables route loopback
    calls through a proxy.
    """

    def __init__(self, ca_file: str | os.PathLike[str]) -> None:
        super().__init__()
        path = os.fspath(ca_file)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"CA certificate file not found: {path}")
        self.trust_env = False
        self.verify = path

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        """Send `request` if its host is a loopback address, else raise NonLoopbackRequestError.

        Redirects pass through here too, so a redirect cannot lead off loopback.
        """
        require_loopback_url(request.url or "")
        return super().send(request, **kwargs)


def msal_http_client(ca_file: str | os.PathLike[str]) -> LoopbackSession:
    """Return an ``http_client`` for msal that trusts `ca_file` and stays on loopback.

    Close it when done, as with any requests session.
    """
    return LoopbackSession(ca_file)


def loopback_msal_options(
    authority_url: str, http_client: requests.Session, *, confidential: bool = False
) -> dict[str, Any]:
    """Return the msal application keyword arguments that keep it on `authority_url`.

    Pass ``confidential=True`` for a ConfidentialClientApplication, which also needs
    ``azure_region=False``. Raises NonLoopbackRequestError when `authority_url` is not a
    loopback URL.
    """
    require_loopback_url(authority_url)
    options: dict[str, Any] = {
        "authority": authority_url,
        "instance_discovery": False,
        "validate_authority": False,
        "http_client": http_client,
    }
    if confidential:
        options["azure_region"] = False
    return options


def require_loopback_url(url: str) -> None:
    """Raise NonLoopbackRequestError unless `url`'s host is ``localhost`` or a loopback IP address.

    Only the URL text is inspected, so no DNS lookup is made.
    """
    host = urlsplit(url).hostname or ""
    if host == "localhost":  # RFC 6761 section 6.3 reserves it for loopback
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass  # a host name, which would need a DNS lookup
    raise NonLoopbackRequestError(
        f"rejected a request to {host or url!r}, because the sandbox msal client only "
        "sends requests to loopback addresses. Point msal at the sandbox authority_url and pass "
        "instance_discovery=False, validate_authority=False (and azure_region=False "
        "for a confidential client)."
    )
