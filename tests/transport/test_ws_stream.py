"""The WebSocket stream over real loopback sockets, on both HTTP front ends (native and
Tornado, which hands the upgraded socket over): many frames per read, pipelined frames,
the close handshake, backpressure both ways, and that broadcasts use the fast write path.

Clients are written by hand (:mod:`tests.transport.raw`) so the test controls every byte.
Waits are bounded by ``DEADLINE``; nothing is timed.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import ssl
import struct
import subprocess
import weakref
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import tornado
from tornado import httpserver, web
from tornado.netutil import bind_sockets

from jupyter_sio import HubServer
from jupyter_sio.protocol.ws_codec import accept_key
from jupyter_sio.transport.eio_connection import EngineConnection, EngineServer
from jupyter_sio.transport.tornado import EngineIOHandler, engineio_route
from jupyter_sio.transport.ws_stream import WebSocketStream, start_websocket
from jupyter_sio.transport.ws_tornado import IOStreamTransport
from tests.peers.stalled import StalledClient

from .conftest import Running, make_hub
from .raw import DEADLINE, RawWebSocket, frame, joined, reference_clients

TEXT, CONTINUATION, BINARY, CLOSE, PING, PONG = 0x1, 0x0, 0x2, 0x8, 0x9, 0xA

pytestmark = pytest.mark.hub_settings(ping_interval=20, ping_timeout=20, max_payload=100_000)


async def until(check: Any, what: str) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not (value := check()):
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)
    return value


async def close_frame_of(ws: RawWebSocket) -> tuple[int, bytes]:
    """Read until the server's close frame: (code, reason bytes)."""
    while (got := await ws.read_frame()) is not None:
        opcode, payload = got
        if opcode == CLOSE:
            return struct.unpack("!H", payload[:2])[0], payload[2:]
    raise AssertionError("closed without a close frame")


def stream_of(running: Running) -> tuple[EngineConnection, WebSocketStream]:
    (conn,) = running.server.engine.connections.values()
    assert isinstance(conn.ws, WebSocketStream), conn.ws
    return conn, conn.ws


# -- reading -----------------------------------------------------------------------------------
async def test_many_frames_in_one_write_are_all_answered_in_order(running: Running) -> None:
    ws = await joined(running.server.port or 0)
    burst = b"".join(frame(TEXT, f'42{i}["echo",{i}]'.encode()) for i in range(50))
    burst += frame(PING, b"hello")  # a WebSocket ping among them
    await ws.send(burst)
    answers = []
    pong = None
    while len(answers) < 50 or pong is None:
        got = await ws.read_frame()
        assert got is not None
        if got[0] == PONG:
            pong = got[1]
        else:
            answers.append(got[1].decode())
    assert answers == [f"43{i}[{i}]" for i in range(50)]
    assert pong == b"hello"
    ws.close()


async def test_fragments_split_across_writes(running: Running) -> None:
    ws = await joined(running.server.port or 0)
    data = frame(TEXT, b'421["ech', fin=False) + frame(PING, b"")
    data += frame(CONTINUATION, b'o","\xc3', fin=False)
    data += frame(CONTINUATION, b'\xa9"]')  # 'é' split between two fragments
    for i in range(0, len(data), 3):
        await ws.send(data[i : i + 3])
    while (got := await ws.read_frame()) is not None and got[0] == PONG:
        pass
    assert got == (TEXT, '431["\u00e9"]'.encode())
    ws.close()


async def test_frames_sent_with_the_upgrade_request_are_served(running: Running) -> None:
    """A client that does not wait for the 101: the bytes after its request, already read by
    the HTTP layer (Tornado's IOStream buffer on the Tornado front end), reach the stream."""
    port = running.server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        + frame(TEXT, b"40")
        + frame(TEXT, b'421["echo","early"]')
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
    assert head.startswith(b"HTTP/1.1 101")
    assert f"sec-websocket-accept: {accept_key(key)}".lower().encode() in head.lower()
    ws = RawWebSocket(reader, writer)
    assert (await ws.read_text()).startswith("0{")
    hint = (
        f"frames read with the upgrade request were lost (Tornado {tornado.version}): check "
        "StreamTakeover._to_asyncio in jupyter_sio/transport/ws_tornado.py"
    )
    assert (await ws.read_text()).startswith("40{"), hint
    assert await ws.read_text() == '431["early"]', hint
    ws.close()


# -- the opening handshake: one set of rules (ws_codec.check_upgrade) on both front ends ------
async def upgrade_answer(port: int, lines: str) -> tuple[bytes, RawWebSocket]:
    """Send an upgrade request with these header ``lines``; the head of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"{lines}\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
    return head, RawWebSocket(reader, writer)


def key_line() -> str:
    return f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"


@pytest.mark.parametrize("version", ["8", "7"])
async def test_a_draft_websocket_version_is_answered_426_with_13(
    running: Running, version: str
) -> None:
    lines = f"Upgrade: websocket\r\nConnection: Upgrade\r\n{key_line()}"
    lines += f"Sec-WebSocket-Version: {version}\r\n"
    head, ws = await upgrade_answer(running.server.port or 0, lines)
    assert head.startswith(b"HTTP/1.1 426"), head
    assert b"\r\nsec-websocket-version: 13\r\n" in head.lower(), head
    ws.close()


@pytest.mark.parametrize(
    ("upgrade", "connection"),
    [("websocket", "upgrade"), ("WEBSOCKET", "UPGRADE"), ("WebSocket", "keep-alive, Upgrade")],
)
async def test_upgrade_tokens_are_case_insensitive(
    running: Running, upgrade: str, connection: str
) -> None:
    lines = f"upgrade: {upgrade}\r\nconnection: {connection}\r\n{key_line()}"
    lines += "sec-websocket-version: 13\r\n"
    head, ws = await upgrade_answer(running.server.port or 0, lines)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert (await ws.read_text()).startswith("0{")
    ws.close()


async def test_an_invalid_key_is_answered_400(running: Running) -> None:
    lines = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
    lines += "Sec-WebSocket-Version: 13\r\n"
    head, ws = await upgrade_answer(running.server.port or 0, lines)
    assert head.startswith(b"HTTP/1.1 400"), head
    ws.close()


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(TEXT, b'42["echo","\xff"]'), 1007),
        (frame(TEXT, b"42", fin=False) + frame(CONTINUATION, b"\xc3(", fin=True), 1007),
        (frame(BINARY, b"x" * 100_001), 1009),
        (frame(0x3, b""), 1002),
        (frame(PING, b"x" * 126), 1002),
        (frame(CLOSE, b"\x03"), 1002),
    ],
    ids=["utf8", "utf8-fragments", "too-big", "opcode", "long-ping", "close-1-byte"],
)
async def test_a_client_that_breaks_rfc6455_gets_its_close_code(
    running: Running, bad: bytes, code: int
) -> None:
    ws = await joined(running.server.port or 0)
    await ws.send(bad)
    assert (await close_frame_of(ws))[0] == code
    await ws.send(frame(CLOSE, struct.pack("!H", code)))
    ws.writer.write_eof()
    assert await ws.closed_by_server()
    await until(lambda: ("disconnect", "transport close") in running.events, "the disconnect")
    ws.close()


# -- closing -----------------------------------------------------------------------------------
async def test_client_close_is_answered_and_the_server_closes_the_socket(
    running: Running,
) -> None:
    ws = await joined(running.server.port or 0)
    await ws.send(frame(CLOSE, struct.pack("!H", 1001) + b"bye"))
    assert (await close_frame_of(ws))[0] == 1001
    assert await ws.closed_by_server()  # without our EOF: the server closes first (§7.1.1)
    await until(lambda: ("disconnect", "transport close") in running.events, "the disconnect")
    ws.close()


async def test_server_disconnect_starts_the_close_handshake(running: Running) -> None:
    ws = await joined(running.server.port or 0)
    socket = await until(lambda: next(iter(running.hub.default.sockets.values()), None), "socket")
    socket.disconnect(close=True)
    texts = []
    while (got := await ws.read_frame()) is not None and got[0] != CLOSE:
        texts.append(got[1])
    assert got is not None and struct.unpack("!H", got[1][:2])[0] == 1000
    await ws.send(frame(CLOSE, got[1][:2]))  # the client's answer ends the handshake
    assert await ws.closed_by_server()
    ws.close()


async def test_a_client_that_hangs_up_without_a_close_frame(running: Running) -> None:
    ws = await joined(running.server.port or 0)
    ws.writer.close()
    await until(lambda: ("disconnect", "transport close") in running.events, "the disconnect")
    await until(lambda: not running.server.engine.connections, "the session to go")


# -- writing -----------------------------------------------------------------------------------
async def test_a_broadcast_to_a_websocket_is_one_transport_write(running: Running) -> None:
    """The fast path: the connection's peer is the stream and each packet one write of the
    frame bytes cached for every recipient (no future, no copy, no per-recipient framing)."""
    ws = await joined(running.server.port or 0)
    _conn, stream = stream_of(running)
    transport = stream.transport
    assert transport is not None and type(transport).__module__.startswith("asyncio")
    writes: list[bytes] = []
    real_write = transport.write

    def counting(data: bytes) -> None:
        writes.append(data)
        real_write(data)

    transport.write = counting  # type: ignore[method-assign]
    try:
        running.hub.emit("tick", 1)
        running.hub.emit("tick", 2, b"\x00\x01")  # with an attachment: still one write
    finally:
        del transport.write  # type: ignore[method-assign]
    assert len(writes) == 2, writes
    assert writes[0] == b"\x81\x0c" + b'42["tick",1]'
    assert (await ws.read_text()) == '42["tick",1]'
    ws.close()


@pytest.mark.hub_settings(ping_interval=20, ping_timeout=20, write_high_water=64 * 1024)
async def test_a_client_that_stops_reading_does_not_hold_up_the_others(
    running: Running,
) -> None:
    port = running.server.port or 0
    stalled = await StalledClient.connect(port, rcvbuf=4096)
    conn, stream = stream_of(running)  # the stalled client's, the only one so far
    async with reference_clients(running.hub, port) as ref:
        for _ in range(2000):  # broadcasts until the stalled client's stream is congested
            running.hub.emit("filler", "x" * 20_000, volatile=True)
            if stream.congested:
                break
            await asyncio.sleep(0)
        assert stream.congested, "the stalled client never congested its stream"
        assert stream.pending_bytes() > 64 * 1024
        await ref.served()  # the others are served meanwhile
        await ref.served()
        assert not conn.session.closed  # volatile packets were dropped for it, nothing more
    stalled.writer.close()


# -- Tornado takeover ----------------------------------------------------------------------------
async def connect_path(port: int, path: str, **kwargs: Any) -> RawWebSocket:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, **kwargs)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
    assert head.startswith(b"HTTP/1.1 101"), head
    return RawWebSocket(reader, writer)


class Recorded(EngineIOHandler):
    """Remembers (weakly) every handler that opened a WebSocket."""

    opened: ClassVar[list[weakref.ref[EngineIOHandler]]] = []

    def open(self, *args: Any, **kwargs: Any) -> None:
        Recorded.opened.append(weakref.ref(self))
        super().open(*args, **kwargs)


async def test_tornado_handler_and_request_are_released_after_the_takeover() -> None:
    hub, _ = make_hub(ping_interval=20, ping_timeout=20)
    server = HubServer(hub, http="tornado")
    server.app.add_handlers(r".*", [engineio_route("/recorded/", server.engine, Recorded)])
    await server.start("127.0.0.1", 0)
    try:
        ws = await connect_path(server.port or 0, "/recorded/")
        assert (await ws.read_text()).startswith("0{")
        ref = await until(lambda: Recorded.opened[-1:], "the handler")
        gc.collect()
        assert ref[0]() is None, "the WebSocket still holds its Tornado handler"
        await ws.send(frame(TEXT, b"40"))  # served all the same
        assert (await ws.read_text()).startswith("40{")
        await ws.send(frame(TEXT, b'421["echo","after"]'))
        assert await ws.read_text() == '431["after"]'
        ws.close()
    finally:
        await server.stop()


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_connections_keep_tornados_stream_under_the_same_codec(tmp_path: Path) -> None:
    """An SSLSocket cannot move to asyncio: the stream runs on Tornado's SSLIOStream."""
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE
    hub, events = make_hub(ping_interval=20, ping_timeout=20)
    engine = EngineServer(hub)
    await hub.start()
    app = web.Application([engineio_route("/socket.io/", engine)])
    http = httpserver.HTTPServer(app, ssl_options=server_ctx)
    sock, *_ = bind_sockets(0, "127.0.0.1")
    http.add_sockets([sock])
    port = sock.getsockname()[1]
    try:
        ws = await connect_path(port, "/socket.io/", ssl=client_ctx)
        assert (await ws.read_text()).startswith("0{")
        await ws.send(frame(TEXT, b"40") + frame(TEXT, b'421["echo","tls"]'))
        assert (await ws.read_text()).startswith("40{")
        assert await ws.read_text() == '431["tls"]'
        (conn,) = engine.connections.values()
        assert isinstance(conn.ws, WebSocketStream)
        assert isinstance(conn.ws.transport, IOStreamTransport)
        await ws.send(frame(CLOSE, struct.pack("!H", 1000)))
        assert (await close_frame_of(ws))[0] == 1000
        await until(lambda: ("disconnect", "transport close") in events, "the disconnect")
        ws.close()
    finally:
        http.stop()
        await engine.close()
        await hub.close()


# -- start_websocket: a stream on a transport some other asyncio server upgraded -------------
class Collecting:
    """An app that records messages; ``"block"`` returns a future (backpressure)."""

    def __init__(self) -> None:
        self.received: list[str | bytes] = []
        self.gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = 0

    def receive_ws(self, ws: WebSocketStream, message: str | bytes) -> Awaitable[None] | None:
        self.received.append(message)
        if message == "block":
            return self.gate
        ws.write_text(f"got {message!r}")
        return None

    def websocket_drained(self, ws: WebSocketStream) -> None:
        pass

    def websocket_closed(self, ws: WebSocketStream) -> None:
        self.closed += 1


class Upgrader(asyncio.Protocol):
    """A few lines of HTTP/1.1: read the upgrade request, write the 101, start the stream."""

    def __init__(self, app: Collecting, streams: list[WebSocketStream]) -> None:
        self.app, self.streams, self.buf = app, streams, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" not in self.buf:
            return
        head, rest = self.buf.split(b"\r\n\r\n", 1)
        key = next(
            line.split(b":", 1)[1].strip().decode()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept_key(key).encode()
            + b"\r\n\r\n"
        )
        app = self.app
        stream = start_websocket(self.transport, lambda ws: app, max_message=1000, initial=rest)
        self.streams.append(stream)


@pytest.fixture
async def upgrader() -> AsyncIterator[tuple[int, Collecting, list[WebSocketStream]]]:
    app, streams = Collecting(), []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Upgrader(app, streams), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], app, streams
    server.close()
    await server.wait_closed()


async def test_an_awaitable_from_the_app_pauses_reading_until_done(
    upgrader: tuple[int, Collecting, list[WebSocketStream]],
) -> None:
    port, app, streams = upgrader
    ws = await connect_path(port, "/")
    await ws.send(b"".join(frame(TEXT, m) for m in (b"a", b"block", b"b", b"c")))
    await until(lambda: "block" in app.received, "the blocking message")
    (stream,) = streams
    assert stream.transport is not None and not stream.transport.is_reading()
    await ws.send(frame(TEXT, b"d"))
    assert app.received == ["a", "block"]  # b and c wait behind the awaitable
    app.gate.set_result(None)
    await until(lambda: len(app.received) == 5, "the rest")
    assert app.received == ["a", "block", "b", "c", "d"]
    assert stream.transport.is_reading()
    for expected in ("got 'a'", "got 'b'", "got 'c'", "got 'd'"):
        assert await ws.read_text() == expected
    ws.close()
    await until(lambda: app.closed, "the close")
    assert app.closed == 1 and stream.close_code == 1006


async def test_start_websocket_serves_bytes_that_came_with_the_request(
    upgrader: tuple[int, Collecting, list[WebSocketStream]],
) -> None:
    port, app, _streams = upgrader
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        + frame(TEXT, b"first")
        + frame(BINARY, b"\x00")
    )
    await reader.readuntil(b"\r\n\r\n")
    ws = RawWebSocket(reader, writer)
    assert await ws.read_text() == "got 'first'"
    assert await ws.read_text() == "got b'\\x00'"
    await ws.send(frame(CLOSE, struct.pack("!H", 1000)))
    assert (await close_frame_of(ws))[0] == 1000
    assert await ws.closed_by_server()
    assert app.closed == 1
