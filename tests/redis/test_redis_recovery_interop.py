"""The official client (socket.io-client 4.8, tests/js/puppet.mjs) recovers its session on
another node of a hub spread over Redis.

A ``Manager`` reconnects to the URL it was made with, so the test fronts both nodes with a
tiny TCP switch on 127.0.0.1: new connections go to node A before the blip and to node B
after it (what a load balancer does when a node is drained)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from jupyter_sio import Hub, HubServer, Socket
from jupyter_sio.hub.redis_adapter import redis_adapter
from tests.peers.common import is_event, is_type
from tests.peers.node_puppet import NodePuppet


class Switch:
    """Forwards each new TCP connection to ``target`` (a port on 127.0.0.1)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[Any]] = set()

    async def start(self) -> Switch:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._pipes.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
            await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        finally:
            self._pipes.discard(task)
            writer.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def node(url: str) -> HubServer:
    hub = Hub(adapter=redis_adapter(url, prefix="interop-recover"), recovery_window=30)

    @hub.on("join")
    def join(socket: Socket, room: str) -> bool:
        socket.join(room)
        return True

    @hub.on("say")
    def say(socket: Socket, msg: dict[str, Any]) -> str:
        hub.to(msg["room"]).emit("said", {"msg": msg["msg"]})
        return "ok"

    return HubServer(hub)


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[list[HubServer]]:
    servers = [node(redis_url), node(redis_url)]
    for server in servers:
        await server.start("127.0.0.1", 0)
    yield servers
    for server in servers:
        await server.stop()


async def test_the_official_client_recovers_on_the_other_node(nodes: list[HubServer]) -> None:
    a, b = nodes
    switch = await Switch(a.port).start()
    async with NodePuppet(start_timeout=60) as puppet:
        listener = await puppet.connect(
            f"http://127.0.0.1:{switch.port}/",
            transports=["websocket"],
            reconnection=True,
            reconnectionDelay=200,
            reconnectionDelayMax=500,
        )
        sender = await puppet.connect(
            f"http://127.0.0.1:{b.port}/", transports=["websocket"], reconnection=False
        )
        try:
            assert await listener.emit_ack("join", "news") == [True]
            sid = listener.sid
            assert sid in a.hub.default.sockets
            await sender.emit_ack("say", {"room": "news", "msg": 0})
            await listener.log.wait(is_event("said", lambda args: args[0]["msg"] == 0))
            switch.target = b.port  # the next connection reaches node B
            await listener.close_engine()
            for n in (1, 2, 3):  # sent while the listener is away
                await sender.emit_ack("say", {"room": "news", "msg": n})
            connect = await listener.log.wait(is_type("connect"), timeout=30)
            assert connect["recovered"] is True, listener.log.describe()
            assert connect["sid"] == sid and sid in b.hub.default.sockets
            await sender.emit_ack("say", {"room": "news", "msg": 4})
            await listener.log.wait(is_event("said", lambda args: args[0]["msg"] == 4), timeout=30)
            said = [r["args"][0]["msg"] for r in listener.log.all(is_event("said"))]
            assert said == [0, 1, 2, 3, 4]  # nothing lost, nothing twice, in order
            assert sid not in a.hub.default.sockets
        finally:
            await listener.close()
            await sender.close()
            await switch.stop()
