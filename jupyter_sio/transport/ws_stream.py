"""A WebSocket connection as an asyncio :class:`~asyncio.Protocol`, after the HTTP upgrade.

Whoever did the handshake (Tornado, see :mod:`jupyter_sio.transport.ws_tornado`, or a
native asyncio HTTP server, see :func:`start_websocket`) hands the socket's transport to a
:class:`WebSocketStream`. From then on every read is parsed by
:class:`~jupyter_sio.protocol.ws_codec.WebSocketCodec` and each message is given to the
app synchronously: no task or future per message. The app's answers go to
``transport.write``; those written while one read is dispatched (when it held several
messages) are joined into one write at its end.

Flow control is asyncio's own: ``pause_writing``/``resume_writing`` between the
transport's write-buffer water marks set :attr:`WebSocketStream.congested` and call the
app's ``websocket_drained``. Reading pauses while an app callback's awaitable runs
(backpressure for the kernel link) and whenever the app asks (:meth:`pause_reading`).

The only timer is the close handshake's: started when either side starts closing, it
aborts a connection whose peer does not finish within ``close_timeout``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ..protocol.ws_codec import (
    OP_PING,
    CloseCode,
    CloseReceived,
    Event,
    Failed,
    WebSocketCodec,
    build_frame,
    ws_frame,
)

log = logging.getLogger("jupyter_sio.transport")

#: Reads land in one buffer per thread (see WebSocketStream.get_buffer).
_READ_SIZE = 256 * 1024
_reads = threading.local()

#: A corked frame this large, or this many corked frames, go out at once rather than at
#: the end of the read.
_CORK_LIMIT = 256 * 1024
_CORK_FRAMES = 64


class WebSocketApp(Protocol):
    """What a :class:`WebSocketStream` calls: one app object per connection."""

    def receive_ws(self, ws: Any, message: str | bytes) -> Awaitable[None] | None:
        """A message; an awaitable pauses reading until it is done."""

    def websocket_drained(self, ws: Any) -> None:
        """The write buffer went below its low water mark (``congested`` is now False)."""

    def websocket_closed(self, ws: Any) -> None:
        """The WebSocket is closed (once); ``ws.close_code`` says how."""


#: Opens the app for a stream that just started (may write, close, or return ``None``
#: to ignore every message).
Opener = Callable[["WebSocketStream"], "WebSocketApp | None"]


class WebSocketStream(asyncio.BufferedProtocol):
    """One server-side WebSocket over an asyncio transport.

    A buffered protocol: asyncio's plain ``data_received`` path reads with
    ``sock.recv(256 KiB)``, whose allocation cost about 10 µs per read (CPython 3.11,
    measured), half of an echo's server CPU; ``recv_into`` one buffer per thread, shared
    by every connection (each read is copied out before anything else runs), costs ~1 µs.
    ``data_received`` still serves transports that are not buffered.

    Args:
        max_message: largest message accepted (larger: close 1009).
        close_timeout: seconds the close handshake may take before the socket is aborted.
    """

    __slots__ = (
        "_blocked",
        "_close_sent",
        "_cork",
        "_held",
        "_read_pauses",
        "_timer",
        "app",
        "close_code",
        "close_reason",
        "close_timeout",
        "codec",
        "congested",
        "transport",
    )

    def __init__(self, *, max_message: int, close_timeout: float = 5.0) -> None:
        self.codec = WebSocketCodec(max_message)
        self.close_timeout = close_timeout
        self.transport: asyncio.Transport | None = None
        self.app: WebSocketApp | None = None
        #: True between the transport's pause_writing and resume_writing.
        self.congested = False
        #: The close code (1006 if the connection ended without a close frame), once closed.
        self.close_code: int | None = None
        self.close_reason = ""
        self._held: list[bytes] | None = []  # reads before start(); None once started
        self._cork: list[bytes] | None = None
        self._blocked: list[Event] | None = None  # events waiting behind an app awaitable
        self._read_pauses = 0
        self._close_sent = False
        self._timer: asyncio.TimerHandle | None = None

    # -- starting --------------------------------------------------------------------------
    def start(self, opener: Opener, initial: bytes = b"") -> None:
        """Open the app and begin dispatching (``initial``: bytes read with the upgrade)."""
        if self._held is None:
            raise RuntimeError("the WebSocket stream was already started")
        held, self._held = self._held, None
        paused = bool(held)  # data_received paused reading while it held them
        if initial:
            held.insert(0, initial)
        if self.close_code is None:
            try:
                self.app = opener(self)
            except Exception:
                log.exception("opening the WebSocket's app failed; closing with 1011")
                self.close(CloseCode.INTERNAL_ERROR, "internal error")
        for data in held:
            self.data_received(data)
        if paused:
            self.resume_reading()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        view: memoryview | None = getattr(_reads, "view", None)
        if view is None:
            view = _reads.view = memoryview(bytearray(_READ_SIZE))
        return view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(_reads.view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        if self._held is not None:  # not started yet: keep it, stop reading
            if not self._held:
                self._pause_transport()
                self._read_pauses += 1
            self._held.append(data)
            return
        events = self.codec.receive_data(data)
        if self._blocked is not None:  # (a transport that read on while paused)
            self._blocked.extend(events)
            if self.codec.has_output:
                self._write(self.codec.data_to_send())
            return
        if len(events) > 1:
            # Several messages in one read: their answers leave in one write.
            cork: list[bytes] = []
            self._cork = cork
            try:
                self._dispatch(events, 0)
            finally:
                self._cork = None
                if cork:
                    self._write_out(cork)
        elif events:
            self._dispatch(events, 0)
        if self.codec.has_output:
            self._write(self.codec.data_to_send())

    def eof_received(self) -> bool | None:
        if self.close_code is None:
            self._closed(CloseCode.ABNORMAL, "")
        return None  # asyncio closes the transport once our writes are out

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._close_sent = True
        if self.close_code is None:
            self._closed(CloseCode.ABNORMAL, "")
        self.congested = False

    def pause_writing(self) -> None:
        self.congested = True

    def resume_writing(self) -> None:
        self.congested = False
        app = self.app
        if app is not None:
            app.websocket_drained(self)

    # -- writing ---------------------------------------------------------------------------
    def write_frame(self, frame: bytes) -> None:
        """Write pre-built frames (e.g. a broadcast's, the same bytes for every recipient)."""
        if self._close_sent:
            return
        cork = self._cork
        if cork is None:
            self.transport.write(frame)  # type: ignore[union-attr]
        else:
            cork.append(frame)
            if len(frame) > _CORK_LIMIT or len(cork) > _CORK_FRAMES:
                self._write_out(cork)
                cork.clear()

    def write_text(self, text: str) -> None:
        self.write_frame(ws_frame(text.encode("utf-8"), binary=False))

    def write_binary(self, data: bytes) -> None:
        self.write_frame(ws_frame(data, binary=True))

    def ping(self, payload: bytes = b"") -> None:
        self.write_frame(build_frame(OP_PING, payload[:125]))

    def pending_bytes(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def set_write_buffer_limits(self, high: int, low: int | None = None) -> None:
        """Past ``high`` unsent bytes the stream is ``congested`` until back under ``low``."""
        if self.transport is not None:
            self.transport.set_write_buffer_limits(high=high, low=low)

    def set_nodelay(self, value: bool) -> None:
        transport = self.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(value))

    def _write(self, data: bytes) -> None:
        cork = self._cork
        if cork is not None:
            cork.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _write_out(self, chunks: list[bytes]) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    # -- reading ---------------------------------------------------------------------------
    def pause_reading(self) -> None:
        """Stop reading (e.g. while the app cannot take more); calls nest."""
        self._read_pauses += 1
        if self._read_pauses == 1:
            self._pause_transport()

    def resume_reading(self) -> None:
        if self._read_pauses <= 0:
            return
        self._read_pauses -= 1
        if not self._read_pauses:
            self._resume_transport()

    def _pause_transport(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def _resume_transport(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def _dispatch(self, events: list[Event], start: int) -> None:
        app = self.app
        for index in range(start, len(events)):
            event = events[index]
            kind = type(event)
            if kind is str or kind is bytes:
                if app is None or self._close_sent:
                    continue
                try:
                    result = app.receive_ws(self, event)  # type: ignore[arg-type]
                except Exception:
                    log.exception("WebSocket message handler failed; closing with 1011")
                    self.close(CloseCode.INTERNAL_ERROR, "internal error")
                    return
                if result is not None:
                    self._block(result, events, index + 1)
                    return
            elif kind is CloseReceived:
                self._close_received(event)  # type: ignore[arg-type]
            else:
                self._failed(event)  # type: ignore[arg-type]

    def _block(self, result: Awaitable[None], events: list[Event], start: int) -> None:
        """An app callback returned an awaitable: read nothing more until it is done."""
        self._blocked = events[start:]
        self.pause_reading()
        future = asyncio.ensure_future(result)
        future.add_done_callback(self._unblock)

    def _unblock(self, future: asyncio.Future[None]) -> None:
        events, self._blocked = self._blocked or [], None
        if not future.cancelled() and future.exception() is not None:
            log.error(
                "WebSocket message handler failed; closing with 1011", exc_info=future.exception()
            )
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
        elif events:
            self._dispatch(events, 0)
            if self.codec.has_output:
                self._write(self.codec.data_to_send())
        self.resume_reading()

    # -- closing ---------------------------------------------------------------------------
    @property
    def closing(self) -> bool:
        """Whether a close frame was sent or the connection is gone."""
        return self._close_sent or self.close_code is not None

    def close(self, code: int | None = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the close handshake (the client answers, then we close the socket)."""
        if self._close_sent:
            return
        frame = self.codec.send_close(CloseCode.NORMAL if code is None else code, reason)
        if frame:
            self._write(frame)
        self._close_sent = True
        self._arm_timer()

    def abort(self) -> None:
        """Drop the connection at once (no close handshake)."""
        if self.transport is not None:
            self.transport.abort()

    def _close_received(self, event: CloseReceived) -> None:
        """The client's close frame: answer it (queued by the codec), close the socket."""
        self._flush_output()
        self._close_sent = True
        if self.transport is not None:
            self.transport.close()  # the server closes the TCP connection first (§7.1.1)
        self._arm_timer()  # in case the client does not read our last bytes
        self._closed(event.code, event.reason)

    def _failed(self, event: Failed) -> None:
        """The client broke the protocol: our close frame goes out, then we wait for its
        EOF, throwing input away; closing with unread input would reset the connection,
        and the client could lose the close frame (RFC 6455 §7.1.7)."""
        error = event.error
        log.info("closing WebSocket with %d: %s", error.code, error)
        self._flush_output()
        self._close_sent = True
        self._arm_timer()
        self._closed(error.code, str(error))

    def _flush_output(self) -> None:
        cork = self._cork
        if cork:
            self._write_out(cork)
            cork.clear()
        self._cork = None
        transport = self.transport
        if self.codec.has_output and transport is not None and not transport.is_closing():
            transport.write(self.codec.data_to_send())

    def _arm_timer(self) -> None:
        if self._timer is None and self.transport is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.close_timeout, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._timer = None
        log.debug("WebSocket close handshake timed out after %s s", self.close_timeout)
        self.abort()

    def _closed(self, code: int, reason: str) -> None:
        self.close_code, self.close_reason = code, reason
        self._close_sent = True  # nothing more may be written
        if self._held is None:  # started (before, there is no app to tell)
            self._notify_closed()

    def _notify_closed(self) -> None:
        app, self.app = self.app, None
        self._blocked = None
        if app is not None:
            try:
                app.websocket_closed(self)
            except Exception:
                log.exception("WebSocket close handler failed")


def start_websocket(
    transport: asyncio.Transport,
    opener: Opener,
    *,
    max_message: int,
    initial: bytes = b"",
    close_timeout: float = 5.0,
) -> WebSocketStream:
    """Run a WebSocket on ``transport`` after the server wrote the 101 response itself.

    For an asyncio HTTP/1.1 server (not Tornado): call it on the loop's thread right after
    ``transport.write(<101 response>)``, with the bytes already read after the request's
    headers as ``initial``. The stream becomes the transport's protocol; ``opener(stream)``
    is called once (it may write, e.g. Engine.IO's open packet, or close) and returns the
    :class:`WebSocketApp` that receives the messages. Compute ``Sec-WebSocket-Accept`` with
    :func:`jupyter_sio.protocol.ws_codec.accept_key`.
    """
    stream = WebSocketStream(max_message=max_message, close_timeout=close_timeout)
    transport.set_protocol(stream)
    stream.connection_made(transport)
    if transport.is_reading():
        stream.start(opener, initial)
    else:  # the server had paused reading: start paused, then read again
        stream._read_pauses += 1
        stream.start(opener, initial)
        stream.resume_reading()
    return stream
