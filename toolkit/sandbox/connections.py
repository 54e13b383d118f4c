"""Bookkeeping of open client connections, so that stopping the sandbox closes every socket.

`asyncio.Server.close` stops accepting but leaves accepted connections open
(Python 3.11), and neither pymap nor aiosmtpd keeps a list of them. Every
listener of the sandbox therefore registers each accepted transport here, and
`abort_all` closes the sockets that are still open when the sandbox stops.
"""

from __future__ import annotations

import asyncio
import logging

_log = logging.getLogger(__name__)


class ConnectionRegistry:
    """The transports of all open client connections of one sandbox. Used on its event loop only."""

    def __init__(self) -> None:
        self._transports: set[asyncio.WriteTransport] = set()

    def __len__(self) -> int:
        return len(self._transports)

    def add(self, transport: asyncio.WriteTransport) -> None:
        """Record a newly accepted connection."""
        self._transports.add(transport)

    def discard(self, transport: asyncio.WriteTransport) -> None:
        """Forget a connection that has closed."""
        self._transports.discard(transport)

    async def abort_all(self, timeout: float = 1.0) -> None:
        """Abort every open connection and wait up to `timeout` seconds until all have closed.

        Each server removes its connection when its handler has finished, so an
        empty registry means that no handler still uses a socket.
        """
        if self._transports:
            _log.info("closing %d open client connections", len(self._transports))
        for transport in list(self._transports):
            transport.abort()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._transports and loop.time() < deadline:
            await asyncio.sleep(0.005)
        if self._transports:
            _log.warning("%d client connections did not close within %.1f s",
                         len(self._transports), timeout)
            self._transports.clear()
