"""Starting and stopping exercises: every sandbox stops, with no thread, socket or folder left."""

from __future__ import annotations

import dataclasses
import gc
import os
import socket
import threading
from pathlib import Path

import pytest

from toolkit.sandbox import Sandbox
from toolkit.workshop import exercise as exercise_module
from toolkit.workshop import exercises, start_exercise
from toolkit.workshop.catalogue import SPECS
from toolkit.workshop.model import Scenario


def open_descriptors() -> int:
    """Return the number of open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def refuses_connections(host: str, port: int) -> bool:
    """Return whether nothing listens on the port any more."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return False
    except OSError:
        return True


def test_every_exercise_stops_without_leaks() -> None:
    with start_exercise("oauth-graph-token"):
        pass  # the first start loads modules and fills caches
    gc.collect()
    threads, descriptors = threading.active_count(), open_descriptors()
    for info in exercises():
        exercise = start_exercise(info.key)
        folder = exercise.sandbox.folder
        ports = [(endpoint.host, endpoint.port) for endpoint in exercise.sandbox.endpoints]
        exercise.stop()
        assert not exercise.running, info.key
        assert not Path(folder).exists(), info.key
        assert all(refuses_connections(host, port) for host, port in ports[:4]), info.key
    gc.collect()
    assert threading.active_count() == threads
    assert open_descriptors() == descriptors


def test_stop_twice_is_harmless() -> None:
    exercise = start_exercise("folder-namespace")
    exercise.stop()
    exercise.stop()
    assert not exercise.running


def test_context_manager_stops_after_error() -> None:
    with pytest.raises(RuntimeError, match="learner error"):
        with start_exercise("folder-delimiter") as exercise:
            raise RuntimeError("learner error")
    assert not exercise.running


def test_failed_build_stops_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Sandbox] = []

    def failing_build(sandbox: Sandbox) -> Scenario:
        started.append(sandbox)
        raise ValueError("scenario could not be built")

    spec = SPECS[0]
    broken = dataclasses.replace(spec, build=failing_build)
    monkeypatch.setattr(exercise_module, "SPECS", (broken,))
    with pytest.raises(ValueError, match="could not be built"):
        start_exercise(spec.info.key)
    assert len(started) == 1
    assert not started[0].running


def test_exercises_run_side_by_side() -> None:
    first = start_exercise("folder-letter-case")
    with first, start_exercise("folder-namespace") as second:
        assert first.running
        assert second.running
        assert first.entry.port != second.entry.port


def test_starting_key_again_stops_earlier_run() -> None:
    earlier = start_exercise("folder-letter-case")
    with start_exercise("folder-letter-case") as again:
        assert not earlier.running
        assert again.running
