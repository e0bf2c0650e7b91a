"""The standalone server's HTTP timeouts: clients that send headers or bodies slowly
(slowloris) are cut off, while healthy clients go on being served.

The timeouts here are 1 s so that the tests are quick; the tests only assert that the slow
connections are closed before a generous deadline, never when.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from jupyter_sio import ConfigError, HubServer

from .conftest import make_hub
from .raw import (
    EIO,
    RawConnection,
    Reference,
    get_request,
    handshake,
    post_head,
    reference_clients,
)

SLOW_CLIENTS = 200


@pytest.fixture
async def timed(frontend: str) -> AsyncIterator[tuple[HubServer, Reference]]:
    hub, _events = make_hub(ping_interval=5, ping_timeout=20)
    server = HubServer(hub, header_timeout=1.0, body_timeout=1.0, http=frontend)  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    async with reference_clients(hub, server.port) as ref:
        yield server, ref
    await server.stop()


async def trickle(conn: RawConnection, data: bytes) -> None:
    """Send ``data`` one byte a second until done or the server hangs up."""
    for byte in data:
        if conn.reader.at_eof():
            return
        try:
            conn.writer.write(bytes([byte]))
            await conn.writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            return
        await asyncio.sleep(1)


async def slow_attack(port: int, data: bytes) -> tuple[list[RawConnection], list[asyncio.Future]]:
    conns = [await RawConnection.open(port) for _ in range(SLOW_CLIENTS)]
    return conns, [asyncio.ensure_future(trickle(c, data)) for c in conns]


async def test_slowloris_headers_are_closed_and_others_served(
    timed: tuple[HubServer, Reference],
) -> None:
    server, ref = timed
    assert server.port is not None
    request = get_request(server.port, EIO)
    assert len(request) > 60  # a minute at one byte a second: far past any deadline below
    conns, tricklers = await slow_attack(server.port, request[:-1])  # never complete
    # While they trickle: everyone else is served, and new clients get in.
    await ref.served()
    assert await handshake(server.port)
    closed = await asyncio.gather(*(conn.closed_by_server() for conn in conns))
    assert all(closed), f"{closed.count(False)} slow connections still open"
    await asyncio.gather(*tricklers)
    for conn in conns:
        conn.close()
    await ref.served()


async def test_slow_bodies_are_closed_and_others_served(
    timed: tuple[HubServer, Reference],
) -> None:
    server, ref = timed
    assert server.port is not None
    sid = await handshake(server.port)
    conns = [await RawConnection.open(server.port) for _ in range(20)]
    for conn in conns:
        await conn.send(post_head(server.port, sid, {"Content-Length": "100"}))
    tricklers = [asyncio.ensure_future(trickle(conn, b"4" * 100)) for conn in conns]
    await ref.served()
    closed = await asyncio.gather(*(conn.closed_by_server() for conn in conns))
    assert all(closed), f"{closed.count(False)} slow bodies still open"
    await asyncio.gather(*tricklers)
    for conn in conns:
        conn.close()
    await ref.served()


async def test_idle_keep_alive_connection_is_closed(timed: tuple[HubServer, Reference]) -> None:
    """The idle timeout (Tornado: its header timeout, which also runs while a kept-alive
    connection waits for its next request; native: ``idle_timeout``, by default the same)."""
    server, _ref = timed
    assert server.port is not None
    conn = await RawConnection.open(server.port)
    await conn.send(get_request(server.port, EIO))
    assert (await conn.response()).status == 200
    assert await conn.closed_by_server()
    conn.close()


async def test_held_long_poll_outlives_the_header_timeout(
    timed: tuple[HubServer, Reference],
) -> None:
    """The clock stops once the headers are in: a GET held for a ping interval (5 s here)
    is answered, not cut off."""
    server, _ref = timed
    assert server.port is not None
    sid = await handshake(server.port)
    conn = await RawConnection.open(server.port)
    await conn.send(get_request(server.port, f"{EIO}&sid={sid}"))
    response = await conn.response()
    assert response.status == 200 and response.body == b"2"  # the heartbeat released it
    conn.close()


@pytest.mark.parametrize("name", ["header_timeout", "body_timeout"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), "10"])
def test_timeouts_must_be_positive_seconds(name: str, value: object) -> None:
    hub, _ = make_hub()
    with pytest.raises(ConfigError, match=name):
        HubServer(hub, **{name: value})  # type: ignore[arg-type]
