"""Outbound policies against a real client that stops reading (its TCP window fills up)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_sio import BufferFull, Socket
from tests.peers.stalled import StalledClient

from .conftest import Running

pytestmark = pytest.mark.hub_settings(
    write_high_water=64 * 1024, max_buffer_packets=8, max_buffer_bytes=1 << 20,
    send_timeout=0.5, ping_interval=30, ping_timeout=30,
)


async def stalled_socket(running: Running) -> tuple[StalledClient, Socket]:
    client = await StalledClient.connect(running.server.port)
    for _ in range(100):
        sockets = list(running.hub.default.sockets.values())
        if sockets:
            return client, sockets[0]
        await asyncio.sleep(0.01)
    raise AssertionError("socket did not connect")


BIG = "x" * 256_000


async def fill(socket: Socket) -> None:
    """Emit big reliable packets until the connection counts as congested."""
    channel = socket.client.channel
    for _ in range(200):
        socket.emit("filler", BIG)
        if channel._congested:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0)
    raise AssertionError("the stalled client never congested the connection")


async def test_keyed_packets_conflate_to_the_newest_value(running: Running) -> None:
    client, socket = await stalled_socket(running)
    await fill(socket)
    for value in range(100):
        socket.emit("metric", value, key="cpu")
    socket.emit("end")
    stats = socket.client.channel.stats()  # type: ignore[attr-defined]
    assert stats["conflated"] == 99
    events = await client.read_events(until="end")  # reading again drains everything
    assert [e for e in events if e[0] == "metric"] == [["metric", 99]]
    client.close()


async def test_volatile_packets_are_dropped_while_congested(running: Running) -> None:
    client, socket = await stalled_socket(running)
    await fill(socket)
    for value in range(50):
        socket.emit("position", value, volatile=True)
    socket.emit("end")
    assert socket.client.channel.stats()["dropped"] == 50  # type: ignore[attr-defined]
    events = await client.read_events(until="end")
    assert not [e for e in events if e[0] == "position"]
    client.close()


async def test_reliable_emit_fails_with_buffer_full_when_the_client_never_drains(
    running: Running,
) -> None:
    client, socket = await stalled_socket(running)
    await fill(socket)
    deliveries = [socket.emit("reliable", n, "y" * 1000) for n in range(20)]
    waiting = [d for d in deliveries if isinstance(d, asyncio.Future)]
    assert waiting  # past max_buffer_packets the emits wait for room...
    results = await asyncio.gather(*waiting, return_exceptions=True)
    # ...and fail clearly when none comes (send_timeout=0.5)
    assert all(isinstance(r, BufferFull) and "send_timeout" in str(r) for r in results)
    client.close()


async def test_reliable_emits_all_arrive_in_order_once_the_client_reads(running: Running) -> None:
    client, socket = await stalled_socket(running)
    await fill(socket)
    deliveries = [socket.emit("reliable", n) for n in range(30)]
    reader = asyncio.ensure_future(client.read_events(until="last"))
    for delivery in deliveries:
        await delivery  # backpressure: resolves as the client drains
    socket.emit("last")
    events = await reader
    assert [e[1] for e in events if e[0] == "reliable"] == list(range(30))
    client.close()


async def test_a_stalled_client_does_not_hold_up_a_room_broadcast(running: Running) -> None:
    client, stalled = await stalled_socket(running)
    import socketio

    fast = socketio.AsyncClient(reconnection=False)
    got: list[Any] = []
    fast.on("news", lambda n: got.append(n))
    await fast.connect(f"http://127.0.0.1:{running.server.port}", transports=["websocket"])
    for s in running.hub.default.sockets.values():
        s.join("room")
    await fill(stalled)
    for n in range(20):
        running.hub.to("room").emit("news", n)
    for _ in range(200):
        if len(got) == 20:
            break
        await asyncio.sleep(0.01)
    assert got == list(range(20))  # the fast client got everything, in order
    await fast.disconnect()
    client.close()
