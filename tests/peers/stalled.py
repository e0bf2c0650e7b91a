"""A raw WebSocket client of an Engine.IO endpoint that can stop reading (its TCP window
fills up): the stuck subscriber of the backpressure tests."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any


class StalledClient:
    """Connects, joins namespace ``/``, and then reads only when told to."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int, path: str = "/socket.io/?EIO=4&transport=websocket",
                      *, rcvbuf: int | None = None) -> StalledClient:
        """``rcvbuf`` shrinks the TCP receive window, so the hub's buffers, not the
        kernel's, fill up first once the client stops reading."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        await reader.readuntil(b"\r\n\r\n")
        client = cls(reader, writer)
        assert (await client.read()).startswith("0")
        client.send("40")
        assert (await client.read()).startswith("40")
        return client

    def send(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.writer.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)

    async def read(self) -> str:
        head = await asyncio.wait_for(self.reader.readexactly(2), 10)
        size = head[1] & 0x7F
        if size == 126:
            size = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return (await self.reader.readexactly(size)).decode()

    async def read_events(self, until: str) -> list[list[Any]]:
        events = []
        while True:
            text = await asyncio.wait_for(self.read(), 10)
            if text.startswith("42"):
                events.append(json.loads(text[2:]))
                if events[-1][0] == until:
                    return events

    async def closed_by_server(self) -> bool:
        """Read what is left until the server closes the connection (False: it did not).
        A reset counts as closed: a client still writing to a closed socket gets one."""
        try:
            while await asyncio.wait_for(self.reader.read(1 << 20), 30):
                pass
        except ConnectionResetError:
            return True
        except (ConnectionError, asyncio.TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.writer.close()
