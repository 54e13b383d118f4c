"""Listeners that misbehave on purpose: a silent server and a busy server.

These two need no IMAP or SMTP protocol at all, so they are small asyncio
protocols rather than pymap or aiosmtpd servers. The listeners with certificate
problems or without STARTTLS are real servers and are built in `server.py`.
"""

from __future__ import annotations

import asyncio
import logging
import socket

from toolkit.sandbox.connections import ConnectionRegistry
from toolkit.settings import Protocol

_log = logging.getLogger(__name__)

# The greeting of a server at its connection limit, sent just before it closes:
# an untagged BYE (RFC 9051 section 7.1.5) or a 421 reply (RFC 5321 section 3.8).
BUSY_GREETINGS = {
    Protocol.IMAP: b"* BYE Too many connections\r\n",
    Protocol.SMTP: b"421 4.7.0 Too many connections\r\n",
}


class SilentProtocol(asyncio.Protocol):
    """Accept a connection, read and ignore everything, and never send a byte."""

    def __init__(self, registry: ConnectionRegistry) -> None:
        self._registry = registry
        self._transport: asyncio.WriteTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            self._transport = transport
            self._registry.add(transport)
        _log.info("silent listener accepted %s", transport.get_extra_info("peername"))

    def data_received(self, data: bytes) -> None:
        pass  # staying silent is the behaviour under test

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._registry.discard(self._transport)


class BusyProtocol(asyncio.Protocol):
    """Send the protocol's busy greeting and close the connection."""

    def __init__(self, greeting: bytes) -> None:
        self._greeting = greeting

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _log.info("busy listener rejects %s", transport.get_extra_info("peername"))
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(self._greeting)
        # close() sends the buffered greeting first.
        transport.close()


async def start_silent_listener(sock: socket.socket,
                                registry: ConnectionRegistry) -> asyncio.AbstractServer:
    """Serve a listener that accepts connections and never sends a reply."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: SilentProtocol(registry), sock=sock)


async def start_busy_listener(sock: socket.socket, protocol: Protocol) -> asyncio.AbstractServer:
    """Serve a listener that rejects every connection with the protocol's busy greeting."""
    loop = asyncio.get_running_loop()
    greeting = BUSY_GREETINGS[protocol]
    return await loop.create_server(lambda: BusyProtocol(greeting), sock=sock)
