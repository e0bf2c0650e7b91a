"""Inputs that used to crash, stall or balloon the hub, sent to a running hub: each gets a
clear answer or a clean close of that client only, a healthy client keeps being served at
once, and the hub's memory stays far from what the input asks for."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from tests.peers.servers import ServerProcess
from tests.peers.stalled import StalledClient

from .conftest import Healthy, rss_of

BOUND = 64 * 1024 * 1024


async def raw_socket(server: ServerProcess) -> WebSocketClientConnection:
    """A WebSocket Socket.IO client by hand, connected to namespace ``/``."""
    conn = await websocket_connect(f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket")
    opened = await asyncio.wait_for(conn.read_message(), 30)
    assert isinstance(opened, str) and opened.startswith("0{")
    await conn.write_message("40")
    connected = await asyncio.wait_for(conn.read_message(), 30)
    assert isinstance(connected, str) and connected.startswith("40{")
    return conn


async def closed_by_hub(conn: WebSocketClientConnection) -> bool:
    """Read until the hub closes this connection (False: an answer came instead)."""
    while True:
        message = await asyncio.wait_for(conn.read_message(), 30)
        if message is None:
            return True
        if isinstance(message, str) and message.startswith("43"):
            return False


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param('421["echo",' + nested(600) + "]", id="nested-600"),
        pytest.param('421["echo",' + nested(100_000) + "]", id="nested-100000"),
        pytest.param('421["echo",' + '{"a":' * 5000 + "1" + "}" * 5000 + "]", id="objects-5000"),
        pytest.param('421["echo",NaN]', id="NaN"),
        pytest.param('421["echo",[1,-Infinity]]', id="Infinity"),
    ],
)
async def test_bad_json_closes_that_client_only(
    hostile: ServerProcess, healthy: Healthy, packet: str
) -> None:
    conn = await raw_socket(hostile)
    try:
        await conn.write_message(packet)
        assert await closed_by_hub(conn)
    finally:
        conn.close()
    await healthy.served()


async def test_one_attachment_referenced_many_times_is_refused(
    hostile: ServerProcess, healthy: Healthy
) -> None:
    before = rss_of(hostile)
    conn = await raw_socket(hostile)
    try:
        refs = ",".join(['{"_placeholder":true,"num":0}'] * 2000)
        await conn.write_message(f'451-1["echo",{refs}]')
        await conn.write_message(os.urandom(280_000), binary=True)
        assert await closed_by_hub(conn)
    finally:
        conn.close()
    await healthy.served()
    assert rss_of(hostile) - before < BOUND


async def test_a_presence_bomb_is_refused_and_bounded_subscribes_stay_cheap(
    hostile: ServerProcess, healthy: Healthy
) -> None:
    before = rss_of(hostile)
    rooms = [f"room-{n}" for n in range(6000)]
    answer = await healthy.call("sio:subscribe", {"rooms": rooms, "announce": True})
    assert answer["ok"] is False and "at most 500 rooms" in answer["error"]
    answer = await healthy.call("sio:subscribe", {"rooms": rooms[:500], "announce": True})
    assert answer["ok"] is True
    answer = await healthy.call("sio:subscribe", {"rooms": ["one more"]})
    assert answer["ok"] is False  # the cap counts every subscribe of the socket
    long_name = await healthy.call("sio:subscribe", {"rooms": ["x" * 100_000]})
    assert long_name["ok"] is False and "at most 256 characters" in long_name["error"]
    await healthy.served()
    assert rss_of(hostile) - before < BOUND


async def test_a_binary_packet_announcing_too_many_attachments_is_a_protocol_error(
    hostile: ServerProcess, healthy: Healthy
) -> None:
    client = await StalledClient.connect(hostile.port)
    client.send('45999999-["echo"]')
    assert await client.closed_by_server()
    client.close()
    await healthy.served()


async def test_answers_echo_json_the_way_clients_wrote_it(healthy: Healthy) -> None:
    """The limits leave ordinary deep-ish data alone (50 levels, both kinds)."""
    value = json.loads(nested(50))
    assert await healthy.call("echo", value) == value
