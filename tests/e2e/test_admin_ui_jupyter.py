"""The official Socket.IO Admin UI (``@socket.io/admin-ui``'s built page, served here from
another origin, as admin.socket.io would be) against the hub mounted in Jupyter (issue 10):
with ``admin_ui`` on and the UI's origin in ``cors_allowed_origins``, it connects with the
server token and lists the hub's sockets and rooms. (Refusals without kernel powers or
from other origins: tests/jupyter/test_admin_ui_auth.py.)"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import socketio

from tests.e2e.conftest import run_in_thread
from tests.e2e.test_admin_ui import DEADLINE, UI
from tests.live_server import LiveServer, free_port


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def ui_origin() -> Iterator[str]:
    if not (UI / "index.html").is_file():
        pytest.fail(f"{UI} is missing: scripts/setup --tests installs tests/js")
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(Quiet, directory=str(UI))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory, ui_origin: str) -> Iterator[LiveServer]:
    server = LiveServer(
        tmp_path_factory.mktemp("admin-ui"),
        sio_config={"admin_ui": True, "cors_allowed_origins": [ui_origin]},
    )
    run_in_thread(server.start, timeout=90)
    try:
        yield server
    finally:
        run_in_thread(server.stop)


async def member(server: LiveServer, action: str, client: Any = None) -> Any:
    """A python-socketio client in room ``lobby`` (``action="join"``) or its disconnect."""
    if action == "leave":
        await client.disconnect()
        return None
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        f"http://127.0.0.1:{server.port}?token={server.token}",
        socketio_path=server.socketio_path,
        transports=["polling"],
        wait_timeout=30,
    )
    reply = await client.call("sio:subscribe", {"rooms": ["lobby"]}, timeout=30)
    assert reply["ok"], reply
    return client


def test_the_admin_ui_from_another_origin_connects_with_the_token(
    browser: Any, jupyter: LiveServer, ui_origin: str
) -> None:
    import asyncio
    import concurrent.futures

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coroutine: Any) -> Any:
        future: concurrent.futures.Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, loop)
        return future.result(60)

    client = call(member(jupyter, "join"))
    context = browser.new_context()
    # What the UI's connection form saves: the server, the hub's path under base_url, and
    # the namespace with the token in its query (socket.io-client sends it on every request)
    context.add_init_script(
        f"""localStorage.setItem('server_url', 'http://127.0.0.1:{jupyter.port}');
        localStorage.setItem('path', '{jupyter.socketio_path.rstrip("/")}');
        localStorage.setItem('namespace', '/admin?token={jupyter.token}');
        localStorage.setItem('ws_only', 'false');
        localStorage.setItem('session_id', 'test');"""
    )
    page = context.new_page()
    try:
        page.goto(f"{ui_origin}/#/sockets/")
        page.get_by_text(client.get_sid("/")).first.wait_for(timeout=DEADLINE)
        page.goto(f"{ui_origin}/#/rooms/")
        page.get_by_text("lobby").first.wait_for(timeout=DEADLINE)
    finally:
        context.close()
        call(member(jupyter, "leave", client))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
