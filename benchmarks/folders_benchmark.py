"""Benchmark listing, drawing and checking 10,000 folders against imapclient's LIST alone.

Run: ``.venv/bin/python benchmarks/folders_benchmark.py [--rounds N] [--folders N]``

A sandbox user gets `--folders` extra folders (default 10,000: 100 parents with
100 sub-folders each, Dovecot-like with '/'). On that account it measures, in
the same run:

- baseline: a bare imapclient session, connect + login + ``list_folders()`` + logout;
- toolkit: `list_folders` (connect, login, CAPABILITY, NAMESPACE, LIST, logout),
  then the tree, its text drawing (200 lines), the lazy widget's first page,
  and the storage-folder check of an existing and a misspelt name.

It prints the medians and their ratio (target: at most 1.5). Medians over
several rounds, because shared machines are noisy. This prints figures and
never fails: speed targets are not pass/fail tests.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from imapclient import IMAPClient

from toolkit.folders import FolderTree, check_storage_folder, list_folders, render_text
from toolkit.folders_view import FolderTreeWidget
from toolkit.sandbox import Sandbox, tenant_from_dict
from toolkit.settings_file import resolve_secrets

USER = "bench@dovecot.sandbox.test"


def many_folders(count: int) -> list[str]:
    """Return `count` folder names: parents ``Team 000`` to ``Team 099``, each with sub-folders."""
    per_parent = 100
    return [f"Team {index // per_parent:03d}/Case {index:05d}" for index in range(count)]


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
    """Start a sandbox with one large account, measure, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per figure")
    parser.add_argument("--folders", type=int, default=10_000, help="extra folders to create")
    args = parser.parse_args()

    tenant = tenant_from_dict({"users": [{
        "address": USER, "personality": "dovecot", "folders": many_folders(args.folders),
    }]})
    with Sandbox(port_base=0, tenant=tenant, authority=False) as sandbox:
        entry = resolve_secrets(
            next(s for s in sandbox.settings() if s.user == USER and s.protocol == "imap"),
            sandbox.environment(),
        )
        assert entry.password is not None
        password = entry.password.reveal()
        context = sandbox.client_context()
        listed: list[int] = []

        def bare() -> None:
            with IMAPClient(entry.host, entry.port, ssl=True, ssl_context=context,
                            timeout=30) as client:
                client.login(entry.user, password)
                listed.append(len(client.list_folders()))

        stages: dict[str, list[float]] = {"list": [], "tree": [], "text": [], "widget": [],
                                          "check": []}

        def toolkit() -> None:
            started = time.perf_counter()
            listing = list_folders(entry)
            assert listing.ok, listing.error
            marks = [time.perf_counter()]
            tree = FolderTree(listing.folders)
            marks.append(time.perf_counter())
            render_text(tree, max_lines=200)
            marks.append(time.perf_counter())
            FolderTreeWidget(tree)
            marks.append(time.perf_counter())
            check_storage_folder(listing, "Support")
            check_storage_folder(listing, "Team 042/Case 04213x")
            marks.append(time.perf_counter())
            previous = started
            for stage, mark in zip(stages, marks, strict=True):
                stages[stage].append(mark - previous)
                previous = mark

        bare_seconds = median_seconds(bare, args.rounds)
        toolkit_seconds = median_seconds(toolkit, args.rounds)

    print(f"account with {listed[-1]:,} folders listed; {args.rounds} rounds, medians")
    print(f"imapclient connect + login + list_folders: {bare_seconds * 1000:9.1f} ms")
    print(f"toolkit list + tree + text + widget + check: {toolkit_seconds * 1000:7.1f} ms")
    for stage, values in stages.items():
        print(f"  {stage:<7} {statistics.median(values[1:] or values) * 1000:9.1f} ms")
    ratio = toolkit_seconds / bare_seconds
    print(f"ratio toolkit / imapclient: {ratio:5.2f}  (target at most 1.5)")


if __name__ == "__main__":
    main()
