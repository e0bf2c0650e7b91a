"""The msgpack parser: the official client with ``socket.io-msgpack-parser`` (npm) and
python-socketio's msgpack serializer against both servers using that parser, on every
transport setting, binary both ways; and a client with the other parser is told so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import socketio

from tests.peers.common import is_event, is_type
from tests.peers.servers import KINDS, ServerProcess

from .conftest import TRANSPORTS, node_transport_opts

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module", params=KINDS)
def msgpack_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    server = ServerProcess(request.param, parser="msgpack", start_timeout=60)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_the_official_client_with_the_msgpack_parser(
    msgpack_server: ServerProcess, node_puppets, transport: str
) -> None:
    puppet = await node_puppets.get()
    url = msgpack_server.ns_url("/")
    opts = {**node_transport_opts(transport), "parser": "msgpack", "reconnection": False}
    a = await puppet.connect(url, **opts)
    b = await puppet.connect(url, **opts)
    try:
        blob = bytes([0, 1, 2, 255])
        assert await a.emit_ack("echo", "text", 7, blob, {"nested": [blob]}) == [
            "text", 7, blob, {"nested": [blob]}]
        data = (await a.emit_ack("make_binary", 300))[0]
        assert data == bytes(i % 256 for i in range(300))
        bin_event = await a.log.wait(is_event("bin"))
        assert bin_event["args"][0]["list"] == [b"\x01\x02", "text", b"\xff"]
        assert await b.emit_ack("join", "room") == [True]
        assert await a.emit_ack("say", {"room": "room", "msg": "hi"}) == ["ok"]
        said = await b.log.wait(is_event("said"))
        assert said["args"][0]["msg"] == "hi"
        if transport == "polling+upgrade":
            await a.wait_transport("websocket")
            assert await a.emit_ack("echo", blob) == [blob]
    finally:
        await a.close()
        await b.close()


async def test_python_socketio_with_its_msgpack_serializer(msgpack_server: ServerProcess
                                                           ) -> None:
    client = socketio.AsyncClient(serializer="msgpack", reconnection=False)
    await client.connect(msgpack_server.url, transports=["websocket"], wait_timeout=30)
    try:
        assert await client.call("echo", b"\x00\xff", timeout=30) == b"\x00\xff"
    finally:
        await client.disconnect()


async def test_a_default_parser_client_on_a_msgpack_hub_is_told(node_puppets) -> None:
    server = ServerProcess("jupyter_sio", parser="msgpack")
    await server.astart()
    try:
        puppet = await node_puppets.get()
        sock = await puppet.connect(server.ns_url("/"), wait=False, transports=["websocket"],
                                    reconnection=True, reconnectionDelay=100)
        error = await sock.log.wait(is_type("connect_error"), timeout=30)
        assert "parser mismatch" in error["message"] and error["active"] is False
        await sock.close()
    finally:
        await server.astop()
