"""The built-in demo (`python -m jupyter_sio serve`) in a real browser with the official client."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.live_server import free_port

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jupyter_sio", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "socket.io/?EIO=4&transport=polling", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_two_browsers_chat_and_echo_through_the_demo(demo_url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        alice = browser.new_context().new_page()
        alice.goto(demo_url + "?name=alice")
        bob = browser.new_context().new_page()
        bob.goto(demo_url + "?name=bob")
        alice.wait_for_function(
            "document.getElementById('people').textContent.includes('bob')", timeout=15000)
        bob.fill("#text", "hi alice")
        bob.press("#text", "Enter")
        alice.wait_for_function(
            "document.getElementById('log').textContent.includes('bob: hi alice')", timeout=15000)
        alice.fill("#echo-text", "ping")
        alice.press("#echo-text", "Enter")
        alice.wait_for_function(
            "document.getElementById('log').textContent.includes('echo ack: \"ping\"')",
            timeout=15000)
        # the official client started on polling and upgraded to WebSocket
        alice.wait_for_function(
            "document.getElementById('status').textContent.includes('transport websocket')",
            timeout=15000)
        ARTIFACTS.mkdir(exist_ok=True)
        alice.screenshot(path=str(ARTIFACTS / "demo-page.png"))
        bob.close()
        alice.wait_for_function(
            "document.getElementById('log').textContent.includes('bob left')", timeout=15000)
        browser.close()
