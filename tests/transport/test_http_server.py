"""The HTTP front ends over real sockets: keep-alive, pipelining, held GETs, clients that
leave, the kernel link's secret, static files. Tests marked for both front ends check that
an Engine.IO client sees the same thing from each; the rest are the native one's own."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator

import pytest

from jupyter_sio import HubServer
from jupyter_sio.protocol.link_codec import TOKEN_HEADER

from .conftest import Running, make_hub
from .raw import DEADLINE, EIO, RawConnection, get_request, handshake, post_head

SECRET = "s3cret-kernel-token"


@pytest.fixture
async def linked(frontend: str) -> AsyncIterator[HubServer]:
    hub, _ = make_hub()
    server = HubServer(hub, http=frontend, kernel_secret=SECRET, demo_page=True)  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


def port_of(running: Running) -> int:
    assert running.server.port is not None
    return running.server.port


async def test_many_requests_on_one_kept_alive_connection(running: Running) -> None:
    port = port_of(running)
    conn = await RawConnection.open(port)
    sids = set()
    for _ in range(50):
        await conn.send(get_request(port, EIO))
        response = await conn.response()
        assert response.status == 200 and response.body.startswith(b"0{")
        sids.add(json.loads(response.body[1:])["sid"])
    assert len(sids) == 50
    sid = sids.pop()
    for i in range(20):
        body = f'42["echo",{i}]'.encode() if i else b"40"
        await conn.send(post_head(port, sid, {"Content-Length": str(len(body))}) + body)
        response = await conn.response()
        assert response.status == 200 and response.body == b"ok"
    conn.close()


async def test_pipelined_requests_are_answered_in_order(running: Running) -> None:
    port = port_of(running)
    conn = await RawConnection.open(port)
    bad = b"GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n"
    await conn.send(get_request(port, EIO) + bad + get_request(port, EIO))
    first, second, third = [await conn.response() for _ in range(3)]
    assert first.status == 200 and first.body.startswith(b"0{")
    assert second.status == 400 and second.json() == {
        "code": 5,
        "message": "Unsupported protocol version",
    }
    assert third.status == 200 and third.body.startswith(b"0{")
    conn.close()


async def test_held_get_is_released_by_a_post_on_another_connection(running: Running) -> None:
    port = port_of(running)
    sid = await handshake(port)
    getter = await RawConnection.open(port)
    await getter.send(get_request(port, f"{EIO}&sid={sid}"))
    held = asyncio.ensure_future(getter.response())
    await asyncio.sleep(0.05)
    assert not held.done()
    poster = await RawConnection.open(port)
    await poster.send(post_head(port, sid, {"Content-Length": "2"}) + b"40")
    assert (await poster.response()).body == b"ok"
    response = await asyncio.wait_for(held, DEADLINE)
    assert response.status == 200 and response.body.startswith(b"40{")
    getter.close()
    poster.close()


@pytest.mark.hub_settings(ping_interval=5, ping_timeout=20, polling_timeout=0.1)
async def test_polling_timeout_releases_a_held_get_with_a_noop(running: Running) -> None:
    port = port_of(running)
    sid = await handshake(port)
    getter = await RawConnection.open(port)
    await getter.send(get_request(port, f"{EIO}&sid={sid}"))
    response = await asyncio.wait_for(getter.response(), DEADLINE)
    assert response.status == 200 and response.body == b"6"
    assert sid in running.server.engine.connections  # the session goes on
    getter.close()


@pytest.mark.hub_settings(ping_interval=5, ping_timeout=20)
async def test_a_cancelled_poll_leaves_the_session_to_the_next_get(running: Running) -> None:
    port = port_of(running)
    sid = await handshake(port)
    conn = running.server.engine.connections[sid]
    waiter = asyncio.ensure_future(conn.poll())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    poster = await RawConnection.open(port)
    await poster.send(post_head(port, sid, {"Content-Length": "2"}) + b"40")
    assert (await poster.response()).body == b"ok"
    getter = await RawConnection.open(port)
    await getter.send(get_request(port, f"{EIO}&sid={sid}"))  # not an overlapping GET
    assert (await asyncio.wait_for(getter.response(), DEADLINE)).body.startswith(b"40{")
    getter.close()
    poster.close()


@pytest.mark.hub_settings(ping_interval=5, ping_timeout=20)
async def test_client_leaving_a_held_get_is_a_transport_error(running: Running) -> None:
    port = port_of(running)
    sid = await handshake(port)
    poster = await RawConnection.open(port)
    await poster.send(post_head(port, sid, {"Content-Length": "2"}) + b"40")
    assert (await poster.response()).body == b"ok"
    getter = await RawConnection.open(port)
    await getter.send(get_request(port, f"{EIO}&sid={sid}"))
    assert (await getter.response()).body.startswith(b"40{")  # the CONNECT answer
    await getter.send(get_request(port, f"{EIO}&sid={sid}"))  # held: nothing to send
    while not running.server.engine.connections[sid]._poll:  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    getter.close()

    async def disconnected() -> None:
        while ("disconnect", "transport error") not in running.events:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(disconnected(), DEADLINE)
    assert sid not in running.server.engine.connections
    poster.close()


async def test_expect_100_continue_gets_continue_then_the_answer(running: Running) -> None:
    port = port_of(running)
    sid = await handshake(port)
    conn = await RawConnection.open(port)
    await conn.send(post_head(port, sid, {"Content-Length": "2", "Expect": "100-continue"}))
    interim = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), DEADLINE)
    assert interim.startswith(b"HTTP/1.1 100 ")
    await conn.send(b"40")
    response = await conn.response()
    assert response.status == 200 and response.body == b"ok"
    conn.close()


async def test_other_methods_are_a_bad_handshake_method(running: Running) -> None:
    response = await running.http("EIO=4&transport=polling", "PUT", b"x")
    assert response.code == 400
    assert json.loads(response.body) == {"code": 2, "message": "Bad handshake method"}


async def test_http10_request_is_answered_and_closed(running: Running) -> None:
    port = port_of(running)
    conn = await RawConnection.open(port)
    await conn.send(f"GET {EIO} HTTP/1.0\r\n\r\n".encode())
    response = await conn.response()
    assert response.status == 200 and response.body.startswith(b"0{")
    assert await conn.closed_by_server()
    conn.close()


# -- the kernel link ---------------------------------------------------------------------------
async def _upgrade(port: int, path: str, headers: dict[str, str]) -> bytes:
    conn = await RawConnection.open(port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    await conn.send(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), DEADLINE)
    conn.close()
    return head


async def test_kernel_link_accepts_the_secret(linked: HubServer) -> None:
    assert linked.port is not None
    head = await _upgrade(linked.port, "/kernel/", {TOKEN_HEADER: SECRET})
    assert head.startswith(b"HTTP/1.1 101")


@pytest.mark.parametrize("presented", [None, "wrong"])
async def test_kernel_link_refuses_a_wrong_or_missing_secret(
    linked: HubServer, presented: str | None
) -> None:
    assert linked.port is not None
    headers = {TOKEN_HEADER: presented} if presented else {}
    head = await _upgrade(linked.port, "/kernel/", headers)
    assert head.startswith(b"HTTP/1.1 403")


async def test_kernel_link_refuses_another_origin(linked: HubServer) -> None:
    assert linked.port is not None
    head = await _upgrade(linked.port, "/kernel/", {TOKEN_HEADER: SECRET, "Origin": "http://evil"})
    assert head.startswith(b"HTTP/1.1 403")


# -- the native front end's own ------------------------------------------------------------------
@pytest.fixture
async def native() -> AsyncIterator[HubServer]:
    hub, _ = make_hub()
    server = HubServer(hub, demo_page=True, kernel_secret=SECRET)
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


async def _get(port: int, target: str) -> tuple[int, dict[str, str], bytes]:
    conn = await RawConnection.open(port)
    await conn.send(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    response = await conn.response()
    conn.close()
    return response.status, response.headers, response.body


async def test_static_files_of_the_demo_page(native: HubServer) -> None:
    assert native.port is not None
    status, headers, _ = await _get(native.port, "/?name=alice")
    assert status == 301 and headers["location"] == "/index.html?name=alice"
    status, headers, body = await _get(native.port, "/index.html")
    assert status == 200 and headers["content-type"] == "text/html" and b"<html" in body.lower()


@pytest.mark.parametrize(
    "target",
    ["/../server.py", "/%2e%2e/server.py", "/vendor/../../server.py", "/nope.html", "/a%00b"],
)
async def test_static_files_never_leave_their_directory(native: HubServer, target: str) -> None:
    assert native.port is not None
    status, _, body = await _get(native.port, target)
    assert status == 404 and b"import" not in body


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (
            b"POST /socket.io/ HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: "
            b"chunked\r\n\r\n",
            400,
        ),
        (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 70_000, 431),
    ],
)
async def test_malformed_requests_are_answered_and_closed(
    native: HubServer, request_bytes: bytes, status: int
) -> None:
    assert native.port is not None
    conn = await RawConnection.open(native.port)
    await conn.send(request_bytes)
    response = await conn.response()
    assert response.status == status
    assert await conn.closed_by_server()
    conn.close()
