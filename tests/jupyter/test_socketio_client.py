"""The official python-socketio client through the extension, under the escaped base URL.

aiohttp (python-socketio's HTTP layer) rewrites ``/a%40b/`` as ``/a@b/`` before sending; the
extension accepts that spelling of the base URL too.

python-engineio sends ``headers`` only with the handshake request (and the WebSocket
upgrade). Later polling requests carry only cookies, and Jupyter needs XSRF for a
cookie-authenticated POST, so over polling the token must be in the URL (``?token=``), which
python-engineio repeats on every request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio

from .conftest import TIMEOUT, Server


async def _connect(server: Server, url: str, transports: list[str]) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await asyncio.wait_for(
        client.connect(
            url,
            headers={"Authorization": f"token {server.token}"},
            socketio_path=f"{server.base_url}jupyter-sio/socket.io",
            transports=transports,
            wait_timeout=TIMEOUT,
        ),
        TIMEOUT * 2,
    )
    return client


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_python_socketio_gets_the_unhandled_ack(server: Server, transport: str) -> None:
    url = server.origin
    if transport == "polling":
        url += f"?token={server.token}"
    client = await _connect(server, url, [transport])
    try:
        assert client.transport() == transport
        answer: Any = await client.call("no-such-event", {"x": 1}, timeout=TIMEOUT)
        assert answer["error"] == "unhandled"
        assert answer["event"] == "no-such-event"
    finally:
        await asyncio.wait_for(client.disconnect(), TIMEOUT)


async def test_python_socketio_polling_upgrades_to_websocket(server: Server) -> None:
    url = f"{server.origin}?token={server.token}"
    client = await _connect(server, url, ["polling", "websocket"])
    try:
        for _ in range(100):  # the upgrade finishes shortly after connect
            if client.transport() == "websocket":
                break
            await asyncio.sleep(0.05)
        assert client.transport() == "websocket"
        answer: Any = await client.call("no-such-event", timeout=TIMEOUT)
        assert answer["error"] == "unhandled"
    finally:
        await asyncio.wait_for(client.disconnect(), TIMEOUT)


async def test_python_socketio_without_token_is_refused(server: Server) -> None:
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await asyncio.wait_for(
            client.connect(
                server.origin,
                socketio_path=f"{server.base_url}jupyter-sio/socket.io",
                transports=["websocket"],
                wait_timeout=TIMEOUT,
            ),
            TIMEOUT * 2,
        )
