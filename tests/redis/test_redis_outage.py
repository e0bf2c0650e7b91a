"""Two hubs share one real redis-server, which is restarted (or frozen) under them.

The hubs heal by themselves: they report the outage once, keep delivering locally, answer
listings without hanging, bound what they queue, and resume cross-node delivery. Deadlines
are generous (busy CI machines); nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import socketio

from jupyter_sio import Hub, HubServer, Socket
from jupyter_sio.hub.redis_adapter import redis_adapter
from tests.redis.conftest import RestartableRedis

DEADLINE = 60.0
LOGGER = "jupyter_sio.hub.redis"


def make_hub(url: str, **settings: Any) -> Hub:
    hub = Hub(adapter=redis_adapter(url, prefix="outage", **settings))

    @hub.on("join")
    def join(socket: Socket, room: str) -> bool:
        socket.join(room)
        return True

    return hub


@asynccontextmanager
async def two_hubs(url: str, **settings: Any) -> AsyncIterator[tuple[HubServer, HubServer]]:
    one, two = HubServer(make_hub(url, **settings)), HubServer(make_hub(url, **settings))
    await one.start("127.0.0.1", 0)
    await two.start("127.0.0.1", 0)
    try:
        yield one, two
    finally:
        await one.stop()
        await two.stop()


class Client:
    """A python-socketio client in some rooms, with an inbox to search."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.sio.on("*", lambda event, *args: self.inbox.put_nowait((event, *args)))

    @classmethod
    async def open(cls, server: HubServer, *rooms: str) -> Client:
        c = cls()
        url = f"http://127.0.0.1:{server.port}"
        await c.sio.connect(url, transports=["websocket"], wait_timeout=30)
        for room in rooms:
            assert await c.sio.call("join", room, timeout=30) is True
        return c

    async def expect(self, *message: Any) -> None:
        """Wait for ``message`` (event and args), skipping any other message."""

        async def find() -> None:
            while await self.inbox.get() != message:
                pass

        await asyncio.wait_for(find(), DEADLINE)


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


def state(server: HubServer) -> str:
    return str(server.hub.stats()["adapter"]["state"])


class Ticker:
    """Broadcasts ``("n", 1)``, ``("n", 2)``, ... to a room from one hub, every 20 ms, so
    Redis goes away in the middle of a stream."""

    def __init__(self, hub: Hub, room: str) -> None:
        self.hub, self.room, self.n = hub, room, 0
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.n += 1
            self.hub.to(self.room).emit("n", self.n)
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def crosses(sender: HubServer, receiver: Client, room: str, again: bool = False) -> None:
    """A broadcast from ``sender`` reaches ``receiver`` on the other hub; with ``again``,
    one probe a second until one does (where the link may still flap)."""
    token = uuid.uuid4().hex
    sender.hub.to(room).emit("probe", token)
    if not again:
        await receiver.expect("probe", token)
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while True:
        try:
            await asyncio.wait_for(receiver.expect("probe", token), 1)
            return
        except asyncio.TimeoutError:
            if loop.time() > deadline:
                raise
            sender.hub.to(room).emit("probe", token)


def outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    ours = [r for r in caplog.records if r.name == LOGGER]
    assert not [r for r in ours if r.levelno >= logging.ERROR], "no error lines, ever"
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    recovered = [r.getMessage() for r in ours if "reachable again" in r.getMessage()]
    return warnings, recovered


async def test_delivery_resumes_by_itself_after_a_short_restart(
    restartable_redis: RestartableRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with two_hubs(restartable_redis.url) as (one, two):
        a = await Client.open(one, "r")
        b = await Client.open(two, "r")
        ticker = Ticker(one.hub, "r")
        await b.expect("n", 1)  # the stream crosses nodes
        await restartable_redis.down()
        await asyncio.sleep(0.5)
        await restartable_redis.up()
        for server in (one, two):
            await until(
                lambda s=server: (
                    s.hub.stats()["adapter"]["reconnects"] >= 1 and state(s) == "connected"
                ),
                "both hubs reconnected",
            )
        n = ticker.n
        await b.expect("n", n + 1)  # the stream crosses again, without any restart
        await a.expect("n", n + 1)  # (and never stopped locally)
        await ticker.stop()
        await crosses(two, a, "r")
        for server in (one, two):
            status = server.hub.stats()["adapter"]
            assert status["kind"] == "redis"
            assert (status["state"], status["reconnects"]) == ("connected", 1)
            assert status["last_error"]  # what the outage looked like stays visible
        for c in (a, b):
            await c.sio.disconnect()
    warnings, recovered = outage_lines(caplog)
    assert len(warnings) == 2 and all("unreachable" in w for w in warnings)  # one per hub
    assert len(recovered) == 2


async def test_a_long_outage_is_reported_bounded_and_healed(
    restartable_redis: RestartableRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    loop = asyncio.get_running_loop()
    async with two_hubs(restartable_redis.url, max_pending=100) as (one, two):
        a = await Client.open(one, "r")
        b = await Client.open(two, "r", "dash")
        one.hub.emit("metric", {"cpu": 1}, to="dash", key="cpu", retain=True)
        await b.expect("metric", {"cpu": 1})
        ticker = Ticker(one.hub, "r")
        await b.expect("n", 1)

        started = loop.time()
        await restartable_redis.down()
        await until(lambda: state(one) == state(two) == "reconnecting", "both degraded")
        await ticker.stop()
        status = one.hub.stats()["adapter"]
        assert status["reconnects"] == 0 and status["last_error"]

        # local delivery goes on
        one.hub.to("r").emit("local", 1)
        await a.expect("local", 1)
        # a listing answers at once with what this node knows
        opts = one.hub.to("r").options
        listing = await asyncio.wait_for(one.hub.default.adapter.describe_sockets(opts), 30)
        assert [s["sid"] for s in listing] == [a.sio.get_sid()]
        # what waits for Redis is bounded, and what did not fit is counted
        for i in range(300):
            one.hub.to("r").emit("burst", i)
        status = one.hub.stats()["adapter"]
        assert status["pending"] <= 100 and status["dropped"] >= 200
        # the current value changes while the nodes are cut off from each other
        one.hub.emit("metric", {"cpu": 2}, to="dash", key="cpu", retain=True)

        await asyncio.sleep(max(0.0, 15 - (loop.time() - started)))
        assert state(one) == state(two) == "reconnecting"  # still degraded, all along
        await restartable_redis.up()
        await until(lambda: state(one) == state(two) == "connected", "both reconnected")
        await b.expect("metric", {"cpu": 2})  # the member caught up with the current value
        await crosses(one, b, "r")
        await crosses(two, a, "r")
        for server in (one, two):
            assert server.hub.stats()["adapter"]["reconnects"] == 1
        for c in (a, b):
            await c.sio.disconnect()
    warnings, recovered = outage_lines(caplog)
    assert len(warnings) == 2 and len(recovered) == 2  # one of each per hub, not per message


async def test_a_hub_started_while_redis_is_down_connects_later(
    restartable_redis: RestartableRedis,
) -> None:
    await restartable_redis.down()
    server = HubServer(make_hub(restartable_redis.url))
    await server.start("127.0.0.1", 0)  # starts degraded instead of failing
    try:
        assert state(server) == "reconnecting"
        server.hub.to("r").emit("x", 1)  # publishing while down neither raises nor waits
        await restartable_redis.up()
        await until(lambda: state(server) == "connected", "connected once Redis is up")
    finally:
        await server.stop()
    assert state(server) == "closed"


async def test_a_frozen_redis_is_noticed_by_its_silence(
    restartable_redis: RestartableRedis,
) -> None:
    """No EOF ever comes from a frozen server (or a dead host): unanswered PINGs tell."""
    settings = {"ping_interval": 0.5, "connect_timeout": 1.0}
    async with two_hubs(restartable_redis.url, **settings) as (one, two):
        b = await Client.open(two, "r")
        proc = restartable_redis.proc
        assert proc is not None
        proc.send_signal(signal.SIGSTOP)
        try:
            await until(lambda: state(one) == state(two) == "reconnecting", "silence noticed")
        finally:
            proc.send_signal(signal.SIGCONT)
        await until(lambda: state(one) == state(two) == "connected", "both reconnected")
        await crosses(one, b, "r", again=True)
        await b.sio.disconnect()
