"""Two hubs sharing one Redis act as one: broadcasts, rooms, retained values, listings."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import socketio

from jupyter_sio import Hub, HubServer, Socket
from jupyter_sio.exceptions import ConfigError
from jupyter_sio.hub.redis_adapter import RedisSettings, pack, redis_adapter, unpack
from tests.live_server import free_port


def make_hub(redis_url: str) -> Hub:
    hub = Hub(adapter=redis_adapter(redis_url, prefix="test"))

    @hub.on("join")
    def join(socket: Socket, room: str) -> bool:
        socket.join(room)
        return True

    @hub.on("shout")
    def shout(socket: Socket, room: str, *args: Any) -> str:
        socket.to(room).emit("heard", *args)
        return "ok"

    return hub


@pytest.fixture
async def two_hubs(redis_url: str) -> AsyncIterator[list[HubServer]]:
    servers = [HubServer(make_hub(redis_url)), HubServer(make_hub(redis_url))]
    for server in servers:
        await server.start("127.0.0.1", 0)
    yield servers
    for server in servers:
        await server.stop()


async def client(
    server: HubServer, room: str | None = None
) -> tuple[socketio.AsyncClient, asyncio.Queue[Any]]:
    c = socketio.AsyncClient(reconnection=False)
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    c.on("*", lambda event, *args: inbox.put_nowait((event, *args)))
    await c.connect(f"http://127.0.0.1:{server.port}", transports=["websocket"], wait_timeout=10)
    if room:
        assert await c.call("join", room, timeout=10) is True
    return c, inbox


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


def test_wire_format_round_trips_binary_attachments() -> None:
    header = {"type": "broadcast", "text": '451-["x",{"_placeholder":true,"num":0}]'}
    assert unpack(pack(header, [b"\x00\n\xff", b""])) == (header, [b"\x00\n\xff", b""])


def test_redis_settings_are_checked_before_anything_connects() -> None:
    with pytest.raises(TypeError):
        redis_adapter("redis://127.0.0.1:1/0", prefx="typo")
    with pytest.raises(ConfigError, match="ping_interval"):
        RedisSettings(ping_interval=0)
    with pytest.raises(ConfigError, match="max_pending"):
        redis_adapter("redis://127.0.0.1:1/0", max_pending=0)


async def test_a_broadcast_reaches_rooms_on_both_nodes_once(two_hubs: list[HubServer]) -> None:
    one, two = two_hubs
    a, inbox_a = await client(one, "r")
    b, inbox_b = await client(two, "r")
    c, inbox_c = await client(two)  # not in the room
    one.hub.to("r").emit("news", {"n": 1}, b"\x01\x02")
    assert await asyncio.wait_for(inbox_a.get(), 10) == ("news", {"n": 1}, b"\x01\x02")
    assert await asyncio.wait_for(inbox_b.get(), 10) == ("news", {"n": 1}, b"\x01\x02")
    # a client-initiated broadcast from node two, excluding the sender, reaches node one
    assert await b.call("shout", ("r", "hi"), timeout=10) == "ok"
    assert await asyncio.wait_for(inbox_a.get(), 10) == ("heard", "hi")
    await asyncio.sleep(0.2)
    assert inbox_b.empty() and inbox_c.empty()
    for x in (a, b, c):
        await x.disconnect()


async def test_order_is_kept_across_nodes(two_hubs: list[HubServer]) -> None:
    one, two = two_hubs
    b, inbox = await client(two, "feed")
    for n in range(200):
        one.hub.to("feed").emit("n", n)
    got = [(await asyncio.wait_for(inbox.get(), 10))[1] for _ in range(200)]
    assert got == list(range(200))
    await b.disconnect()


async def test_room_operations_and_listings_cross_nodes(two_hubs: list[HubServer]) -> None:
    one, two = two_hubs
    b, inbox = await client(two)
    sid_b = b.get_sid()
    await one.hub.to(sid_b).join("vip")  # socketsJoin from node one, socket on node two

    async def joined() -> bool:
        sockets = await two.hub.default.adapter.describe_sockets(one.hub.to("vip").options)
        return any(s["sid"] == sid_b for s in sockets)

    await eventually(joined, "node two applied the join")
    listing = await one.hub.default.adapter.describe_sockets(one.hub.to("vip").options)
    assert [s["sid"] for s in listing] == [sid_b]  # node one lists node two's socket
    one.hub.to("vip").emit("perk", 1)
    assert await asyncio.wait_for(inbox.get(), 10) == ("perk", 1)
    await one.hub.to("vip").disconnect()
    await eventually(lambda: asyncio.sleep(0, not b.connected), "remote disconnect")


async def test_retained_values_are_shared_and_survive_for_late_nodes(
    redis_url: str,
    two_hubs: list[HubServer],
) -> None:
    one, two = two_hubs
    one.hub.emit("metric", {"cpu": 1}, to="dash", key="cpu", retain=True)
    one.hub.emit("metric", {"cpu": 2}, to="dash", key="cpu", retain=True)

    async def replicated() -> bool:
        return "cpu" in two.hub.default.adapter.retained.get("dash", {})

    await eventually(replicated, "retained value replicated")
    b, inbox = await client(two, "dash")
    assert await asyncio.wait_for(inbox.get(), 10) == ("metric", {"cpu": 2})
    late = HubServer(make_hub(redis_url))  # a node that starts afterwards
    await late.start("127.0.0.1", 0)
    try:
        c, inbox_late = await client(late, "dash")
        assert await asyncio.wait_for(inbox_late.get(), 10) == ("metric", {"cpu": 2})
        one.hub.clear_retained("dash")
        await eventually(
            lambda: asyncio.sleep(0, not late.hub.default.adapter.retained), "clear replicated"
        )
        await c.disconnect()
    finally:
        await late.stop()
    await b.disconnect()


async def test_two_processes_act_as_one_hub(redis_url: str, tmp_path: Any) -> None:
    app = tmp_path / "redis_app.py"
    app.write_text(
        "import os\n"
        "from jupyter_sio import Hub\n"
        "from jupyter_sio.hub.redis_adapter import redis_adapter\n"
        "hub = Hub(adapter=redis_adapter(os.environ['REDIS_URL'], prefix='procs'))\n"
        "@hub.on('join')\n"
        "def join(socket, room):\n"
        "    socket.join(room)\n"
        "    return True\n"
        "@hub.on('say')\n"
        "def say(socket, room, text):\n"
        "    hub.to(room).emit('said', text)\n"
        "    return True\n"
    )
    ports = [free_port(), free_port()]
    env = {"REDIS_URL": redis_url, "PYTHONPATH": str(tmp_path)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "jupyter_sio",
            "serve",
            "redis_app:hub",
            "--port",
            str(port),
            env={**__import__("os").environ, **env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        clients = []
        for port in ports:
            c = socketio.AsyncClient(reconnection=False)
            inbox: asyncio.Queue[Any] = asyncio.Queue()
            c.on("said", lambda text, q=inbox: q.put_nowait(text))
            for _ in range(100):
                try:
                    await c.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
                    break
                except socketio.exceptions.ConnectionError:
                    await asyncio.sleep(0.1)
            assert await c.call("join", "room", timeout=10)
            clients.append((c, inbox))
        assert await clients[0][0].call("say", ("room", "across processes"), timeout=10)
        for _, inbox in clients:
            assert await asyncio.wait_for(inbox.get(), 10) == "across processes"
        for c, _ in clients:
            await c.disconnect()
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()


async def test_two_jupyter_servers_share_rooms_through_redis(redis_url: str, tmp_path: Any) -> None:
    from tests.live_server import LiveServer

    config = {"redis_url": redis_url, "redis_prefix": "jupyter-test"}
    a = await LiveServer(tmp_path / "a", sio_config=config).start()
    b = await LiveServer(tmp_path / "b", sio_config=config).start()
    kernel = await a.start_kernel()
    try:
        await kernel.run("%load_ext jupyter_sio")
        status = (await kernel.run("%sio")).stdout
        assert "adapter:  redis connected, reconnects 0, dropped 0" in status
        browser = socketio.AsyncClient(reconnection=False)
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        browser.on("tick", lambda *args: inbox.put_nowait(args))
        await browser.connect(
            f"http://127.0.0.1:{b.port}",
            socketio_path=b.socketio_path,
            headers={"Authorization": f"token {b.token}"},
            transports=["websocket"],
            wait_timeout=10,
        )
        assert (await browser.call("sio:subscribe", {"rooms": ["dash"]}, timeout=10))["ok"]
        # a kernel on server A lists the browser on server B, then reaches it
        listing = await kernel.value("[s['sid'] for s in sio.sockets('dash')]")
        assert browser.get_sid() in listing
        await kernel.run("sio.emit('tick', 1, b'\\x07', to='dash')")
        assert await asyncio.wait_for(inbox.get(), 10) == (1, b"\x07")
        await browser.disconnect()
    finally:
        await kernel.stop()
        await a.stop()
        await b.stop()
