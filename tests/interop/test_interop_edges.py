"""Edge behaviour of the HTTP layer, raw, against both servers: jupyter_sio must answer
exactly as Node's engine.io does (the same test runs against the reference server)."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.websocket import websocket_connect

from tests.peers.common import is_type
from tests.peers.servers import ServerProcess

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def fetch(server, query: str, method: str = "GET", body: str | None = None
                ) -> HTTPResponse:
    return await AsyncHTTPClient().fetch(
        f"{server.url}/socket.io/?{query}", method=method, body=body, raise_error=False,
        request_timeout=30, allow_nonstandard_methods=True,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )


async def test_another_method_is_a_bad_handshake_method(server) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = await fetch(server, "EIO=4&transport=polling", method, body="x")
        assert response.code == 400, (method, response.code)
        assert json.loads(response.body) == {"code": 2, "message": "Bad handshake method"}


async def test_error_bodies_are_compact_json(server) -> None:
    response = await fetch(server, "EIO=4&transport=polling&sid=nope")
    assert response.code == 400
    assert response.body == b'{"code":1,"message":"Session ID unknown"}'


async def test_a_client_that_closes_gets_a_noop_on_its_held_get(server) -> None:
    # The GET must be held when the close arrives, which no client can see from outside:
    # give it a moment (answering heartbeats meanwhile), and start over if the close still
    # came first.
    query = ""
    for _ in range(20):
        if not query:
            opened = await fetch(server, "EIO=4&transport=polling")
            query = f"EIO=4&transport=polling&sid={json.loads(opened.body.decode()[1:])['sid']}"
        held = asyncio.ensure_future(fetch(server, query))
        await asyncio.sleep(0.2)
        if held.done():
            assert held.result().body == b"2", held.result().body  # a ping: answer it
            assert (await fetch(server, query, "POST", "3")).code == 200
            continue
        closing = await fetch(server, query, "POST", "1")
        assert closing.code == 200
        answer = await asyncio.wait_for(held, 30)
        if answer.body == b"2":
            query = ""  # a ping was on its way: the GET was not held when the close came
            continue
        assert (answer.code, answer.body) == (200, b"6")
        return
    raise AssertionError("the GET was never held when the close arrived")


async def test_the_connect_answer_rides_the_held_get(server) -> None:
    """A CONNECT is answered at once (no async middleware here), so a GET held meanwhile
    carries it, as from Node, and the official client's ``connect`` can fire on polling."""
    opened = await fetch(server, "EIO=4&transport=polling")
    query = f"EIO=4&transport=polling&sid={json.loads(opened.body.decode()[1:])['sid']}"
    for _ in range(20):
        held = asyncio.ensure_future(fetch(server, query))
        await asyncio.sleep(0.2)
        if not held.done():
            break
        assert held.result().body == b"2"  # a ping: answer it and hold another GET
        await fetch(server, query, "POST", "3")
    assert (await fetch(server, query, "POST", "40")).code == 200
    answer = await asyncio.wait_for(held, 30)
    assert answer.body.startswith(b"40{"), answer.body


async def test_no_noop_reaches_the_websocket_after_an_upgrade(server) -> None:
    """Node releases a held GET with a noop when the probe comes, and writes none on the new
    WebSocket; the first thing after "5" is the answer to the next request."""
    opened = await fetch(server, "EIO=4&transport=polling")
    sid = json.loads(opened.body.decode()[1:])["sid"]
    query = f"EIO=4&transport=polling&sid={sid}"
    assert (await fetch(server, query, "POST", "40")).code == 200
    assert (await fetch(server, query)).body.startswith(b"40{")
    ws = await websocket_connect(f"ws://{server.host}:{server.port}/socket.io/"
                                 f"?EIO=4&transport=websocket&sid={sid}")
    try:
        await ws.write_message("2probe")
        assert await asyncio.wait_for(ws.read_message(), 30) == "3probe"
        await ws.write_message("5")
        await ws.write_message('421["echo","upgraded"]')
        while (message := await asyncio.wait_for(ws.read_message(), 30)) == "2":
            await ws.write_message("3")
        assert message == '431["upgraded"]'
    finally:
        ws.close()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_client_with_the_msgpack_parser_is_told_and_stops(node_puppets, transport
                                                                  ) -> None:
    """jupyter_sio only: Node closes such a client, which then reconnects for ever."""
    server = ServerProcess("jupyter_sio")
    await server.astart()
    try:
        puppet = await node_puppets.get()
        sock = await puppet.connect(server.ns_url("/"), wait=False, parser="msgpack",
                                    transports=[transport], reconnection=True,
                                    reconnectionDelay=100)
        error = await sock.log.wait(is_type("connect_error"), timeout=30)
        assert "parser mismatch" in error["message"] and error["active"] is False
        await sock.close()
    finally:
        await server.astop()
