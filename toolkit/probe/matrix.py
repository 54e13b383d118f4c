"""Probe many endpoints at once, from a script or a notebook cell, with a progress callback.

Threads rather than asyncio: a notebook kernel already runs an event loop, and
each probe is a short blocking dialog with its own deadlines, so a thread pool
needs no event-loop set-up in the caller and still bounds the total time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from itertools import product

from toolkit.probe.core import probe
from toolkit.probe.results import Endpoint, ProbeResult, Timeouts
from toolkit.settings import Protocol, Security

Progress = Callable[[int, int, ProbeResult], None]
# Probes run at once. Mail servers limit connections per client address, so keep this modest.
DEFAULT_WORKERS = 8


def probe_many(
    endpoints: Sequence[Endpoint],
    timeouts: Timeouts | None = None,
    *,
    max_workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> list[ProbeResult]:
    """Probe every endpoint and return the results in the order given.

    `progress(done, total, result)` is called after each probe, from the
    calling thread.
    """
    if not endpoints:
        return []
    results: list[ProbeResult | None] = [None] * len(endpoints)
    workers = max(1, min(max_workers, len(endpoints)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="maildiag-probe") as pool:
        futures = {
            pool.submit(probe, endpoint, timeouts): index
            for index, endpoint in enumerate(endpoints)
        }
        for done, future in enumerate(as_completed(futures), start=1):
            result = future.result()
            results[futures[future]] = result
            if progress is not None:
                progress(done, len(endpoints), result)
    return [result for result in results if result is not None]


def matrix_endpoints(
    hosts: Iterable[str],
    ports: Iterable[int],
    protocol: Protocol,
    securities: Iterable[Security] = (Security.IMPLICIT_TLS, Security.STARTTLS),
    ca_file: str | None = None,
) -> list[Endpoint]:
    """Return every combination of hosts, ports and security modes as endpoints."""
    return [
        Endpoint(host, port, protocol, security, ca_file)
        for host, port, security in product(list(hosts), list(ports), list(securities))
    ]
