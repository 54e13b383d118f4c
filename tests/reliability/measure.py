"""Time and traced memory of one call, and the time budget of a probe's stages."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from toolkit.probe import Timeouts

T = TypeVar("T")

# The short per-stage limits of the reliability suite, so that timeouts cost 1 s each.
FAST = Timeouts(connect=1, greeting=1, handshake=1, read=1)
# Peak traced memory allowed for one probe, login or listing against a hostile server.
MEMORY_LIMIT = 10 * 1024 * 1024


@dataclass(frozen=True)
class Measured(Generic[T]):
    """What a call returned, how long it took and the peak memory traced while it ran."""

    value: T
    seconds: float
    peak_bytes: int


def measured(call: Callable[[], T]) -> Measured[T]:
    """Run `call` under tracemalloc and return its value, wall time and peak traced memory.

    tracemalloc traces every thread, so a server thread in the same process counts
    too. The hostile servers therefore build their payloads before the call.
    """
    tracemalloc.start()
    try:
        started = time.monotonic()
        value = call()
        seconds = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Measured(value, seconds, peak)


def budget(timeouts: Timeouts, *stages: str) -> float:
    """Return the sum of the named stages' time limits plus 1 s of slack."""
    return float(sum(getattr(timeouts, stage) for stage in stages)) + 1.0
