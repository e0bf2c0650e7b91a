"""RFC 6455 §5.1: a server must close a connection that sends an unmasked frame (we send
close code 1002). Masked frames work as ever.

The check is :class:`~jupyter_sio.protocol.ws_codec.WebSocketCodec`'s, on both HTTP front
ends (Tornado hands the upgraded socket to the same stream). These tests look at the wire
only, so they fail if a change of the takeover left a connection on some other parser.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
import tornado

from jupyter_sio import HubServer

from .conftest import make_hub
from .raw import DEADLINE, RawWebSocket, Reference, frame, joined, reference_clients

TEXT, CONTINUATION, CLOSE, PING = 0x1, 0x0, 0x8, 0x9
UPGRADE_HINT = (
    f"an unmasked client frame was accepted (Tornado {tornado.version}): is the connection "
    "still served by jupyter_sio.transport.ws_stream.WebSocketStream after the upgrade?"
)


@pytest.fixture
async def hub_server(
    frontend: str,
) -> AsyncIterator[tuple[HubServer, list[tuple[str, object]], Reference]]:
    hub, events = make_hub(ping_interval=5, ping_timeout=20)
    server = HubServer(hub, http=frontend)  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    assert server.port is not None
    async with reference_clients(hub, server.port) as ref:
        yield server, events, ref
    await server.stop()


async def close_code(ws: RawWebSocket) -> int | None:
    """Read until the server's close frame; its code (``None``: closed without one)."""
    while (got := await ws.read_frame()) is not None:
        opcode, payload = got
        if opcode == CLOSE:
            return int(struct.unpack("!H", payload[:2])[0]) if len(payload) >= 2 else None
        assert opcode == TEXT and payload == b"2", f"{UPGRADE_HINT}: got {got!r}"
    return None


async def test_masked_frames_are_served(hub_server: tuple[HubServer, list, Reference]) -> None:
    server, _events, _ref = hub_server
    assert server.port is not None
    ws = await joined(server.port)
    await ws.send(frame(TEXT, b'421["echo","masked"]'))
    assert await ws.read_text() == '431["masked"]'
    # A fragmented message, every fragment masked.
    await ws.send(frame(TEXT, b'422["echo",', fin=False) + frame(CONTINUATION, b'"in parts"]'))
    assert await ws.read_text() == '432["in parts"]'
    ws.close()


@pytest.mark.parametrize(
    "bad",
    [
        frame(TEXT, b'42["echo","unmasked"]', masked=False),
        frame(PING, b"", masked=False),
        frame(CLOSE, struct.pack("!H", 1000), masked=False),
        frame(TEXT, b"x" * 70_000, masked=False),  # 64-bit length field
        # Only the continuation is unmasked.
        frame(TEXT, b'42["echo",', fin=False) + frame(CONTINUATION, b'"x"]', masked=False),
    ],
    ids=["text", "ping", "close", "long", "continuation"],
)
async def test_unmasked_frame_closes_with_1002(
    hub_server: tuple[HubServer, list, Reference], bad: bytes
) -> None:
    server, events, ref = hub_server
    assert server.port is not None
    ws = await joined(server.port)
    await ws.send(bad)
    assert await close_code(ws) == 1002, UPGRADE_HINT
    # Answer the close and hang up our half, as a client does: the server then closes.
    await ws.send(frame(CLOSE, struct.pack("!H", 1002)))
    ws.writer.write_eof()
    assert await ws.closed_by_server()
    ws.close()

    async def disconnected() -> None:
        while ("disconnect", "transport close") not in events:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(disconnected(), DEADLINE)
    await ref.served()


async def test_unmasked_first_frame_of_a_new_connection(
    hub_server: tuple[HubServer, list, Reference],
) -> None:
    server, _events, ref = hub_server
    assert server.port is not None
    ws = await RawWebSocket.connect(server.port)
    assert (await ws.read_text()).startswith("0{")
    await ws.send(frame(TEXT, b"40", masked=False))
    assert await close_code(ws) == 1002, UPGRADE_HINT
    # A client that neither answers nor hangs up: the server closes after its close timeout.
    assert await ws.closed_by_server()
    ws.close()
    await ref.served()


async def test_the_kernel_link_refuses_unmasked_frames_too() -> None:
    """The embedded hub's kernel link endpoint (standalone ``KernelLinkHandler``)."""
    import base64
    import os

    from jupyter_sio.kernel.embedded import EmbeddedHub
    from jupyter_sio.protocol.link_codec import TOKEN_HEADER

    embedded = EmbeddedHub()
    endpoint = await embedded.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", embedded.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /kernel/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{TOKEN_HEADER}: {embedded.secret}\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
        assert head.startswith(b"HTTP/1.1 101"), head
        ws = RawWebSocket(reader, writer)
        await ws.send(frame(TEXT, b'hello\t{"v":1}', masked=False))
        assert await close_code(ws) == 1002, UPGRADE_HINT
        ws.close()
    finally:
        await embedded.stop()
        assert endpoint
