"""Fixtures for the JupyterHub tests: one Redis and one JupyterHub for the whole folder
(both users' servers are started with it), the session's Chromium (``tests/browser.py``), and
logged-in JupyterLab pages, one browser context per login.

The admin configuration is what the README's JupyterHub section shows: the Redis URL and the
room policy for every single-user server. The users configure nothing, except that bob's
server takes no WebSocket (``POLLING_ONLY``), so that long-polling through the Hub is used too.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAILED, pytest_runtest_makereport  # noqa: F401
from tests.e2e.lab import ROOT
from tests.jupyterhub.hub import HubUserLab, LiveJupyterHub
from tests.redis_server import RedisServer

ARTIFACTS = ROOT / "test-artifacts" / "jupyterhub"
USERS = ["alice", "bob"]
POLICY = "tests.jupyterhub.policy.team_rooms"
#: bob's own server config (~/.jupyter) takes no WebSocket, as if a proxy refused it: his
#: widgets use long-polling through the Hub, alice's use WebSocket
POLLING_ONLY = {"JupyterSioApp": {"transports": ["polling"]}}
TRANSPORT = {"alice": "websocket", "bob": "polling"}


@pytest.fixture(scope="package")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="package")
def jupyterhub(tmp_path_factory: pytest.TempPathFactory,
               redis_url: str) -> Iterator[LiveJupyterHub]:
    hub = LiveJupyterHub(
        tmp_path_factory.mktemp("jupyterhub"), users=USERS,
        sio_config={"redis_url": redis_url, "room_policy": POLICY},
    )
    hub.user_config("bob", POLLING_ONLY)
    hub.start()
    for name in USERS:  # both servers start while the browser starts
        hub.spawn(name)
    try:
        yield hub
    finally:
        hub.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "jupyterhub.log").write_text(hub.log_path.read_text(errors="replace"))


@pytest.fixture()
def login(browser: Any, jupyterhub: LiveJupyterHub,
          request: pytest.FixtureRequest) -> Iterator[Callable[..., tuple[HubUserLab, Any]]]:
    """``login(name)``: a new browser context that logged ``name`` in through the Hub's login
    page and has their JupyterLab open; returns that user's lab handle and the page."""
    contexts: list[Any] = []

    def log_in(name: str, *, width: int = 1280, height: int = 900) -> tuple[HubUserLab, Any]:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        jupyterhub.login(page, name)
        return jupyterhub.user_lab(name), page

    yield log_in
    failed = request.node.stash.get(FAILED, False)
    for i, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for page in context.pages:
                page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}-{i}.png"))
        context.close()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def side_by_side(browser: Any, shots: list[tuple[str, bytes]], path: Path) -> None:
    """One picture of several screenshots next to each other, each with a caption (for
    the README): laid out by the browser itself."""
    figures = "".join(
        f"<figure><figcaption>{html.escape(caption)}</figcaption>"
        f"<img src='data:image/png;base64,{base64.b64encode(png).decode()}'></figure>"
        for caption, png in shots
    )
    page = browser.new_page(viewport={"width": 400, "height": 200})
    try:
        page.set_content(
            "<style>body{margin:0;display:flex;gap:12px;padding:12px;background:#e8e8e8;"
            "font:14px sans-serif;width:max-content}figure{margin:0}"
            "figcaption{padding:0 0 6px 2px;color:#333}img{display:block;"
            "border:1px solid #bbb}</style>" + figures)
        page.wait_for_function("() => [...document.images].every((i) => i.complete)")
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.close()
