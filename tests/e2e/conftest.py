"""Fixtures for the browser tests: one ``jupyter lab`` per module, a fresh browser context
per test (in the session's one Chromium, ``browser`` from ``tests/browser.py``).

The tests are plain sync tests: Playwright's sync API refuses to run inside a running asyncio
loop (and keeps its own loop running in the main thread), so the async
:class:`~tests.live_server.LiveServer` is started and stopped on a loop in a helper thread,
and kernels are driven with jupyter_client's blocking client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from tests.browser import ARGS  # noqa: F401 - the session's Chromium: tests/browser.py
from tests.e2e.lab import ARTIFACTS, Lab, LabPage


def run_in_thread(coroutine_function: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
    """Run a coroutine to completion on its own loop in a helper thread (Playwright's sync API
    keeps an event loop running in the main thread, so ``asyncio.run`` cannot be used here)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine_function(**kwargs)).result()


def running_lab(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    sio_config: dict[str, Any] | None = None,
    before_start: Callable[[Any], None] | None = None,
) -> Iterator[Lab]:
    """A ``jupyter lab`` for one module (its ``lab`` fixture yields from this), with
    jupyter_sio settings and a hook to run on the server's dirs before it starts."""
    from tests.live_server import LiveServer

    server = LiveServer(tmp_path_factory.mktemp(name), app="lab", sio_config=sio_config)
    if before_start is not None:
        before_start(server)
    Lab.prepare(server)
    run_in_thread(server.start, timeout=90)
    try:
        yield Lab(server)
    finally:
        run_in_thread(server.stop)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from running_lab(tmp_path_factory, "e2e-lab")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture()
def new_page(browser: Any, lab: Lab,
             request: pytest.FixtureRequest) -> Iterator[Callable[..., LabPage]]:
    """``new_page(notebook)``: a JupyterLab page, each in its own browser context, with the
    notebook open and its kernel idle. All contexts of the test close afterwards."""
    contexts: list[Any] = []

    def open_page(notebook: str, *, width: int = 1280, height: int = 900) -> LabPage:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        return lab.open(page, notebook)

    yield open_page
    failed = request.node.stash.get(FAILED, False)
    for i, context in enumerate(contexts):
        if failed:  # what the page looked like when the test failed
            for page in context.pages:
                page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}-{i}.png"))
        context.close()
