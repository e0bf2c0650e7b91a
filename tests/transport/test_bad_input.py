"""Invalid requests get the response the protocol defines; the hub keeps serving others."""

from __future__ import annotations

import asyncio
import json

import pytest
import socketio

from .conftest import Running


async def assert_still_serving(running: Running) -> None:
    """A well-behaved python-socketio client still connects and gets its ack."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        f"http://127.0.0.1:{running.server.port}", transports=["websocket"], wait_timeout=5
    )
    try:
        assert await client.call("echo", "still here", timeout=5) == "still here"
    finally:
        await client.disconnect()


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("EIO=4&transport=carrier-pigeon", 0, "Transport unknown"),
        ("EIO=3&transport=polling", 5, "Unsupported protocol version"),
        ("transport=polling", 5, "Unsupported protocol version"),
        ("EIO=4&transport=polling&sid=nope", 1, "Session ID unknown"),
        ("EIO=4&transport=websocket", 3, "Bad request"),  # websocket without Upgrade
    ],
)
async def test_bad_query_gets_engineio_json_error(
    running: Running, query: str, code: int, message: str
) -> None:
    response = await running.http(query)
    assert response.code == 400
    assert error_of(response) == {"code": code, "message": message}
    await assert_still_serving(running)


async def test_post_without_sid_is_a_bad_handshake_method(running: Running) -> None:
    response = await running.http("EIO=4&transport=polling", "POST", "40")
    assert response.code == 400
    assert error_of(response)["code"] == 2


async def test_post_to_unknown_sid(running: Running) -> None:
    response = await running.post("unknown", "40")
    assert response.code == 400
    assert error_of(response) == {"code": 1, "message": "Session ID unknown"}


@pytest.mark.parametrize("body", ["9", "", "4\x1eX", "bnot-base64!"])
async def test_invalid_engine_packet_closes_the_session(running: Running, body: str) -> None:
    sid = await running.handshake()
    response = await running.post(sid, body)
    assert response.code == 400
    again = await running.post(sid, "40")
    assert error_of(again)["code"] == 1  # the session is gone
    await assert_still_serving(running)


@pytest.mark.parametrize(
    "packet",
    [
        '42["echo",',  # malformed JSON
        "42{}",  # event payload must be an array
        '42["connect"]',  # reserved event name
        "9",  # unknown Socket.IO type
        '451-["echo",{"_placeholder":true,"num":0}]',  # attachment that never comes... then text
        "411-[]",  # binary header with an impossible attachment count (more than max)
    ],
)
async def test_invalid_socketio_packet_closes_with_parse_error(
    running: Running, packet: str
) -> None:
    ws = await running.websocket()
    assert (await ws.read_message()).startswith("0")
    ws.write_message("40")
    assert (await ws.read_message()).startswith("40")
    ws.write_message(packet)
    if packet.startswith("451-"):
        ws.write_message('42["echo"]')  # text while an attachment is due
    # The server closes the WebSocket; reads then return None.
    while (message := await asyncio.wait_for(ws.read_message(), 5)) is not None:
        assert message in ("2",), message  # only heartbeats may precede the close
    assert ("disconnect", "parse error") in running.events
    await assert_still_serving(running)


async def test_wrong_namespace_gets_connect_error(running: Running) -> None:
    ws = await running.websocket()
    await ws.read_message()
    ws.write_message("40/nowhere,")
    reply = await ws.read_message()
    assert reply.startswith("44/nowhere,")
    assert json.loads(reply[len("44/nowhere,") :]) == {"message": "Invalid namespace"}
    ws.write_message("40")  # the connection itself stays usable
    assert (await ws.read_message()).startswith("40{")
    ws.close()


async def test_oversized_polling_body_is_refused(running: Running) -> None:
    sid = await running.handshake()
    body = "4" + "x" * 20_000  # max_payload is 10_000 in these tests
    response = await running.post(sid, body)
    assert response.code in (400, 413)
    await assert_still_serving(running)


async def test_oversized_websocket_message_closes_that_client(running: Running) -> None:
    ws = await running.websocket()
    await ws.read_message()
    ws.write_message("40")
    await ws.read_message()
    ws.write_message('42["echo","' + "x" * 20_000 + '"]')
    while (message := await asyncio.wait_for(ws.read_message(), 5)) is not None:
        assert message == "2"
    assert ws.close_code == 1009  # message too big
    await assert_still_serving(running)


async def test_binary_attachment_without_header_closes(running: Running) -> None:
    ws = await running.websocket()
    await ws.read_message()
    ws.write_message("40")
    await ws.read_message()
    ws.write_message(b"\x00\x01", binary=True)
    while (message := await asyncio.wait_for(ws.read_message(), 5)) is not None:
        assert message == "2"
    await assert_still_serving(running)


async def test_second_concurrent_get_is_refused_and_closes_the_session(running: Running) -> None:
    sid = await running.handshake()
    first = asyncio.ensure_future(running.poll(sid))
    await asyncio.sleep(0.05)
    second = await running.http(f"EIO=4&transport=polling&sid={sid}")
    assert second.code == 400
    assert error_of(second)["code"] == 3
    assert await asyncio.wait_for(first, 5) in ("1", "6", "1\x1e1")  # released: close/noop
    assert sid not in running.server.engine.connections  # torn down, the hub told
    response = await running.post(sid, "40")
    assert response.code == 400
    await assert_still_serving(running)


async def test_websocket_upgrade_for_unknown_sid_is_closed(running: Running) -> None:
    ws = await running.websocket("EIO=4&transport=websocket&sid=unknown")
    assert await asyncio.wait_for(ws.read_message(), 5) is None
    await assert_still_serving(running)


async def test_packets_during_upgrade_probe_must_be_the_probe(running: Running) -> None:
    sid = await running.handshake()
    ws = await running.websocket(f"EIO=4&transport=websocket&sid={sid}")
    ws.write_message("40")  # not a probe: the probe socket is dropped, polling goes on
    assert await asyncio.wait_for(ws.read_message(), 5) is None
    response = await running.post(sid, "40")
    assert response.code == 200
    assert (await running.poll(sid)).startswith("40{")


@pytest.mark.hub_settings(max_attachments=2)
async def test_too_many_attachments_close_the_connection(running: Running) -> None:
    ws = await running.websocket()
    await ws.read_message()
    ws.write_message("40")
    await ws.read_message()
    ws.write_message('453-["echo",1]')
    while (message := await asyncio.wait_for(ws.read_message(), 5)) is not None:
        assert message == "2"
    assert ("disconnect", "parse error") in running.events
    await assert_still_serving(running)


async def test_cross_origin_polling_is_refused_by_default(running: Running) -> None:
    response = await running.http(
        "EIO=4&transport=polling", headers={"Origin": "http://evil.example"}
    )
    assert response.code == 403
    assert error_of(response)["code"] == 4


async def test_cross_origin_websocket_is_refused_by_default(running: Running) -> None:
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    request = HTTPRequest(
        running.ws_base + "?EIO=4&transport=websocket", headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(request)
    assert info.value.code == 403


@pytest.mark.hub_settings(cors_allowed_origins=("http://app.example",))
async def test_allowed_origin_gets_cors_headers(running: Running) -> None:
    response = await running.http(
        "EIO=4&transport=polling", headers={"Origin": "http://app.example"}
    )
    assert response.code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    preflight = await running.http(
        "EIO=4&transport=polling",
        "OPTIONS",
        headers={"Origin": "http://app.example", "Access-Control-Request-Headers": "x-xsrftoken"},
    )
    assert preflight.code == 204
    assert preflight.headers["Access-Control-Allow-Headers"] == "x-xsrftoken"
    refused = await running.http(
        "EIO=4&transport=polling", headers={"Origin": "http://other.example"}
    )
    assert refused.code == 403
