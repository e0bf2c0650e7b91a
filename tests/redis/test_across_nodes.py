"""Hub features that span nodes through Redis: presence lists every node's members, and a
client event nothing on its node handles reaches a kernel on another node (one kernel, by
the routing rules), whose answer comes back as the client's ack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import socketio

from jupyter_sio import Hub, HubServer
from jupyter_sio.hub.redis_adapter import redis_adapter
from jupyter_sio.protocol.link_codec import LinkKind, encode_frame
from tests.hub.test_kernel_peer import RecordingWriter, kernel, send

DEADLINE = 30.0


@pytest.fixture
async def nodes(redis_url: str) -> AsyncIterator[list[HubServer]]:
    servers = []
    for _ in range(3):
        hub = Hub(adapter=redis_adapter(redis_url, prefix="across"))
        hub.enable_browser_events()
        servers.append(HubServer(hub))
    for server in servers:
        await server.start("127.0.0.1", 0)
    yield servers
    for server in servers:
        await server.stop()


class Browser:
    """A python-socketio client that keeps the latest ``sio:presence`` list per room."""

    def __init__(self, server: HubServer) -> None:
        self.server = server
        self.client = socketio.AsyncClient(reconnection=False)
        self.presence: dict[str, list[str]] = {}
        self.changed = asyncio.Event()
        self.client.on("sio:presence", self._on_presence)

    def _on_presence(self, msg: dict[str, Any]) -> None:
        self.presence[msg["room"]] = sorted(s["name"] for s in msg["sockets"])
        self.changed.set()

    async def connect(self) -> Browser:
        await self.client.connect(
            f"http://127.0.0.1:{self.server.port}", transports=["websocket"], wait_timeout=10
        )
        return self

    async def subscribe(self, room: str, name: str) -> None:
        reply = await self.client.call(
            "sio:subscribe", {"rooms": [room], "announce": True, "name": name}, timeout=10
        )
        assert reply["ok"], reply

    async def sees(self, room: str, names: list[str]) -> None:
        """Wait (bounded) until the latest presence list of ``room`` is ``names``."""

        async def until() -> None:
            while self.presence.get(room) != sorted(names):
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(until(), DEADLINE)
        except asyncio.TimeoutError:
            raise AssertionError(f"{room}: saw {self.presence.get(room)}, not {names}") from None


async def test_presence_lists_the_members_of_every_node(nodes: list[HubServer]) -> None:
    browsers = [await Browser(server).connect() for server in nodes]
    names = ["alice", "bob", "carol"]
    # all three arrive at once, on three nodes: every list ends up complete
    await asyncio.gather(*(b.subscribe("study", n) for b, n in zip(browsers, names, strict=True)))
    for browser in browsers:
        await browser.sees("study", names)
    # a member who leaves (disconnects) disappears from the other nodes' lists
    await browsers[1].client.disconnect()
    for browser in (browsers[0], browsers[2]):
        await browser.sees("study", ["alice", "carol"])
    # rooms are separate
    await browsers[2].subscribe("other", "carol")
    await browsers[2].sees("other", ["carol"])
    assert browsers[0].presence.get("other") is None
    for browser in (browsers[0], browsers[2]):
        await browser.client.disconnect()


async def vote_kernel(
    server: HubServer, kernel_id: str, rooms: list[str] | None = None
) -> RecordingWriter:
    handler: list[Any] = ["/", "vote", rooms] if rooms else ["/", "vote"]
    _, writer = await kernel(server.hub, kernel_id, [handler])
    return writer


async def events(writer: RecordingWriter, count: int) -> list[tuple[dict[str, Any], Any]]:
    """The first ``count`` event frames the kernel got (waits, bounded)."""

    async def until() -> list[tuple[dict[str, Any], Any]]:
        while len(writer.frames("event")) < count:
            await asyncio.sleep(0.01)  # paces the look at the recording
        return [(h, json.loads(p or "[]")) for _, h, p in writer.frames("event")]

    return await asyncio.wait_for(until(), DEADLINE)


async def test_an_event_reaches_the_kernel_of_another_node_and_its_answer_comes_back(
    nodes: list[HubServer],
) -> None:
    one, two, _ = nodes
    writer = await vote_kernel(one, "k-one")
    peer = next(iter(one.hub.kernel_peers))
    browser = await Browser(two).connect()

    answer = asyncio.ensure_future(
        browser.client.call("vote", ({"choice": 1}, b"\x07"), timeout=DEADLINE)
    )
    [(header, data)] = await events(writer, 1)
    # the kernel sees the sender as its node authenticated it
    assert header["sid"] == browser.client.get_sid() and header["user"] == "anonymous"
    assert data[:2] == ["vote", {"choice": 1}]
    assert header["n"] == 1  # the bytes travel on as an attachment
    send(peer, encode_frame(LinkKind.ANSWER, {"id": header["id"]}, '[{"ok":true}]'))
    assert await answer == {"ok": True}
    # the kernel reaches the remote sender as it reaches local ones: by its id
    heard: asyncio.Queue[Any] = asyncio.Queue()
    browser.client.on("thanks", heard.put_nowait)
    send(peer, encode_frame(LinkKind.EMIT, {"ns": "/", "to": [header["sid"]]}, '2["thanks","bob"]'))
    assert await asyncio.wait_for(heard.get(), DEADLINE) == "bob"

    # nobody anywhere handles it: the usual answer, at once
    unhandled = await browser.client.call("nobody-handles-this", timeout=DEADLINE)
    assert unhandled["error"] == "unhandled"
    await browser.client.disconnect()


async def test_the_best_kernel_of_all_nodes_gets_the_event(nodes: list[HubServer]) -> None:
    one, two, three = nodes
    plain = await vote_kernel(one, "k-plain")
    scoped = await vote_kernel(three, "k-scoped", ["team"])
    member = await Browser(two).connect()
    assert (await member.client.call("sio:subscribe", {"rooms": ["team"]}, timeout=10))["ok"]
    outsider = await Browser(two).connect()
    await member.client.emit("vote", "from a member")
    await outsider.client.emit("vote", "from outside")
    [(_, scoped_data)] = await events(scoped, 1)
    [(_, plain_data)] = await events(plain, 1)
    assert scoped_data == ["vote", "from a member"]
    assert plain_data == ["vote", "from outside"]
    # one socket's events keep their order on the way
    for n in range(20):
        await outsider.client.emit("vote", n)
    got = await events(plain, 21)
    assert [data[1] for _, data in got[1:]] == list(range(20))
    for browser in (member, outsider):
        await browser.client.disconnect()
