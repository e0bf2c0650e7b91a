"""The session's one Chromium for the browser tests (``tests/e2e``, ``tests/jupyterhub``).

Debian's Chromium driven by Playwright's sync API, never a Playwright-managed download. One
instance per session, registered in ``tests/conftest.py``: Playwright's sync API keeps an
event loop in the main thread while it runs, so a second ``sync_playwright()`` in the same
session (a fixture per directory) would be refused.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the browser fixture skips
    sync_playwright = None

ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("JSIO_CHROMIUM"), "/usr/lib/chromium/chromium",
                      "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no Playwright-managed browser download)."""
    if sync_playwright is None:
        pytest.skip("playwright is not installed (pip install 'playwright>=1.45')")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium (Debian package `chromium`) on this machine")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        yield b
        b.close()
