"""Raw clients for the hardening tests: HTTP/1.1 and WebSocket frames written by hand over
loopback sockets, and two well-behaved reference clients that must keep being served.

Every wait is bounded by ``DEADLINE``, which is generous: these tests assert what happens,
never how fast (CI machines are loaded).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import socketio

from jupyter_sio import Hub

DEADLINE = 30.0
EIO = "/socket.io/?EIO=4&transport=polling"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        return json.loads(self.body)


class RawConnection:
    """One TCP connection to the server, bytes in and out exactly as the test writes them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), DEADLINE)

    async def response(self) -> Response:
        """Read one HTTP response (its body framed by Content-Length)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), DEADLINE)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(size), DEADLINE)
        return Response(int(status_line.split()[1]), headers, body)

    async def closed_by_server(self) -> bool:
        """Read until the server closes the connection; False if it is still open at the
        deadline. A reset counts as closed."""
        try:
            while await asyncio.wait_for(self.reader.read(1 << 16), DEADLINE):
                pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.writer.close()


def post_head(port: int, sid: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {EIO}&sid={sid} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: text/plain;charset=UTF-8",
    ]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def get_request(port: int, query: str) -> bytes:
    return f"GET {query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def chunked(body: bytes, size: int) -> bytes:
    """``body`` in Transfer-Encoding: chunked, ``size`` bytes a chunk, with the last chunk."""
    out = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    )
    return out + b"0\r\n\r\n"


async def handshake(port: int) -> str:
    """Open a polling session over a raw connection; returns its sid."""
    conn = await RawConnection.open(port)
    try:
        await conn.send(get_request(port, EIO))
        response = await conn.response()
    finally:
        conn.close()
    assert response.status == 200, response
    return str(json.loads(response.body[1:])["sid"])


async def poll_status(port: int, sid: str) -> Response:
    """A GET of session ``sid`` (answered at once for a closed or unknown session)."""
    conn = await RawConnection.open(port)
    try:
        await conn.send(get_request(port, f"{EIO}&sid={sid}"))
        return await conn.response()
    finally:
        conn.close()


# -- WebSocket frames ------------------------------------------------------------------------
def frame(opcode: int, payload: bytes, *, masked: bool = True, fin: bool = True) -> bytes:
    """One client frame; ``masked=False`` breaks RFC 6455 §5.1 on purpose."""
    head = bytes([(0x80 if fin else 0) | opcode])
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class RawWebSocket(RawConnection):
    """A WebSocket client that writes its frames by hand."""

    @classmethod
    async def connect(cls, port: int, query: str = "EIO=4&transport=websocket") -> RawWebSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def read_frame(self) -> tuple[int, bytes] | None:
        """The next server frame as (opcode, payload); ``None`` once the connection closed."""
        try:
            head = await asyncio.wait_for(self.reader.readexactly(2), DEADLINE)
            size = head[1] & 0x7F
            if size == 126:
                size = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            payload = await asyncio.wait_for(self.reader.readexactly(size), DEADLINE)
        except (asyncio.IncompleteReadError, ConnectionResetError):
            return None
        return head[0] & 0x0F, payload

    async def read_text(self) -> str:
        """The next text message, answering Engine.IO pings on the way."""
        while True:
            got = await self.read_frame()
            assert got is not None, "connection closed"
            opcode, payload = got
            assert opcode == 0x1, got
            if payload == b"2":
                await self.send(frame(0x1, b"3"))
                continue
            return payload.decode()


# -- reference clients -----------------------------------------------------------------------
@dataclass
class Reference:
    """A WebSocket and a long-polling python-socketio client, connected before the test's
    misbehaving client starts, that must go on receiving emits."""

    hub: Hub
    clients: dict[str, socketio.AsyncClient]
    received: dict[str, list[int]] = field(default_factory=dict)
    count: int = 0

    async def served(self) -> None:
        """Emit to everyone; both reference clients receive it (within the deadline)."""
        self.count += 1
        mark = self.count
        self.hub.emit("tick", mark)

        async def arrived() -> None:
            while not all(mark in got for got in self.received.values()):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(arrived(), DEADLINE)
        for name, client in self.clients.items():
            assert client.connected, f"reference {name} client was disconnected"


async def joined(port: int) -> RawWebSocket:
    """A raw WebSocket client past the Engine.IO open and the Socket.IO CONNECT of ``/``."""
    ws = await RawWebSocket.connect(port)
    assert (await ws.read_text()).startswith("0{")
    await ws.send(frame(0x1, b"40"))  # a text frame
    assert (await ws.read_text()).startswith("40{")
    return ws


@asynccontextmanager
async def reference_clients(hub: Hub, port: int) -> AsyncIterator[Reference]:
    ref = Reference(hub, {})
    try:
        for transport in ("websocket", "polling"):
            client = socketio.AsyncClient(reconnection=False)
            got: list[int] = []
            client.on("tick", got.append)
            ref.received[transport] = got
            await client.connect(
                f"http://127.0.0.1:{port}", transports=[transport], wait_timeout=DEADLINE
            )
            ref.clients[transport] = client
        await ref.served()
        yield ref
    finally:
        for client in ref.clients.values():
            await client.disconnect()
