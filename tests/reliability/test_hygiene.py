"""Repeated probes, logins and folder listings leave no socket open, here and in a kernel.

Open sockets are counted from /proc/self/fd. The sandbox runs in the same
process, so its listeners are in the count before and after. Its side of each
client connection closes a moment after the client's side. The count after the
runs is therefore taken once it has settled, within a few seconds.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.reliability.measure import FAST
from toolkit.folders import list_folders
from toolkit.login.check import check_login
from toolkit.probe import Endpoint, probe
from toolkit.sandbox import Sandbox
from toolkit.settings import ServerSettings
from toolkit.settings_file import resolve_secrets

RUNS = 100
# nbformat has no type hints; these names give its calls a type.
new_notebook: Callable[[], Any] = nbformat.v4.new_notebook
code_cell: Callable[[str], Any] = nbformat.v4.new_code_cell
SETTLE_SECONDS = 5.0


def open_sockets() -> int:
    """Count this process's open file descriptors that are sockets."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:
            # The descriptor that listed the folder is gone by now.
            continue
    return count


def settled_sockets(target: int | None = None) -> int:
    """Return the socket count once it is at most `target`, or after SETTLE_SECONDS.

    Without `target`, return it once it has not changed for 0.2 s.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    count = open_sockets()
    while time.monotonic() < deadline:
        time.sleep(0.2 if target is None else 0.05)
        previous, count = count, open_sockets()
        if (target is None and count == previous) or (target is not None and count <= target):
            break
    return count


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port_base=0) as running:
        yield running


def entry(sandbox: Sandbox, name: str) -> ServerSettings:
    found = next(item for item in sandbox.settings() if item.name == name)
    return resolve_secrets(found, sandbox.environment())


def endpoints(sandbox: Sandbox) -> list[Endpoint]:
    """Endpoints whose probes end in different ways: OK in both modes, busy, bad certificate."""
    ca_file = str(sandbox.ca_file)
    chosen = ("imap-starttls", "smtp-tls", "imap-busy", "imap-expired-certificate", "smtp-starttls")
    found = [sandbox.endpoint(name) for name in chosen]
    return [Endpoint(e.host, e.port, e.protocol, e.security, ca_file) for e in found]


def test_probes_close_sockets(sandbox: Sandbox) -> None:
    targets = endpoints(sandbox)
    probe(targets[0], FAST)
    before = settled_sockets()
    reasons = {probe(targets[number % len(targets)], FAST).reason for number in range(RUNS)}
    assert len(reasons) >= 3
    assert settled_sockets(before) == before


def test_logins_close_sockets(sandbox: Sandbox) -> None:
    entries = [
        entry(sandbox, "dana-dovecot-imap"),
        entry(sandbox, "dana-dovecot-smtp"),
        entry(sandbox, "imap-expired-certificate"),
        entry(sandbox, "smtp-busy"),
        entry(sandbox, "chris-courier-imap").with_secrets(password="wrong password"),
    ]
    check_login(entries[0], timeouts=FAST)
    before = settled_sockets()
    outcomes = [check_login(entries[n % len(entries)], timeouts=FAST).result for n in range(RUNS)]
    assert {result.success for result in outcomes} == {True, False}
    assert settled_sockets(before) == before


def test_folder_listings_close_sockets(sandbox: Sandbox) -> None:
    entries = [entry(sandbox, "chris-courier-imap"), entry(sandbox, "imap-expired-certificate")]
    list_folders(entries[0], FAST)
    before = settled_sockets()
    listings = [list_folders(entries[n % 2], FAST) for n in range(RUNS // 2)]
    assert {listing.ok for listing in listings} == {True, False}
    assert settled_sockets(before) == before


SETUP_CELL = """\
import json, os, time
from toolkit.login.check import check_login
from toolkit.probe import Endpoint, Timeouts, probe
from toolkit.sandbox import Sandbox
from toolkit.settings_file import resolve_secrets

def open_sockets():
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
        except OSError:
            pass
    return count

sandbox = Sandbox(port_base=0)
sandbox.start()
imap = sandbox.endpoint("imap-starttls")
target = Endpoint(imap.host, imap.port, imap.protocol, imap.security, str(sandbox.ca_file))
dana = next(s for s in sandbox.settings() if s.name == "dana-dovecot-imap")
dana = resolve_secrets(dana, sandbox.environment())
fast = Timeouts(connect=1, greeting=1, handshake=1, read=1)
outcomes = []
probe(target, fast), check_login(dana, timeouts=fast)
time.sleep(0.5)
before = open_sockets()
"""
# The cell a user runs again and again.
REPEATED_CELL = """\
outcomes.append((probe(target, fast).reason.value, check_login(dana, timeouts=fast).result.success))
"""
COUNT_CELL = """\
deadline = time.monotonic() + 5
after = open_sockets()
while after > before and time.monotonic() < deadline:
    time.sleep(0.05)
    after = open_sockets()
sandbox.stop()
print(json.dumps({"before": before, "after": after, "outcomes": sorted(set(map(str, outcomes))),
                  "runs": len(outcomes)}))
"""


def test_kernel_cell_rerun_closes_sockets() -> None:
    notebook = new_notebook()
    notebook.cells = [code_cell(source)
                      for source in (SETUP_CELL, REPEATED_CELL, COUNT_CELL)]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3")
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
        for _ in range(RUNS):
            client.execute_cell(notebook.cells[1], 1)
        client.execute_cell(notebook.cells[2], 2)
    report = json.loads(notebook.cells[2].outputs[0]["text"])
    assert report["runs"] == RUNS
    assert report["outcomes"] == ["('ok', True)"]
    assert report["after"] == report["before"]
