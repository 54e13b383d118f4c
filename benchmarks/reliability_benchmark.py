"""Benchmark a port verdict against openssl s_client and testssl.sh, and silent endpoints.

Run: ``.venv/bin/python benchmarks/reliability_benchmark.py [--rounds N] [--timeout S]``

Part 1 gives each of the sandbox's four main ports a verdict (does it speak
implicit TLS or STARTTLS?) three ways, on the same ports in the same run:

- the toolkit: one probe per mode (`probe_many`) and `port_verdict`;
- ``openssl s_client`` started as a whole process once per mode, the way a
  support analyst checks a port by hand (``-connect`` for implicit TLS, and
  ``-starttls imap|smtp``). s_client has no time limit of its own, so a run is
  killed after the toolkit's worst case for that mode: greeting plus handshake;
- with ``--testssl``, ``testssl.sh --protocols`` once per mode (testssl.sh 3.0.8 from
  Debian's package; it takes minutes per port, so it is left out by default).

Every connection goes through a proxy on 127.0.0.1 that counts the connections
it accepts, so each tool's connections per verdict are counted, not estimated.

Part 2 probes N silent endpoints at once (listeners that accept and never send)
in STARTTLS mode with a 1 s greeting limit. It runs them with the default pool of
8 workers and with one worker per endpoint, and prints the cost of probing them
one by one beside both.

The script prints figures and never fails: speed is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial

from toolkit.probe import Endpoint, Timeouts
from toolkit.probe.core import DETECT_TIMEOUT
from toolkit.probe.matrix import DEFAULT_WORKERS, probe_many
from toolkit.sandbox import Sandbox
from toolkit.settings import Protocol, Security
from toolkit.verdicts import port_verdict

PORT_NAMES = ("imap-starttls", "imap-tls", "smtp-starttls", "smtp-tls")


@dataclass
class CountingProxy:
    """A TCP proxy on 127.0.0.1 to one port that counts the connections it accepts."""

    port: int
    accepted: int = 0


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


@contextlib.contextmanager
def counting_proxies(target_ports: dict[str, int]) -> Iterator[dict[str, CountingProxy]]:
    """Serve one counting proxy per target port on its own event loop; yield them by name."""
    loop = asyncio.new_event_loop()
    proxies: dict[str, CountingProxy] = {}
    servers: list[asyncio.Server] = []

    def handler(
        proxy: CountingProxy, target: int
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            proxy.accepted += 1
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    "127.0.0.1", target
                )
            except OSError:
                writer.close()
                return
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

        return handle

    async def start() -> None:
        for name, target in target_ports.items():
            proxy = CountingProxy(0)
            server = await asyncio.start_server(handler(proxy, target), "127.0.0.1", 0)
            proxy.port = server.sockets[0].getsockname()[1]
            proxies[name] = proxy
            servers.append(server)

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield proxies
    finally:

        async def stop() -> None:
            # Connections cut at shutdown raise in the pipes; that is expected here.
            loop.set_exception_handler(lambda _loop, _context: None)
            for server in servers:
                server.close()
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@dataclass(frozen=True)
class Verdict:
    """One tool's verdict on one port: the time it took, its connections and what it found."""

    seconds: float
    connections: int
    found: str


def toolkit_verdict(
    proxy: CountingProxy, protocol: Protocol, ca_file: str, timeouts: Timeouts
) -> Verdict:
    before = proxy.accepted
    endpoints = [
        Endpoint("127.0.0.1", proxy.port, protocol, security, ca_file)
        for security in (Security.IMPLICIT_TLS, Security.STARTTLS)
    ]
    started = time.perf_counter()
    implicit, starttls = probe_many(endpoints, timeouts)
    verdict = port_verdict(implicit, starttls)
    seconds = time.perf_counter() - started
    return Verdict(seconds, proxy.accepted - before, verdict.change or verdict.sentence[:60])


def _run_killed_after(command: list[str], seconds: float) -> bool:
    """Run a command with empty standard input; return whether it exited with 0 in time."""
    try:
        finished = subprocess.run(
            command, input=b"", capture_output=True, timeout=seconds, check=False
        )
    except subprocess.TimeoutExpired:
        return False
    return finished.returncode == 0


def openssl_verdict(
    proxy: CountingProxy, protocol: Protocol, ca_file: str, timeouts: Timeouts
) -> Verdict:
    before = proxy.accepted
    base = ["openssl", "s_client", "-connect", f"127.0.0.1:{proxy.port}", "-brief",
            "-CAfile", ca_file, "-verify_return_error"]
    # The toolkit's worst case per mode on a port that does not respond in that mode: the
    # handshake limit, or the greeting limit plus the short TLS detection after it.
    implicit_limit = timeouts.handshake
    starttls_limit = timeouts.greeting + min(timeouts.handshake, DETECT_TIMEOUT)
    started = time.perf_counter()
    implicit = _run_killed_after(base, implicit_limit)
    starttls = _run_killed_after([*base, "-starttls", protocol.value], starttls_limit)
    seconds = time.perf_counter() - started
    found = {(True, False): "implicit TLS", (False, True): "STARTTLS",
             (True, True): "both", (False, False): "neither"}[(implicit, starttls)]
    return Verdict(seconds, proxy.accepted - before, found)


def testssl_verdict(proxy: CountingProxy, protocol: Protocol, testssl: str) -> Verdict:
    before = proxy.accepted
    base = [testssl, "--quiet", "--color", "0", "--protocols", "--warnings", "off",
            "--connect-timeout", "5", "--openssl-timeout", "5"]
    target = f"127.0.0.1:{proxy.port}"
    started = time.perf_counter()
    implicit = _run_killed_after([*base, target], 300)
    starttls = _run_killed_after([*base, "--starttls", protocol.value, target], 300)
    seconds = time.perf_counter() - started
    found = f"exit codes 0: implicit {implicit}, STARTTLS {starttls}"
    return Verdict(seconds, proxy.accepted - before, found)


def median_verdict(measure: Callable[[], Verdict], rounds: int) -> Verdict:
    results = [measure() for _ in range(rounds)]
    return Verdict(
        statistics.median(result.seconds for result in results),
        round(statistics.median(result.connections for result in results)),
        results[-1].found,
    )


def compare_tools(rounds: int, timeout: float, use_testssl: bool) -> None:
    timeouts = Timeouts(timeout, timeout, timeout, timeout)
    testssl = (shutil.which("testssl") or shutil.which("testssl.sh")) if use_testssl else None
    with Sandbox(port_base=0) as sandbox:
        ca_file = str(sandbox.ca_file)
        targets = {name: sandbox.endpoint(name).port for name in PORT_NAMES}
        with counting_proxies(targets) as proxies:
            print(f"-- port verdicts, medians of {rounds} rounds, stage limit {timeout:g} s")
            print(f"{'port':<14} {'tool':<16} {'time':>10} {'connections':>12}  found")
            for name in PORT_NAMES:
                proxy = proxies[name]
                protocol = sandbox.endpoint(name).protocol
                arguments = (proxy, protocol, ca_file, timeouts)
                rows = [
                    ("toolkit", median_verdict(partial(toolkit_verdict, *arguments), rounds)),
                    ("openssl s_client",
                     median_verdict(partial(openssl_verdict, *arguments), rounds)),
                ]
                if testssl is not None:
                    rows.append(("testssl.sh", testssl_verdict(proxy, protocol, testssl)))
                for tool, verdict in rows:
                    print(f"{name:<14} {tool:<16} {verdict.seconds * 1000:8.1f} ms "
                          f"{verdict.connections:>12}  {verdict.found}")
            if use_testssl and testssl is None:
                print("testssl.sh: not installed (apt-get install testssl.sh), so not measured")


@contextlib.contextmanager
def silent_listeners(count: int) -> Iterator[list[int]]:
    """Listen on `count` loopback ports that complete TCP connections and never send a byte.

    The kernel completes each connection from the listen backlog, so nothing needs to
    accept it. The client sees a server that stays silent after the connection.
    """
    sockets = [socket.create_server(("127.0.0.1", 0), backlog=64) for _ in range(count)]
    try:
        yield [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def silent_matrix(counts: list[int], greeting: float) -> None:
    timeouts = Timeouts(connect=1, greeting=greeting, handshake=1, read=1)
    one = greeting + min(timeouts.handshake, DETECT_TIMEOUT)
    print(f"-- silent endpoints in STARTTLS mode, greeting limit {greeting:g} s "
          f"(one probe's worst case {one:g} s: greeting plus the TLS detection)")
    print(f"{'endpoints':>9} {'8 workers (default)':>20} {'one worker each':>16} "
          f"{'one by one (N x worst case)':>28}")
    for count in counts:
        with silent_listeners(count) as ports:
            endpoints = [Endpoint("127.0.0.1", port, Protocol.IMAP, Security.STARTTLS)
                         for port in ports]
            started = time.perf_counter()
            default = probe_many(endpoints, timeouts)
            default_seconds = time.perf_counter() - started
            started = time.perf_counter()
            wide = probe_many(endpoints, timeouts, max_workers=count)
            wide_seconds = time.perf_counter() - started
        reasons = {result.reason.value for result in (*default, *wide)}
        assert reasons == {"greeting-timeout"}, reasons
        print(f"{count:>9} {default_seconds:>18.2f} s {wide_seconds:>14.2f} s "
              f"{count * one:>26.2f} s")
    print(f"(probe_many's default pool has {DEFAULT_WORKERS} workers)")


def main() -> None:
    """Print the tool comparison and the silent-endpoint matrix."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per median (default 5)")
    parser.add_argument("--timeout", type=float, default=1.0,
                        help="toolkit stage limit in seconds; openssl is killed after the "
                             "toolkit's worst case per mode (default 1)")
    parser.add_argument("--testssl", action="store_true",
                        help="also run testssl.sh --protocols per mode (minutes per port)")
    parser.add_argument("--silent", default="1,5,10,20",
                        help="numbers of silent endpoints, comma-separated (default 1,5,10,20)")
    args = parser.parse_args()
    # The other tools' probes make the sandbox log errors, such as aiosmtpd's when a client
    # drops mid-command. They would hide the figures, so records go nowhere.
    logging.getLogger().addHandler(logging.NullHandler())
    compare_tools(args.rounds, args.timeout, args.testssl)
    print()
    silent_matrix([int(count) for count in args.silent.split(",")], 1.0)


if __name__ == "__main__":
    main()
