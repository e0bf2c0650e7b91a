"""A Socket.IO client on asyncio: one WebSocket, heartbeats, acks, reconnect with backoff.

Kernels and scripts use it to reach a hub. It speaks the same protocol code as the hub
(:mod:`jupyter_sio.protocol`) over Tornado's WebSocket client, WebSocket only (the kernel
link has no polling). It runs on whatever loop it is created on; :mod:`.sio` gives it a
private thread.

Ordering: packets are written in the order :meth:`send` is called. While disconnected,
reliable packets wait in a bounded buffer (oldest dropped past ``max_buffer``, counted),
volatile ones are dropped, and pending acks fail with :class:`Disconnected`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.websocket import WebSocketClientConnection, WebSocketClosedError

from ..exceptions import (
    AckTimeout,
    ConnectionRefused,
    Disconnected,
    PayloadTooLarge,
    RemoteProtocolError,
)
from ..protocol.sio_codec import PacketDecoder, SocketPacket, SocketPacketType, encode_packet
from .reconnecting import ReconnectingClient, open_websocket, websocket_url

log = logging.getLogger("jupyter_sio.kernel")

#: ``handler(args, ack_id)`` for one event name; ``"*"`` catches the rest as (event, args, id).
EventHandler = Callable[[list[Any], int | None], Any]


class SocketIOClient(ReconnectingClient):
    """A reconnecting Socket.IO client of one namespace."""

    final_reasons = frozenset({"io server disconnect"})

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: dict[str, Any] | None = None,
        namespace: str = "/",
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.25, 5.0),
        max_buffer: int = 10_000,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(url, reconnect=reconnect, backoff=backoff)
        self.headers = dict(headers or {})
        self.auth = auth or {}
        self.namespace = namespace
        self.connect_timeout = connect_timeout
        self.handlers: dict[str, EventHandler] = {}
        self.on_connect: Callable[[], Awaitable[None]] | None = None
        self.on_disconnect: Callable[[str], None] | None = None
        self.sid: str | None = None
        self.max_payload = 1_000_000
        self.connected = asyncio.Event()
        self.dropped = 0
        self._ws: WebSocketClientConnection | None = None
        self._buffer: deque[tuple[str, list[bytes]]] = deque(maxlen=max_buffer)
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._ack_id = 0
        self._hello: asyncio.Future[None] | None = None
        self._ping_deadline = 60.0
        self._decoder = PacketDecoder()

    # -- lifecycle -------------------------------------------------------------------------
    async def close(self) -> None:
        self.closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()
        await self._stop_runner()
        self._fail_acks("client closed")

    async def _open(self) -> None:
        """WebSocket + Engine.IO handshake + namespace CONNECT, or raise."""
        ws = await open_websocket(
            websocket_url(self.url, {"EIO": "4", "transport": "websocket"}),
            self.headers,
            self.connect_timeout,
        )
        try:
            opening = await asyncio.wait_for(ws.read_message(), self.connect_timeout)
            if not isinstance(opening, str) or not opening.startswith("0"):
                raise RemoteProtocolError(f"expected an Engine.IO OPEN packet, got {opening!r}")
            info = json.loads(opening[1:])
            self.max_payload = int(info.get("maxPayload", self.max_payload))
            self._ping_deadline = (info["pingInterval"] + info["pingTimeout"]) / 1000
            text, _ = encode_packet(
                SocketPacket(SocketPacketType.CONNECT, self.namespace, self.auth)
            )
            await ws.write_message("4" + text)
            self._decoder = PacketDecoder(max_attachments=1000, max_bytes=64 * 1024 * 1024)
            while True:
                message = await asyncio.wait_for(ws.read_message(), self.connect_timeout)
                if message is None:
                    raise Disconnected("connection closed during connect")
                packet = self._decode(ws, message)
                if packet is None or packet.namespace != self.namespace:
                    continue
                if packet.type is SocketPacketType.CONNECT:
                    self.sid = packet.data["sid"]
                    break
                if packet.type is SocketPacketType.CONNECT_ERROR:
                    data = (
                        packet.data if isinstance(packet.data, dict) else {"message": packet.data}
                    )
                    raise ConnectionRefused(str(data.get("message")), data.get("data"))
                self._dispatch(packet)  # events sent before CONNECT (from connect handlers)
        except BaseException:
            ws.close()
            raise
        self._ws = ws
        self.connected.set()
        self._flush()
        if self.on_connect is not None:
            # As a task: it may wait for acks, which the read loop (not running yet) delivers.
            self._hello = asyncio.ensure_future(self.on_connect())

    async def _read_loop(self) -> str:
        ws = self._ws
        assert ws is not None
        while True:
            try:
                message = await asyncio.wait_for(ws.read_message(), self._ping_deadline)
            except asyncio.TimeoutError:
                ws.close()
                return "ping timeout"
            if message is None:
                return "transport close"
            try:
                packet = self._decode(ws, message)
            except (RemoteProtocolError, PayloadTooLarge) as exc:
                log.warning("closing: invalid packet from hub: %s", exc)
                ws.close()
                return "parse error"
            if packet is None:
                continue
            if packet.type is SocketPacketType.DISCONNECT and packet.namespace == self.namespace:
                ws.close()
                return "io server disconnect"
            self._dispatch(packet)

    def _decode(self, ws: WebSocketClientConnection, message: str | bytes) -> SocketPacket | None:
        if isinstance(message, str):
            kind = message[:1]
            if kind == "2":
                ws.write_message("3")
                return None
            if kind == "1":
                ws.close()
                return None
            if kind != "4":
                return None
            message = message[1:]
        return self._decoder.feed(message)

    def _lost(self, reason: str) -> None:
        self._ws = None
        self.connected.clear()
        self._fail_acks(reason)
        if self.on_disconnect is not None:
            self.on_disconnect(reason)

    def _fail_acks(self, reason: str) -> None:
        acks, self._acks = self._acks, {}
        for future in acks.values():
            if not future.done():
                future.set_exception(Disconnected(reason))

    # -- inbound ---------------------------------------------------------------------------
    def _dispatch(self, packet: SocketPacket) -> None:
        if packet.type is SocketPacketType.ACK:
            future = self._acks.pop(packet.id, None) if packet.id is not None else None
            if future is not None and not future.done():
                future.set_result(packet.data)
            return
        if packet.type is not SocketPacketType.EVENT or packet.namespace != self.namespace:
            return
        event, args = packet.data[0], packet.data[1:]
        handler = self.handlers.get(event)
        if handler is None:
            catch_all = self.handlers.get("*")
            if catch_all is None:
                if packet.id is not None:
                    self.ack(packet.id, [{"error": "unhandled", "event": event}])
                return
            handler, args = catch_all, packet.data
        try:
            handler(args, packet.id)
        except Exception:
            log.exception("handler for %r failed", event)

    # -- outbound --------------------------------------------------------------------------
    def encode(
        self, event: str, args: list[Any] | tuple[Any, ...], ack_id: int | None = None
    ) -> tuple[str, list[bytes]]:
        """Encode an EVENT (any thread); raises TypeError/PayloadTooLarge on bad data."""
        text, attachments = encode_packet(
            SocketPacket(SocketPacketType.EVENT, self.namespace, [event, *args], ack_id)
        )
        size = len(text.encode()) + 1
        if size > self.max_payload or any(len(a) > self.max_payload for a in attachments):
            raise PayloadTooLarge(
                f"{event!r} packet is {size} bytes; the hub accepts at most {self.max_payload}"
            )
        return text, attachments

    def send(self, text: str, attachments: list[bytes], volatile: bool = False) -> None:
        """Write an encoded packet now, or buffer it while disconnected."""
        ws = self._ws
        if ws is None:
            if volatile:
                self.dropped += 1
                return
            if not self._buffer:
                log.warning("hub at %s unreachable: buffering emits until it is back "
                            "(at most %d; older ones are then dropped)", self.url,
                            self._buffer.maxlen)
            if len(self._buffer) == self._buffer.maxlen:
                self.dropped += 1
            self._buffer.append((text, attachments))
            return
        self._write(ws, text, attachments)

    def _write(self, ws: WebSocketClientConnection, text: str, attachments: list[bytes]) -> None:
        try:
            ws.write_message("4" + text)
            for blob in attachments:
                ws.write_message(blob, binary=True)
        except WebSocketClosedError:
            self._buffer.append((text, attachments))

    def _flush(self) -> None:
        ws = self._ws
        while ws is not None and self._buffer:
            text, attachments = self._buffer.popleft()
            self._write(ws, text, attachments)

    def emit(self, event: str, *args: Any, volatile: bool = False) -> None:
        text, attachments = self.encode(event, args)
        self.send(text, attachments, volatile=volatile)

    async def call(self, event: str, *args: Any, timeout: float = 30.0) -> list[Any]:
        """Emit with an ack; returns the ack's arguments. Always settles (timeout, disconnect)."""
        if self._ws is None:
            raise Disconnected(f"not connected to {self.url}")
        self._ack_id += 1
        ack_id = self._ack_id
        text, attachments = self.encode(event, args, ack_id)
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        self.send(text, attachments)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise AckTimeout(f"no ack for {event!r} within {timeout} s") from None
        finally:
            self._acks.pop(ack_id, None)

    def ack(self, ack_id: int, args: list[Any]) -> None:
        text, attachments = encode_packet(
            SocketPacket(SocketPacketType.ACK, self.namespace, list(args), ack_id)
        )
        self.send(text, attachments)
