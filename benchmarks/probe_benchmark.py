"""Benchmark the probe against a bare Python handshake, on the same sandbox port in one run.

Run: ``.venv/bin/python benchmarks/probe_benchmark.py [--rounds N]``

It prints two ratios, each measured against a baseline taken in the same run:

1. one probe of the sandbox's implicit-TLS IMAP port, against a bare Python
   connect + TLS handshake (with CA verification) + greeting line; target: at most 1.2;
2. a matrix of 24 probes of the same port run at once, against one probe;
   target: at most 2.

Both are measured twice: straight on loopback, where only CPU time counts, and
through a proxy that delays each direction by 20 ms (a 40 ms round trip, like a
server in another region; see latency_proxy.py). Medians over several rounds,
because shared machines are noisy. This prints figures and never fails: speed
targets are not pass/fail tests.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import time
from collections.abc import Callable

from latency_proxy import delayed_port

from toolkit.probe import Endpoint, Timeouts, probe
from toolkit.probe.matrix import probe_many
from toolkit.sandbox import Sandbox
from toolkit.settings import Protocol, Security


def median_seconds(action: Callable[[], object], rounds: int) -> float:
    """Run `action` `rounds` times after one warm-up and return the median duration."""
    action()
    durations = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def measure(sandbox: Sandbox, ports: dict[str, int], rounds: int, label: str) -> None:
    """Measure the bare handshake, one probe and the matrix against the given ports."""
    context = sandbox.client_context()
    timeouts = Timeouts()
    imap_port = ports["imap-tls"]
    endpoint = Endpoint(
        "127.0.0.1", imap_port, Protocol.IMAP, Security.IMPLICIT_TLS, str(sandbox.ca_file)
    )

    def bare() -> None:
        with (
            socket.create_connection(("127.0.0.1", imap_port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.makefile("rb").readline()

    def one_probe() -> None:
        probe(endpoint, timeouts)

    # 24 probes of the same kind as the single probe, all at once, so the ratio shows
    # what running them side by side costs rather than the mix of modes.
    matrix = [endpoint] * 24

    def whole_matrix() -> None:
        probe_many(matrix, timeouts, max_workers=len(matrix))

    bare_seconds = median_seconds(bare, rounds)
    probe_seconds = median_seconds(one_probe, rounds)
    matrix_seconds = median_seconds(whole_matrix, max(3, rounds // 5))
    print(f"-- {label}")
    print(f"bare connect + TLS handshake + greeting: {bare_seconds * 1000:8.2f} ms (median)")
    print(f"one probe (implicit TLS, IMAP):          {probe_seconds * 1000:8.2f} ms (median)")
    print(f"{len(matrix)} probes at once:               {matrix_seconds * 1000:8.2f} ms (median)")
    print(f"ratio probe / bare:   {probe_seconds / bare_seconds:5.2f}  (target at most 1.2)")
    print(f"ratio matrix / probe: {matrix_seconds / probe_seconds:5.2f}  (target at most 2)")


def main() -> None:
    """Start a sandbox, measure on loopback and through the delaying proxy, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds per figure")
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=20.0,
        help="one-way delay of the proxy in milliseconds (default 20)",
    )
    args = parser.parse_args()

    names = ("imap-tls",)
    with Sandbox(port_base=0) as sandbox:
        direct = {name: sandbox.endpoint(name).port for name in names}
        measure(sandbox, direct, args.rounds, "loopback, no added delay")
        with contextlib.ExitStack() as stack:
            delayed = {
                name: stack.enter_context(delayed_port(port, args.delay_ms / 1000))
                for name, port in direct.items()
            }
            measure(
                sandbox,
                delayed,
                max(5, args.rounds // 3),
                f"through a proxy adding {args.delay_ms:g} ms each way",
            )


if __name__ == "__main__":
    main()
