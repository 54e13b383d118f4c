"""End-to-end test of the triage dashboard in headless Chromium, driven by Playwright.

The test starts ``python -m toolkit.dashboard`` (the sandbox on free ports and
Voilà on a free port) and opens the page. It flips the TLS tick of the sandbox's
IMAP entry so that the tick is wrong for the port, clicks Run and checks the
verdict on the page. The browser may load only from 127.0.0.1 and ::1: every
other request is aborted, recorded and fails the test. The screenshot goes to
``artifacts/dashboard.png``.

Without Chromium or the playwright package the test is skipped, unless
MAILDIAG_REQUIRE_BROWSER=1, which turns the skip into an error.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO_DIR = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_DIR / "artifacts" / "dashboard.png"
SCREENSHOT_HEIGHT = 2400
# Clicking Run scrolls the template's container down to the button, so this scrolls back.
SCROLL_TO_TOP = "for (const e of document.querySelectorAll('*')) { e.scrollTop = 0; }"
TLS_LABEL = "TLS (ticked = implicit TLS, unticked = STARTTLS)"

# Voilà runs the whole notebook, the replay cell included, before it sends the page.
PAGE_TIMEOUT_S = 60.0
PORT_TIMEOUT_S = 30.0
TRIAGE_TIMEOUT_S = 45.0

# Flags for a headless Chromium with no background traffic (tested with Chromium 150 on Debian 12).
# The resolver rule fails every name lookup, so no host but 127.0.0.1 is reachable even
# if a request slipped past the route below.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def require_browser() -> str:
    """Return the Chromium path, or skip (error with MAILDIAG_REQUIRE_BROWSER=1) without it."""
    required = os.environ.get("MAILDIAG_REQUIRE_BROWSER") == "1"
    missing = []
    chromium = shutil.which("chromium")
    if chromium is None:
        missing.append("Chromium (run scripts/install-browser as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        reason = f"the browser test needs {' and '.join(missing)}"
        if required:
            pytest.fail(f"{reason}, and MAILDIAG_REQUIRE_BROWSER=1 makes that an error")
        pytest.skip(reason)
    assert chromium is not None
    return chromium


def is_loopback(url: str) -> bool:
    """Return True for URLs that stay on this machine: 127.0.0.1, ::1, data:, blob: and about:."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    try:
        return ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return False


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until `port` accepts TCP connections, because an HTTP probe would start a kernel."""
    deadline = time.monotonic() + PORT_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the dashboard exited with {process.returncode}:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the dashboard did not listen on port {port} in {PORT_TIMEOUT_S} s")


@contextmanager
def running_dashboard(tmp_path: Path) -> Iterator[int]:
    """Start the dashboard with the sandbox on free ports, yield Voilà's port, then stop it."""
    port = free_port()
    log = tmp_path / "dashboard.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "toolkit.dashboard",
                "--port",
                str(port),
                "--sandbox-port-base",
                "0",
            ],
            cwd=REPO_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log)
        yield port
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_dashboard_triage_in_browser(tmp_path: Path) -> None:
    """Flip the TLS tick in the dashboard and see the failed handshake and its finding."""
    chromium = require_browser()
    from playwright.sync_api import Route, expect, sync_playwright

    blocked: list[str] = []
    requested: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        if is_loopback(url):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    started = time.monotonic()
    with running_dashboard(tmp_path) as port, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            context.route("**/*", guard)
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/", timeout=PAGE_TIMEOUT_S * 1000)

            tls_box = page.get_by_label(TLS_LABEL).first
            tls_box.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
            loaded = time.monotonic()
            # The form starts with Dana's sandbox entry, whose tick matches its port.
            ticked = tls_box.is_checked()
            panel = page.locator(".widget-vbox").first
            expect(panel).not_to_contain_text("tls-tick-wrong-for-port")

            tls_box.set_checked(not ticked)
            page.get_by_role("button", name="Run triage").click()
            done = page.get_by_text(re.compile(r"Triage of .+ done in [0-9.]+ s\."))
            done.wait_for(timeout=TRIAGE_TIMEOUT_S * 1000)
            finished = time.monotonic()

            handshake_row = page.locator("tr", has_text="IMAP handshake").first
            expect(handshake_row).to_contain_text("failed")
            expect(panel).to_contain_text("tls-tick-wrong-for-port")

            SCREENSHOT.parent.mkdir(exist_ok=True)
            # The lab template scrolls inside its own container, so full_page alone shows one
            # screen: a tall viewport shows the form, the steps and the findings at once.
            page.set_viewport_size({"width": 1280, "height": SCREENSHOT_HEIGHT})
            page.evaluate(SCROLL_TO_TOP)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            context.close()

    print(
        f"page with widgets after {loaded - started:.1f} s, triage done after "
        f"{finished - loaded:.1f} s; {len(requested)} requests, {len(blocked)} blocked"
    )
    assert blocked == [], f"the page requested hosts other than loopback: {blocked}"
    outside = [url for url in requested if not is_loopback(url)]
    assert outside == [], f"requests left this machine: {outside}"
