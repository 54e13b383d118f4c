"""Starting and stopping the sandbox: ports, threads, sockets and the temporary folder."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import threading
import time

import pytest

from toolkit.sandbox import Sandbox, SandboxError
from toolkit.sandbox.endpoints import ENDPOINT_SPECS, MAX_OFFSET


def open_descriptors() -> int:
    """Return the number of open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def free_port_base() -> int:
    """Return a port base whose every sandbox port and the authority's port is free now."""
    for base in range(30000, 50000, 1000):
        ports = [base + spec.offset for spec in ENDPOINT_SPECS] + [base + 443]
        if all(_port_is_free(port) for port in ports):
            return base
    pytest.skip("no free block of ports between 30000 and 57000")


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_start_and_stop_twenty_times_leaks_nothing() -> None:
    with Sandbox(port_base=0):
        pass  # the first start loads modules and fills caches
    gc.collect()
    threads, descriptors = threading.active_count(), open_descriptors()
    for _ in range(20):
        with Sandbox(port_base=0) as sandbox:
            with socket.create_connection((sandbox.host, sandbox.endpoint("imap-silent").port)):
                pass
        assert not sandbox.running
    gc.collect()
    assert threading.active_count() == threads
    assert open_descriptors() == descriptors


def test_stop_closes_open_client_connections() -> None:
    sandbox = Sandbox(port_base=0)
    sandbox.start()
    silent = socket.create_connection((sandbox.host, sandbox.endpoint("smtp-silent").port))
    imap = socket.create_connection((sandbox.host, sandbox.endpoint("imap-no-starttls").port))
    try:
        imap_reader = imap.makefile("rb")
        assert imap_reader.readline().startswith(b"* OK")
        sandbox.stop()
        silent.settimeout(2)
        imap.settimeout(2)
        assert silent.recv(1) == b""
        assert imap_reader.read() == b""
        imap_reader.close()
    finally:
        silent.close()
        imap.close()


def test_start_time_is_short() -> None:
    with Sandbox(port_base=0) as sandbox:
        assert sandbox.start_seconds is not None
        assert sandbox.start_seconds < 2.0


def test_fixed_port_base_uses_documented_offsets() -> None:
    base = free_port_base()
    with Sandbox(port_base=base) as sandbox:
        ports = {e.name: e.port for e in sandbox.endpoints}
        assert sandbox.authority is not None
        authority_port = sandbox.authority.port
    assert ports["imap-starttls"] == base + 143
    assert ports["imap-tls"] == base + 993
    assert ports["smtp-starttls"] == base + 587
    assert ports["smtp-tls"] == base + 465
    assert ports["imap-busy"] == base + 6143
    assert ports["smtp-expired-certificate"] == base + 3465
    assert authority_port == base + 443


def test_port_in_use_names_the_endpoint() -> None:
    base = free_port_base()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", base + 587))
        blocker.listen()
        sandbox = Sandbox(port_base=base)
        with pytest.raises(SandboxError, match=f"port {base + 587} for smtp-starttls"):
            sandbox.start()
        assert not sandbox.running
    # Everything bound before the failure was released again.
    with Sandbox(port_base=base):
        pass


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "localhost", "mail.example.test"])  # noqa: S104
def test_non_loopback_host_is_rejected(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        Sandbox(port_base=0, host=host)


@pytest.mark.parametrize("base", [-1, 65535 - MAX_OFFSET + 1, 70000])
def test_invalid_port_base_is_rejected(base: int) -> None:
    with pytest.raises(ValueError, match="port_base"):
        Sandbox(port_base=base)


def test_temporary_folder_removed_on_stop() -> None:
    with Sandbox(port_base=0) as sandbox:
        folder = sandbox.folder
        assert sandbox.ca_file.parent == folder
        assert sandbox.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert not folder.exists()
    with pytest.raises(SandboxError, match="not running"):
        _ = sandbox.ca_file


def test_start_inside_a_running_event_loop() -> None:
    async def in_loop() -> int:
        # Like a notebook cell: an event loop is already running in this thread.
        with Sandbox(port_base=0) as sandbox:
            loop = asyncio.get_running_loop()
            reader, writer = await asyncio.open_connection(
                sandbox.host, sandbox.endpoint("imap-no-starttls").port)
            greeting = await reader.readline()
            writer.close()
            await writer.wait_closed()
            assert loop.is_running()
            return len(greeting)

    assert asyncio.run(in_loop()) > 0


def test_repr_and_stop_are_safe_when_stopped() -> None:
    sandbox = Sandbox(port_base=0)
    assert "stopped" in repr(sandbox)
    sandbox.stop()
    started = time.perf_counter()
    sandbox.start()
    sandbox.start()  # a second start does nothing
    assert "running" in repr(sandbox)
    sandbox.stop()
    sandbox.stop()
    assert time.perf_counter() - started < 5
