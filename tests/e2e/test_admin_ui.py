"""The official Socket.IO Admin UI (``@socket.io/admin-ui`` from npm, its built page) in
Chromium against an instrumented hub: it connects, and its pages list the hub's server,
sockets and rooms, as they do against Node's socket.io."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from tornado import web

from jupyter_sio import Hub, HubServer

UI = Path(__file__).resolve().parents[1] / "js/node_modules/@socket.io/admin-ui/ui/dist"
DEADLINE = 60_000  # ms: a busy CI machine


class Running:
    """A hub on its own loop in a thread, the UI's page served next to it (same origin),
    and one python-socketio client in room ``lobby`` for the UI to list."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.hub = Hub()
        self.hub.instrument(auth=False, stats_interval=0.5)

        @self.hub.on("join")
        def join(member: Any, room: str) -> bool:
            member.join(room)
            return True

        routes = [(r"/admin-ui/(.*)", web.StaticFileHandler,
                   {"path": str(UI), "default_filename": "index.html"})]
        self.server = HubServer(self.hub, extra_routes=routes)
        self.port = self.call(self.server.start("127.0.0.1", 0))
        self.client = socketio.AsyncClient(reconnection=False)
        self.call(self._connect())

    async def _connect(self) -> None:
        await self.client.connect(f"http://127.0.0.1:{self.port}", transports=["websocket"])
        assert await self.client.call("join", "lobby", timeout=30) is True

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def stop(self) -> None:
        self.call(self.client.disconnect())
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def instrumented() -> Iterator[Running]:
    if not (UI / "index.html").is_file():
        pytest.fail(f"{UI} is missing: scripts/setup --tests installs tests/js")
    running = Running()
    try:
        yield running
    finally:
        running.stop()


def test_the_admin_ui_lists_the_hubs_server_sockets_and_rooms(
    browser: Any, instrumented: Running
) -> None:
    origin = f"http://127.0.0.1:{instrumented.port}"
    context = browser.new_context()
    # What the UI's connection form saves; with a session id it connects at once.
    context.add_init_script(
        f"""localStorage.setItem('server_url', '{origin}');
        localStorage.setItem('path', '/socket.io');
        localStorage.setItem('namespace', '/admin');
        localStorage.setItem('ws_only', 'false');
        localStorage.setItem('session_id', 'test');"""
    )
    page = context.new_page()
    try:
        sid = instrumented.client.get_sid("/")
        page.goto(f"{origin}/admin-ui/#/sockets/")
        page.get_by_text(sid).first.wait_for(timeout=DEADLINE)
        page.goto(f"{origin}/admin-ui/#/rooms/")
        page.get_by_text("lobby").first.wait_for(timeout=DEADLINE)
        page.goto(f"{origin}/admin-ui/#/servers/")
        page.get_by_text(socket.gethostname()).first.wait_for(timeout=DEADLINE)  # server_stats
    finally:
        context.close()
