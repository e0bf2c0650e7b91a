"""Outbound policies against a real client that stops reading (its TCP window fills up)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_sio import BufferFull, Socket
from jupyter_sio.hub.delivery import DONE, Pending
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
        if channel.ws.congested:  # type: ignore[attr-defined]
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


async def test_a_reliable_emit_that_finds_no_room_within_send_timeout_disconnects(
    running: Running, caplog: pytest.LogCaptureFixture,
) -> None:
    client, socket = await stalled_socket(running)
    await fill(socket)
    queued = [socket.emit("reliable", n) for n in range(8)]  # max_buffer_packets=8
    delivery = socket.emit("one more", "y" * 1000)
    assert isinstance(delivery, Pending)  # past the buffer the emit waits for room...
    with pytest.raises(BufferFull, match="send_timeout"):
        await delivery  # ...and fails clearly when none comes (send_timeout=0.5)
    assert all(d is DONE for d in queued)
    assert not socket.connected  # the client that does not read is disconnected, once
    stuck = [r for r in caplog.records if "disconnecting" in r.getMessage()]
    assert len(stuck) == 1
    client.close()


async def test_emits_past_a_waiting_packet_disconnect_a_client_that_does_not_read(
    running: Running, caplog: pytest.LogCaptureFixture,
) -> None:
    """Memory stays bounded: a connection holds at most one packet beyond its buffer."""
    client, socket = await stalled_socket(running)
    await fill(socket)
    deliveries = []
    while socket.connected:
        deliveries.append(socket.emit("reliable", len(deliveries)))
    waiting = [d for d in deliveries if isinstance(d, Pending)]
    assert len(waiting) == 2  # the held one, and the one that found it held
    for delivery in waiting:
        with pytest.raises(BufferFull, match="not reading"):
            await delivery
    assert len([r for r in caplog.records if "disconnecting" in r.getMessage()]) == 1
    client.close()


async def test_reliable_emits_all_arrive_in_order_when_the_emitter_awaits(
    running: Running,
) -> None:
    client, socket = await stalled_socket(running)
    await fill(socket)
    reader = asyncio.ensure_future(client.read_events(until="last"))
    for n in range(30):
        await socket.emit("reliable", n)  # backpressure: waits while the client drains
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
