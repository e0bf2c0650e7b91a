"""Suite-wide ordering.

Playwright's sync API keeps an event loop registered in the main thread for as long as it
runs, and pytest-asyncio cannot start its loops while one is registered. So the real-browser
tests (``tests/e2e``, ``tests/demo``, ``tests/jupyterhub``) run after every asyncio test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import browser  # noqa: F401 - the session's one Chromium, for every dir

BROWSER_DIRS = ("e2e", "demo", "jupyterhub")
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def uses_browser(item: pytest.Item) -> bool:
        try:
            relative = Path(str(item.path)).relative_to(HERE)
        except ValueError:
            return False
        return relative.parts[0] in BROWSER_DIRS

    items.sort(key=uses_browser)  # stable: keeps the order within each group
