"""A TCP proxy on 127.0.0.1 that delays every chunk, to imitate a wide-area link in benchmarks.

On loopback a round trip costs microseconds, so a benchmark there measures only
CPU time. Real mail servers are tens of milliseconds away. This proxy adds a
fixed one-way delay to the data in each direction, keeping the order of chunks.
The TCP handshake itself is not delayed, so a connection costs no extra round
trip here; the figures therefore slightly favour anything that opens many
connections. Kernel tools such as netem would be more faithful, but they are
not available on every machine that runs the benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def read() -> None:
        while data := await reader.read(65536):
            await queue.put((time.monotonic() + delay, data))
        await queue.put((time.monotonic() + delay, b""))

    async def write() -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not data:
                with contextlib.suppress(OSError):
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    with contextlib.suppress(OSError, ConnectionError):
        await asyncio.gather(read(), write())


@contextlib.contextmanager
def delayed_port(target_port: int, one_way_delay: float) -> Iterator[int]:
    """Serve a proxy to 127.0.0.1:`target_port` with the given delay; yield the proxy's port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                _pump(client_reader, server_writer, one_way_delay),
                _pump(server_reader, client_writer, one_way_delay),
            )
        except asyncio.CancelledError:
            # The proxy is shutting down; the connection ends with it.
            pass
        finally:
            for writer in (client_writer, server_writer):
                writer.close()

    async def start() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        holder["server"] = server
        holder["port"] = server.sockets[0].getsockname()[1]
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    ready.wait(10)
    try:
        yield int(str(holder["port"]))
    finally:

        async def shutdown() -> None:
            # Connections cut at shutdown raise in asyncio's stream callbacks; they are
            # expected here and would only clutter the benchmark's output.
            loop.set_exception_handler(lambda _loop, _context: None)
            server = holder["server"]
            assert isinstance(server, asyncio.Server)
            server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
