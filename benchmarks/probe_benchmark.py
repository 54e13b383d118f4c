"""Benchmark the probe against a bare Python handshake, on the same sandbox port in one run.

Run: ``.venv/bin/python benchmarks/probe_benchmark.py [--rounds N]``

It prints two ratios, each measured against a baseline taken in the same run:

1. one probe of the sandbox's implicit-TLS IMAP port, against a bare Python
   connect + TLS handshake (with CA verification) + greeting line; target: at most 1.2;
2. a matrix of 24 endpoints, against one probe; target: at most 2.

Medians over several rounds, because shared machines are noisy. This prints
figures and never fails: speed targets are not pass/fail tests.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from collections.abc import Callable

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


def main() -> None:
    """Start a sandbox, measure, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="measured rounds per figure")
    args = parser.parse_args()

    with Sandbox(port_base=0) as sandbox:
        imap_tls = sandbox.endpoint("imap-tls")
        context = sandbox.client_context()
        endpoint = Endpoint(imap_tls.host, imap_tls.port, Protocol.IMAP, Security.IMPLICIT_TLS,
                            str(sandbox.ca_file))
        timeouts = Timeouts()

        def bare() -> None:
            with socket.create_connection((imap_tls.host, imap_tls.port), timeout=5) as raw, \
                    context.wrap_socket(raw, server_hostname=imap_tls.host) as tls:
                tls.makefile("rb").readline()

        def one_probe() -> None:
            probe(endpoint, timeouts)

        # 24 endpoints: the four normal listeners, each in its own mode, six times over,
        # so every probe runs to the end as the single probe does.
        names = ("imap-tls", "imap-starttls", "smtp-tls", "smtp-starttls")
        matrix = []
        for _ in range(6):
            for name in names:
                listener = sandbox.endpoint(name)
                matrix.append(Endpoint(listener.host, listener.port, listener.protocol,
                                       listener.security, str(sandbox.ca_file)))

        def whole_matrix() -> None:
            probe_many(matrix, timeouts, max_workers=len(matrix))

        bare_seconds = median_seconds(bare, args.rounds)
        probe_seconds = median_seconds(one_probe, args.rounds)
        matrix_seconds = median_seconds(whole_matrix, max(3, args.rounds // 5))

    print(f"bare connect + TLS handshake + greeting: {bare_seconds * 1000:8.2f} ms (median)")
    print(f"one probe (implicit TLS, IMAP):          {probe_seconds * 1000:8.2f} ms (median)")
    print(f"matrix of {len(matrix)} endpoints:              {matrix_seconds * 1000:8.2f} ms "
          "(median)")
    print(f"ratio probe / bare:   {probe_seconds / bare_seconds:5.2f}  (target at most 1.2)")
    print(f"ratio matrix / probe: {matrix_seconds / probe_seconds:5.2f}  (target at most 2)")


if __name__ == "__main__":
    main()
