"""Connection-state recovery across hub nodes sharing a real redis-server: a client cut off
on one node comes back on another with its id, rooms, data and every packet it missed,
once each and in order, then live ones; otherwise (trimmed, expired, taken, Redis down,
data that is not JSON) a fresh session, never a partial replay.

The client is a raw Engine.IO WebSocket written by hand (python-socketio has no recovery):
the test cuts its TCP connection, so the server's reason is a transport close."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio

from jupyter_sio import Hub, HubServer
from jupyter_sio.hub.recovery import Recovery
from jupyter_sio.hub.redis_adapter import redis_adapter
from tests.redis.conftest import RestartableRedis
from tests.transport.raw import DEADLINE, RawWebSocket, frame


class Client:
    """A Socket.IO client of the main namespace over one raw WebSocket."""

    def __init__(self, ws: RawWebSocket, hello: dict[str, Any]) -> None:
        self.ws = ws
        self.hello = hello
        self.offset: str | None = None

    @classmethod
    async def connect(cls, server: HubServer, auth: dict[str, Any] | None = None) -> Client:
        ws = await RawWebSocket.connect(server.port)
        assert (await ws.read_text()).startswith("0{")
        await ws.send(frame(0x1, ("40" + json.dumps(auth) if auth else "40").encode()))
        reply = await ws.read_text()
        assert reply.startswith("40{"), reply
        return cls(ws, json.loads(reply[2:]))

    @property
    def sid(self) -> str:
        return str(self.hello["sid"])

    @property
    def pid(self) -> str:
        return str(self.hello["pid"])

    def auth(self) -> dict[str, Any]:
        return {"pid": self.pid, "offset": self.offset} if self.offset else {"pid": self.pid}

    async def events(self, count: int) -> list[list[Any]]:
        """The next ``count`` events, each without its offset (kept as the client's)."""
        got = []
        for _ in range(count):
            text = await self.ws.read_text()
            assert text.startswith("42["), text
            *args, self.offset = json.loads(text[2:])
            got.append(args)
        return got

    def cut(self) -> None:
        """The network drops: no close frame, no FIN handshake."""
        self.ws.writer.transport.abort()


async def until(condition: Callable[[], bool], what: str) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)  # paces the look at the nodes' state

    try:
        await asyncio.wait_for(wait(), DEADLINE)
    except asyncio.TimeoutError:
        raise AssertionError(f"never: {what}") from None


def recovery(server: HubServer) -> Recovery:
    rec = server.hub.default.recovery
    assert rec is not None
    return rec


def heard(server: HubServer, count: int) -> Callable[[], bool]:
    """Whether ``server`` logged (made or heard) at least ``count`` packets."""
    return lambda: recovery(server).next >= count


async def two_nodes(url: str, **config: Any) -> list[HubServer]:
    servers = []
    for _ in range(2):
        hub = Hub(
            adapter=redis_adapter(url, prefix="recover", connect_timeout=2, request_timeout=2),
            **{"recovery_window": 30.0, **config},
        )
        server = HubServer(hub)
        await server.start("127.0.0.1", 0)
        servers.append(server)
    return servers


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[list[HubServer]]:
    servers = await two_nodes(redis_url)
    yield servers
    for server in servers:
        await server.stop()


async def on_a_in_room(a: HubServer) -> Client:
    client = await Client.connect(a)
    socket = a.hub.default.sockets[client.sid]
    socket.join("room")
    socket.data["name"] = "ann"
    return client


async def cut_off(a: HubServer, client: Client) -> None:
    client.cut()
    await until(lambda: client.pid in recovery(a).saved, "node A kept the session")


async def test_a_client_cut_off_on_one_node_recovers_on_the_other(
    nodes: list[HubServer], redis_url: str
) -> None:
    a, b = nodes
    client = await on_a_in_room(a)
    a.hub.to("room").emit("tick", 0)
    b.hub.to("room").emit("tick", 1)
    assert await client.events(2) == [["tick", 0], ["tick", 1]]
    await cut_off(a, client)
    logged = recovery(a).next
    b.hub.to("room").emit("tick", 2)
    b.hub.to("elsewhere").emit("tick", 99)
    b.hub.emit("all", 3)
    await until(heard(a, logged + 3), "A heard B's packets")
    logged = recovery(b).next
    a.hub.to("room").emit("tick", 4)  # from the node the client left, during the blip
    a.hub.to("room").exclude(client.sid).emit("tick", 98)
    a.hub.default.local.to("room").emit("local", 5)  # for A's sockets: it was one of them
    await until(heard(b, logged + 2), "B heard A's packets")

    again = await Client.connect(b, client.auth())
    assert again.hello == {"sid": client.sid, "pid": client.pid}
    restored = b.hub.default.sockets[client.sid]
    assert restored.recovered
    assert restored.rooms == {client.sid, "room"} and restored.data == {"name": "ann"}
    assert await again.events(4) == [["tick", 2], ["all", 3], ["tick", 4], ["local", 5]]
    b.hub.to("room").emit("tick", 6)
    a.hub.to("room").emit("tick", 7)
    assert await again.events(2) == [["tick", 6], ["tick", 7]]  # then live ones, once
    # the old node forgot the session, and so did Redis
    assert client.pid not in recovery(a).saved and client.sid not in a.hub.default.sockets
    store = redis.asyncio.Redis.from_url(redis_url)
    assert await store.keys("recover#/#session#*") == []
    await store.aclose()


async def test_a_client_that_had_no_event_recovers_from_where_its_session_began(
    nodes: list[HubServer],
) -> None:
    a, b = nodes
    a.hub.to("room").emit("before", 0)  # logged before the session: never replayed
    client = await on_a_in_room(a)
    await cut_off(a, client)
    again = await Client.connect(b, client.auth())
    assert again.hello["sid"] == client.sid
    b.hub.to("room").emit("tick", 1)  # nothing was missed: the first event is live
    assert await again.events(1) == [["tick", 1]]

    # and again, now from B back to A, with what it missed on the way
    await cut_off(b, again)
    b.hub.to("room").emit("tick", 2)
    await until(heard(a, recovery(a).next + 1), "A heard B's packet")
    third = await Client.connect(a, again.auth())
    assert third.hello["sid"] == client.sid
    assert await third.events(1) == [["tick", 2]]


async def test_the_client_back_on_another_node_before_the_first_noticed_takes_over(
    nodes: list[HubServer],
) -> None:
    a, b = nodes
    client = await on_a_in_room(a)
    a.hub.to("room").emit("tick", 1)
    assert await client.events(1) == [["tick", 1]]
    a.hub.to("room").emit("tick", 2)  # on its way to a transport that died unnoticed
    again = await Client.connect(b, client.auth())
    assert again.hello["sid"] == client.sid
    assert await again.events(1) == [["tick", 2]]
    assert await client.ws.closed_by_server()  # node A closed the old connection
    await until(lambda: client.sid not in a.hub.default.sockets, "A dropped the old socket")
    assert client.pid not in recovery(a).saved and client.pid not in recovery(a).live
    assert b.hub.default.sockets[client.sid].rooms == {client.sid, "room"}


async def test_a_session_is_recovered_once(nodes: list[HubServer]) -> None:
    a, b = nodes
    client = await on_a_in_room(a)
    await cut_off(a, client)
    again = await Client.connect(b, client.auth())
    assert again.hello["sid"] == client.sid
    # the same pid again, on either node, while the recovered socket is connected to B:
    # B takes it over (the socket.io#4880 rule), A has nothing and asks B
    twice = await Client.connect(a, client.auth())
    assert twice.hello["sid"] == client.sid
    assert await again.ws.closed_by_server()
    # once its socket left for good, nobody has the session
    await twice.ws.send(frame(0x1, b"41"))  # the client disconnects from the namespace
    await until(lambda: client.sid not in a.hub.default.sockets, "A dropped the socket")
    fresh = await Client.connect(b, client.auth())
    assert fresh.hello["sid"] != client.sid and fresh.hello["pid"] != client.pid


@pytest.mark.parametrize("why", ["trimmed", "expired", "unknown"])
async def test_otherwise_a_fresh_session_never_a_partial_replay(
    why: str, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "jupyter_sio.hub")
    config: dict[str, Any] = {"recovery_max_packets": 3}
    if why == "expired":
        config["recovery_window"] = 0.5
    a, b = await two_nodes(redis_url, **config)
    try:
        client = await on_a_in_room(a)
        a.hub.to("room").emit("tick", 0)
        assert await client.events(1) == [["tick", 0]]
        await cut_off(a, client)
        if why == "trimmed":  # far more than the stream keeps (MAXLEN ~ trims by blocks)
            for n in range(1000):
                b.hub.to("room").emit("tick", n)
            store = redis.asyncio.Redis.from_url(redis_url)
            await until(lambda: recovery(a).next > 1000, "A heard B's packets")
            assert await store.xlen("recover#/#recovery") < 1000
            await store.aclose()
        if why == "expired":
            await until(lambda: client.pid not in recovery(a).saved, "the window passed")
            store = redis.asyncio.Redis.from_url(redis_url)
            while await store.exists(f"recover#/#session#{client.pid}"):
                await asyncio.sleep(0.05)  # paces the look at the key until Redis expires it
            await store.aclose()
        auth = {"pid": "nope", "offset": client.offset} if why == "unknown" else client.auth()
        fresh = await Client.connect(b, auth)
        assert fresh.hello["sid"] != client.sid and fresh.hello["pid"] != client.pid
        assert b.hub.default.sockets[fresh.sid].rooms == {fresh.sid}
        b.hub.emit("live", 1)
        assert await fresh.events(1) == [["live", 1]]  # nothing was replayed before it
        assert any("fresh session" in r.getMessage() for r in caplog.records)
    finally:
        for server in (a, b):
            await server.stop()


async def test_data_that_is_not_json_keeps_its_session_on_its_node_only(
    nodes: list[HubServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "jupyter_sio")
    a, b = nodes
    client = await on_a_in_room(a)
    a.hub.default.sockets[client.sid].data["thing"] = object()
    await cut_off(a, client)
    fresh = await Client.connect(b, client.auth())
    assert fresh.hello["sid"] != client.sid
    assert any("not JSON" in r.getMessage() for r in caplog.records)
    again = await Client.connect(a, client.auth())  # its own node still has it
    assert again.hello["sid"] == client.sid


async def test_with_redis_down_a_client_gets_a_fresh_session_at_once(
    restartable_redis: RestartableRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "jupyter_sio.hub")
    a, b = await two_nodes(restartable_redis.url)
    try:
        client = await on_a_in_room(a)
        await cut_off(a, client)
        await restartable_redis.down()
        await until(
            lambda: b.hub.default.adapter.status()["state"] != "connected",
            "B noticed Redis is down",
        )
        fresh = await Client.connect(b, client.auth())
        assert fresh.hello["sid"] != client.sid
        assert any("Redis unreachable" in r.getMessage() for r in caplog.records)
        again = await Client.connect(a, client.auth())  # locally, recovery goes on
        assert again.hello["sid"] == client.sid
    finally:
        for server in (a, b):
            await server.stop()
