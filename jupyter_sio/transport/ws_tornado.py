"""Tornado does the WebSocket upgrade; a :class:`WebSocketStream` runs the connection.

Tornado's own ``WebSocketProtocol13`` awaits several futures per frame and re-registers
the socket with the IOLoop on each read. Here Tornado (and, in Jupyter, every check
Jupyter's handlers run: Host, identity, XSRF, Origin) still handles the HTTP request, and
:class:`StreamTakeover`, the handler's ``get_websocket_protocol()``, answers the upgrade,
then takes the socket over through public APIs only:

1. the 101 is written through the handler (``set_status``, headers, ``finish``);
2. ``handler.detach()`` gives the IOStream; ``stream.write(b"")`` resolves once the 101 is
   flushed; ``stream.read_bytes(partial=True)`` yields what the client sent after its
   request, if anything was already read;
3. ``IOLoop.remove_handler`` releases the socket, and
   ``loop.connect_accepted_socket`` hands it to asyncio (uvloop too);
4. ``handler.open()`` runs as with Tornado; it must call :meth:`StreamTakeover.start`.

After that no Tornado object is referenced by the connection: the handler, its request and
the HTTP connection are freed. So the handler's ``on_message``/``on_close`` are not called;
the app given to :meth:`StreamTakeover.start` receives messages and the close.

TLS sockets cannot move to asyncio (the session lives in Tornado's ``SSLSocket``): they
keep their IOStream behind :class:`IOStreamTransport`, with the same stream on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from functools import partial
from typing import Any

from tornado import ioloop, iostream
from tornado.concurrent import Future
from tornado.escape import json_encode
from tornado.httputil import HTTPHeaders
from tornado.websocket import WebSocketHandler, WebSocketProtocol

from ..protocol.ws_codec import (
    CloseCode,
    UpgradeRefusal,
    accept_key,
    check_upgrade,
    ws_frame,
)
from .ws_stream import Opener, WebSocketStream

log = logging.getLogger("jupyter_sio.transport")


class StreamTakeover(WebSocketProtocol):
    """A ``WebSocketProtocol`` that hands the upgraded socket to a :class:`WebSocketStream`.

    Args:
        handler: the ``WebSocketHandler`` whose ``get_websocket_protocol`` made this.
        max_message: largest message accepted (larger: close 1009).
    """

    def __init__(
        self, handler: WebSocketHandler, *, max_message: int, close_timeout: float = 5.0
    ) -> None:
        super().__init__(handler)
        self.ws = WebSocketStream(max_message=max_message, close_timeout=close_timeout)
        self._subprotocol: str | None = None
        self._initial = b""
        self._started = False

    def start(self, opener: Opener) -> WebSocketStream:
        """Begin serving the connection (from the handler's ``open``)."""
        self._started = True
        self.ws.start(opener, self._initial)
        self._initial = b""
        return self.ws

    async def accept_connection(self, handler: WebSocketHandler) -> None:
        request = handler.request
        # Tornado checked Upgrade, Connection and Origin already; the rules both front ends
        # share (version 13 only, a valid key, ...) are checked once more here.
        key = check_upgrade(
            request.method or "", request.version == "HTTP/1.1", request.headers.get
        )
        if isinstance(key, UpgradeRefusal):
            handler.set_status(key.status)
            for name, value in key.headers:
                handler.set_header(name, value)
            handler.finish(key.text)
            return
        self._select_subprotocol(handler, request.headers)
        # No Sec-WebSocket-Extensions: permessage-deflate is never negotiated.
        handler.clear_header("Content-Type")
        handler.set_status(101)
        handler.set_header("Upgrade", "websocket")
        handler.set_header("Connection", "Upgrade")
        handler.set_header("Sec-WebSocket-Accept", accept_key(key))
        handler.finish()
        stream = handler.detach()
        try:
            await stream.write(b"")  # resolves once the 101 (written before it) is flushed
            if type(stream) is iostream.IOStream:
                await self._to_asyncio(stream)
            else:
                IOStreamTransport(stream, self.ws)
        except (iostream.StreamClosedError, OSError):
            self.ws.connection_lost(None)
            return
        try:
            opened = handler.open(*handler.open_args, **handler.open_kwargs)
            if opened is not None:
                await opened
        except Exception:
            handler.log_exception(*sys.exc_info())
            self.ws.abort()
            return
        if not self._started:
            log.error("%s.open did not start the WebSocket stream", type(handler).__name__)
            self.start(lambda ws: None)
            self.ws.close(CloseCode.INTERNAL_ERROR, "internal error")

    async def _to_asyncio(self, stream: iostream.IOStream) -> None:
        sock = stream.socket
        # Bytes the client sent after its request that Tornado already read: the IOStream
        # answers from its buffer at once (or reads what the socket holds); otherwise the
        # read stays pending on an IOStream nobody uses any more.
        early: Any = stream.read_bytes(stream.max_buffer_size, partial=True)
        if stream.closed():
            raise iostream.StreamClosedError()
        if early.done():
            self._initial = early.result()
        ioloop.IOLoop.current().remove_handler(sock)
        loop = asyncio.get_running_loop()
        await loop.connect_accepted_socket(lambda: self.ws, sock=sock)

    def _select_subprotocol(self, handler: WebSocketHandler, headers: HTTPHeaders) -> None:
        header = headers.get("Sec-WebSocket-Protocol")
        offered = [s.strip() for s in header.split(",")] if header else []
        self._subprotocol = handler.select_subprotocol(offered)
        if self._subprotocol:
            assert self._subprotocol in offered
            handler.set_header("Sec-WebSocket-Protocol", self._subprotocol)

    # -- WebSocketProtocol, for handler methods called while the handler is in use -------
    @property
    def selected_subprotocol(self) -> str | None:
        return self._subprotocol

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.ws.close(CloseCode.NORMAL if code is None else code, reason or "")

    def is_closing(self) -> bool:
        return self.ws.closing

    def write_message(
        self, message: str | bytes | dict[str, Any], binary: bool = False
    ) -> Future[None]:
        if isinstance(message, dict):
            message = json_encode(message)
        data = message.encode("utf-8") if isinstance(message, str) else bytes(message)
        self.ws.write_frame(ws_frame(data, binary=binary))
        done: Future[None] = Future()
        done.set_result(None)
        return done

    def write_ping(self, data: bytes) -> None:
        self.ws.ping(data)

    def on_connection_close(self) -> None:
        self.ws.abort()

    def set_nodelay(self, x: bool) -> None:
        self.ws.set_nodelay(x)

    def start_pinging(self) -> None:
        """Engine.IO and the kernel link have their own heartbeats."""

    async def _receive_frame_loop(self) -> None:
        """The stream reads; nothing loops here."""

    def _process_server_headers(self, key: str | bytes, headers: HTTPHeaders) -> None:
        raise NotImplementedError("server side only")


class IOStreamTransport(asyncio.Transport):
    """A Tornado IOStream as an asyncio transport, for TLS connections only.

    Writes go through ``IOStream.write``; its futures count the bytes still unsent for the
    water marks (one future per write: TLS is not the fast path).
    """

    def __init__(self, stream: iostream.IOStream, protocol: WebSocketStream) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol
        self._pending = 0
        self._high, self._low = 64 * 1024, 16 * 1024
        self._paused_writing = False
        self._reading = asyncio.Event()
        self._reading.set()
        self._closing = False
        stream.set_close_callback(self._on_close)
        protocol.connection_made(self)
        self._task = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self) -> None:
        stream = self._stream
        try:
            while True:
                await self._reading.wait()
                data = await stream.read_bytes(65536, partial=True)
                self._protocol.data_received(data)
        except iostream.StreamClosedError:
            pass

    def _on_close(self) -> None:
        self._closing = True
        error = self._stream.error
        self._protocol.connection_lost(error if isinstance(error, Exception) else None)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._stream.closed():
            return
        size = len(data)
        self._pending += size
        try:
            self._stream.write(bytes(data)).add_done_callback(partial(self._written, size))
        except iostream.StreamClosedError:
            return
        if not self._paused_writing and self._pending > self._high:
            self._paused_writing = True
            self._protocol.pause_writing()

    def _written(self, size: int, future: asyncio.Future[None]) -> None:
        self._pending -= size
        if self._paused_writing and self._pending <= self._low:
            self._paused_writing = False
            self._protocol.resume_writing()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def get_write_buffer_size(self) -> int:
        return self._pending

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = 64 * 1024 if high is None else high
        self._low = self._high // 4 if low is None else low

    def pause_reading(self) -> None:
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    def is_reading(self) -> bool:
        return self._reading.is_set()

    def is_closing(self) -> bool:
        return self._closing or self._stream.closed()

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        stream = self._stream
        if stream.closed():
            return
        with contextlib.suppress(iostream.StreamClosedError):
            stream.write(b"").add_done_callback(lambda f: stream.close())

    def abort(self) -> None:
        self._closing = True
        self._stream.close()

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._stream.socket
        return default

    def get_protocol(self) -> WebSocketStream:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        raise NotImplementedError("the stream is fixed")
