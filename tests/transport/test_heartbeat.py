"""Heartbeats detect dead peers on both transports; live peers stay connected."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import Running

# A timeout well above a busy machine's scheduling delays: a live peer's pong may be late
# by a second there, and must still count (the dead-peer tests only wait longer).
pytestmark = pytest.mark.hub_settings(ping_interval=0.5, ping_timeout=3.0)


async def wait_for_event(running: Running, event: tuple[str, str], limit: float = 30) -> None:
    async def poll() -> None:
        while event not in running.events:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), limit)


async def test_websocket_peer_that_never_pongs_is_dropped(running: Running) -> None:
    ws = await running.websocket()
    await ws.read_message()
    ws.write_message("40")
    await ws.read_message()
    assert await asyncio.wait_for(ws.read_message(), 5) == "2"  # a ping we ignore
    assert await asyncio.wait_for(ws.read_message(), 5) is None  # then the server closes
    await wait_for_event(running, ("disconnect", "ping timeout"))


async def test_polling_peer_that_stops_polling_is_dropped(running: Running) -> None:
    sid = await running.handshake()
    assert (await running.post(sid, "40")).code == 200
    assert (await running.poll(sid)).startswith("40{")
    # No more GETs and no pong: the ping waits in the outbox and the deadline passes.
    await wait_for_event(running, ("disconnect", "ping timeout"))
    response = await running.post(sid, "3")
    assert response.code == 400


async def test_live_websocket_peer_survives_many_heartbeats(running: Running) -> None:
    ws = await running.websocket()
    await ws.read_message()
    ws.write_message("40")
    await ws.read_message()
    for _ in range(4):  # ping interval is 0.5 s: answer four pings
        assert await asyncio.wait_for(ws.read_message(), 5) == "2"
        ws.write_message("3")
    ws.write_message('42["echo","alive"]')
    ws.write_message('421["echo","alive"]')
    while (message := await asyncio.wait_for(ws.read_message(), 5)) == "2":
        ws.write_message("3")
    assert message == '431["alive"]'
    assert running.events == []
    ws.close()


async def test_live_polling_peer_survives_heartbeats(running: Running) -> None:
    sid = await running.handshake()
    await running.post(sid, "40")
    assert (await running.poll(sid)).startswith("40{")
    pings = 0
    while pings < 3:
        payload = await running.poll(sid)  # held until the next ping (or the hold ends)
        assert payload in ("2", "6"), payload
        if payload == "2":
            pings += 1
            assert (await running.post(sid, "3")).code == 200
    assert running.events == []
    await running.post(sid, "1")
    await wait_for_event(running, ("disconnect", "transport close"))
