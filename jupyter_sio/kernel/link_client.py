"""The kernel's end of the kernel link, on asyncio: connect, batch, read, reconnect.

It runs on the private I/O loop of :mod:`.sio` (any loop, really). Frames to send come
through a :class:`~.link_buffer.LinkBuffer` that any thread fills; :meth:`LinkClient._drain`
takes all of them and writes them in messages of up to ``batch_bytes``, and takes no more
while the socket holds more than ``write_high_water`` unsent bytes (the hub pauses reading
a link whose broadcasts meet full buffers, so this is where the cell feels backpressure).
While the hub is unreachable nothing drains: the buffer is the offline buffer, and after a
reconnect the ``hello`` frame (rooms, handlers) goes first, then the buffered frames.

Link recovery (a hub with ``recovery_window``, issue 10): the hub counts the ``emit``
frames it processed and says so in its pings and welcomes. The client keeps the reliable
emits it wrote until the hub's count covers them (at most ``resend_packets`` /
``resend_bytes``): those written into a connection that then died, which the hub never
read, are written again first after the next welcome, when the hub resumed the link's
session (``hello`` carries a random per-process link token); the hub also keeps what the
kernel missed meanwhile (:mod:`jupyter_sio.hub.kernel_backlog`). ``close()`` says ``bye``
first, so the hub keeps nothing for a kernel that left on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado.websocket import WebSocketClientConnection, WebSocketClosedError

from ..exceptions import (
    AckTimeout,
    Disconnected,
    PayloadTooLarge,
    RemoteProtocolError,
    from_wire,
)
from ..protocol.frames import Outgoing
from ..protocol.link_codec import (
    FROM_HUB,
    LINK_VERSION,
    LinkDecoder,
    LinkFrame,
    LinkKind,
    encode_frame,
    join_frames,
)
from ..protocol.link_session import LinkClientSession, LinkState, Welcome, emits_acked
from .link_buffer import LinkBuffer
from .reconnecting import ReconnectingClient, open_websocket, websocket_url

log = logging.getLogger("jupyter_sio.kernel")

@dataclass(frozen=True, slots=True)
class LinkLimits:
    """Limits and timings of the kernel's side of the link (``sio.configure(...)``).

    Attributes:
        buffer_packets / buffer_bytes: frames and bytes the link buffer holds (cell → I/O
            thread, and the offline buffer) before reliable emits wait.
        send_timeout: seconds a reliable emit waits for room before ``BufferFull``.
        batch_bytes: bytes of frames written in one WebSocket message.
        write_high_water: unsent socket bytes before the I/O thread waits for the hub.
        connect_timeout: seconds for the WebSocket handshake and the welcome.
        backoff: first and largest delay between reconnect attempts.
        coalesce: seconds frames may wait to share a message when emits come faster than
            that (a loop); a lone emit is sent at once.
        resend_packets / resend_bytes: reliable emits kept, once written, until the hub
            confirms it processed them (link recovery, module doc); past that the oldest
            are no longer kept (a warning says so if they were then needed).
    """

    buffer_packets: int = 100_000
    buffer_bytes: int = 32 * 1024 * 1024
    send_timeout: float = 10.0
    batch_bytes: int = 256 * 1024
    write_high_water: int = 1024 * 1024
    connect_timeout: float = 10.0
    backoff: tuple[float, float] = (0.25, 5.0)
    coalesce: float = 0.001
    resend_packets: int = 10_000
    resend_bytes: int = 16 * 1024 * 1024


class LinkClient(ReconnectingClient):
    """One kernel's link to a hub: hello/welcome, frames both ways, reconnect with backoff.

    ``hello()`` gives the ``hello`` header for each (re)connect; ``on_frame(frame)`` gets
    ``event`` and ``deliver`` frames (on the I/O loop).
    """

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str],
        limits: LinkLimits,
        hello: Callable[[], dict[str, Any]],
        on_frame: Callable[[LinkFrame], None],
        io_thread: Callable[[], bool],
        reconnect: bool = True,
    ) -> None:
        super().__init__(url, reconnect=reconnect, backoff=limits.backoff)
        self.headers = dict(headers)
        self.limits = limits
        self._hello = hello
        self._on_frame = on_frame
        self.loop = asyncio.get_running_loop()
        self.buffer = LinkBuffer(
            max_packets=limits.buffer_packets,
            max_bytes=limits.buffer_bytes,
            send_timeout=limits.send_timeout,
            wake=self._wake,
            io_thread=io_thread,
        )
        self.welcome: Welcome | None = None
        self.connected = asyncio.Event()
        self.on_reconnect: Callable[[], None] | None = None
        self._ws: WebSocketClientConnection | None = None
        self._session: LinkClientSession | None = None
        self._results: dict[int, asyncio.Future[LinkFrame]] = {}
        self._ids = itertools.count(1)
        self._waiting_drain = False
        self._last_drain = 0.0
        self._offline_warned = False
        #: link recovery: this process's link token, emit frames written (numbered as the
        #: hub counts them), and the reliable ones the hub has not confirmed yet
        self.token = secrets.token_urlsafe(18)
        self._tracking = False
        self._written = 0
        self._unacked: deque[tuple[int, Outgoing]] = deque()
        self._unacked_bytes = 0
        self.resent = 0
        self.unconfirmed_lost = 0

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def state(self) -> LinkState:
        """CONNECTING (first connect, or reconnecting with backoff), OPEN, or CLOSED."""
        if self.closed:
            return LinkState.CLOSED
        session = self._session
        if self._ws is not None and session is not None:
            return session.state
        return LinkState.CONNECTING

    @property
    def sid(self) -> str | None:
        return self.welcome.sid if self.welcome is not None else None

    @property
    def max_payload(self) -> int:
        return self.welcome.max_payload if self.welcome is not None else 1_000_000

    async def close(self) -> None:
        self.closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            self.send(LinkKind.BYE, "{}", flush=False)  # after what the cells emitted last
            self._drain(ws)
            ws.close()
        await self._stop_runner()
        self._fail_results("client closed")

    async def _open(self) -> None:
        limits = self.limits
        ws = await open_websocket(websocket_url(self.url), self.headers, limits.connect_timeout)
        session = LinkClientSession(self.loop.time())
        decoder = LinkDecoder(FROM_HUB)
        early: list[LinkFrame] = []  # what came with the welcome (a resumed link's backlog)
        try:
            hello = {"v": LINK_VERSION, "link": self.token, **self._hello()}
            await ws.write_message(encode_frame(LinkKind.HELLO, hello))
            while session.welcome is None:
                message = await asyncio.wait_for(ws.read_message(), limits.connect_timeout)
                if message is None:
                    raise Disconnected(f"the hub at {self.url} closed the link during hello")
                for frame in decoder.feed(message):
                    if session.welcome is not None:
                        early.append(frame)
                        continue
                    session.receive(frame, self.loop.time())
                    if frame.kind is LinkKind.NOTICE:
                        log.warning("hub: %s", frame.header.get("message"))
        except BaseException:
            ws.close()
            raise
        self._ws, self._session, self.welcome = ws, session, session.welcome
        self._decoder = decoder
        self._offline_warned = False
        self.connected.set()
        self.buffer.rearm()
        assert session.welcome is not None
        with contextlib.suppress(WebSocketClosedError):  # the read loop sees the close
            self._resend(ws, session.welcome)
        self._drain()
        now = self.loop.time()
        for frame in early:
            session.receive(frame, now)
            self._dispatch(frame)

    def _reconnected(self) -> None:
        log.info("kernel link to %s is back", self.url)
        if self.on_reconnect is not None:
            self.on_reconnect()

    async def _read_loop(self) -> str:
        ws, session = self._ws, self._session
        assert ws is not None and session is not None
        decoder = self._decoder
        while True:
            deadline = session.deadline
            wait = None if deadline is None else max(0.05, deadline - self.loop.time())
            try:
                message = await asyncio.wait_for(ws.read_message(), wait)
            except asyncio.TimeoutError:
                if session.timed_out(self.loop.time()):
                    ws.close()
                    return "ping timeout"
                continue
            if message is None:
                return "transport close"
            try:
                frames = decoder.feed(message)
                now = self.loop.time()
                for frame in frames:
                    session.receive(frame, now)
                    self._dispatch(frame)
            except (RemoteProtocolError, PayloadTooLarge) as exc:
                log.warning("closing the kernel link: invalid frame from the hub: %s", exc)
                ws.close()
                return "parse error"

    def _dispatch(self, frame: LinkFrame) -> None:
        kind = frame.kind
        if kind is LinkKind.RESULT:
            self._settle(frame)
        elif kind is LinkKind.PING:
            self._confirmed(emits_acked(frame.header))
            self.buffer.push_control(Outgoing(encode_frame(LinkKind.PONG, "{}")))
        elif kind is LinkKind.NOTICE:
            log.warning("hub refused a %s frame: %s: %s", frame.header.get("frame"),
                        frame.header.get("type"), frame.header.get("message"))
        else:
            self._on_frame(frame)

    def _lost(self, reason: str) -> None:
        self._ws = None
        self.connected.clear()
        self._fail_results(reason)
        log.info("kernel link to %s lost (%s)", self.url, reason)

    def _fail_results(self, reason: str) -> None:
        results, self._results = self._results, {}
        for future in results.values():
            if not future.done():
                future.set_exception(Disconnected(f"the kernel link closed ({reason})"))

    # -- outbound --------------------------------------------------------------------------
    def _wake(self, urgent: bool) -> None:
        """Called (under the buffer's lock, from any thread) when frames wait; ``urgent``
        for commands and answers, which never wait to share a message."""
        self.loop.call_soon_threadsafe(self._drain if urgent else self._woken)

    def _woken(self) -> None:
        """Drain now, unless the last drain was a moment ago: then a cell is emitting in a
        loop, and waiting ``coalesce`` seconds makes one message of many frames (each
        wake-up and each message costs both processes far more than a frame does). A lone
        emit still goes out at once."""
        now = self.loop.time()
        if now - self._last_drain < self.limits.coalesce:
            self.loop.call_at(self._last_drain + self.limits.coalesce, self._drain)
        else:
            self._drain()

    def _drain(self, ws: WebSocketClientConnection | None = None) -> None:
        """Write waiting frames in batches until the socket is congested (I/O loop);
        ``ws``: the socket being closed (what the cells emitted last still goes out)."""
        self._last_drain = self.loop.time()
        ws = ws or self._ws
        if ws is None:
            self.buffer.rearm()
            self._warn_offline()
            return
        if self._waiting_drain:
            return
        limits = self.limits
        budget = limits.batch_bytes
        if self.welcome is not None:
            budget = min(budget, self.welcome.max_message // 2)
        try:
            while True:
                items = self.buffer.take()
                if not items:
                    return
                future = self._write(ws, items, budget)
                if future is not None and _pending(ws) > limits.write_high_water:
                    self._waiting_drain = True
                    future.add_done_callback(self._drained)
                    return
        except WebSocketClosedError:
            log.info("kernel link closed while sending: its emits are written again after "
                     "the reconnect if the hub resumes the link (recovery_window)")
            return  # the read loop sees the close and reconnects

    def _write(self, ws: WebSocketClientConnection, items: list[Outgoing], budget: int) -> Any:
        """Frames in order, one text message per ``budget`` bytes; a frame's attachments
        follow the message that ends with it."""
        lines: list[str] = []
        size = 0
        future = None
        tracking = self._tracking
        for item in items:
            if tracking and item.text.startswith("emit\t"):
                self._track(item)
            lines.append(item.text)
            size += item.size
            if item.attachments:
                future = ws.write_message(join_frames(lines))
                lines, size = [], 0
                for blob in item.attachments:
                    future = ws.write_message(blob, binary=True)
            elif size >= budget:
                future = ws.write_message(join_frames(lines))
                lines, size = [], 0
        if lines:
            future = ws.write_message(join_frames(lines))
        return future

    # -- link recovery -----------------------------------------------------------------------
    def _track(self, item: Outgoing) -> None:
        """An emit frame being written: number it; keep it until confirmed if reliable."""
        self._written += 1
        if item.volatile:
            return
        unacked = self._unacked
        unacked.append((self._written, item))
        self._unacked_bytes += item.size
        limits = self.limits
        while len(unacked) > limits.resend_packets or self._unacked_bytes > limits.resend_bytes:
            _, old = unacked.popleft()
            self._unacked_bytes -= old.size

    def _confirmed(self, emits: int | None) -> None:
        """The hub processed ``emits`` emit frames of this link: forget those."""
        if emits is None:
            return
        unacked = self._unacked
        while unacked and unacked[0][0] <= emits:
            _, item = unacked.popleft()
            self._unacked_bytes -= item.size

    def _resend(self, ws: WebSocketClientConnection, welcome: Welcome) -> None:
        """After a welcome: write again what the hub did not process, if it resumed."""
        if welcome.emits is None:  # a hub without link recovery
            self._tracking = False
            self._unacked.clear()
            self._unacked_bytes = 0
            return
        self._tracking = True
        hub_count = welcome.emits
        if welcome.resumed:
            self._confirmed(hub_count)
        pending = [item for _, item in self._unacked]
        first = self._unacked[0][0] if self._unacked else hub_count + 1
        self._unacked.clear()
        self._unacked_bytes = 0
        self._written = hub_count
        if not welcome.resumed:
            if pending:
                self.unconfirmed_lost += len(pending)
                log.warning("the hub at %s did not keep this kernel link's session: %d emits "
                            "sent just before the link dropped may be lost", self.url,
                            len(pending))
            return
        if first != hub_count + 1:
            self.unconfirmed_lost += first - hub_count - 1
            log.warning("kernel link: %d emits were no longer kept for resending "
                        "(resend_packets / resend_bytes)", first - hub_count - 1)
        if pending:
            self.resent += len(pending)
            log.info("kernel link resumed: writing %d emits again", len(pending))
            budget = self.limits.batch_bytes
            if self.welcome is not None:
                budget = min(budget, self.welcome.max_message // 2)
            self._write(ws, pending, budget)

    def _drained(self, _future: Any) -> None:
        self._waiting_drain = False
        self._drain()

    def _warn_offline(self) -> None:
        if not self._offline_warned and not self.closed:
            self._offline_warned = True
            stats = self.buffer.stats()
            log.warning(
                "hub at %s unreachable: keeping emits until it is back (%d waiting; reliable "
                "emits block, then raise BufferFull, when %d frames or %d bytes wait)",
                self.url, stats["queued"], self.limits.buffer_packets, self.limits.buffer_bytes,
            )

    def send(self, kind: LinkKind, header: str | dict[str, Any], payload: str | None = None,
             attachments: tuple[bytes, ...] | list[bytes] = (), *, flush: bool = True) -> None:
        """Queue a command frame (never waits: commands are one per call)."""
        self.buffer.push_control(
            Outgoing(encode_frame(kind, header, payload), attachments), flush=flush
        )

    async def request(self, kind: LinkKind, header: dict[str, Any], payload: str | None = None,
                      attachments: tuple[bytes, ...] | list[bytes] = (), *,
                      timeout: float = 10.0) -> LinkFrame:
        """Send a command with an id and wait for its ``result``; raises the hub's error as
        the matching exception (:func:`~jupyter_sio.exceptions.from_wire`)."""
        if self._ws is None:
            raise Disconnected(f"not connected to the hub at {self.url}")
        request_id = next(self._ids)
        future: asyncio.Future[LinkFrame] = self.loop.create_future()
        self._results[request_id] = future
        self.send(kind, {**header, "id": request_id}, payload, attachments)
        try:
            frame = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise AckTimeout(
                f"the hub did not answer {kind.value!r} within {timeout} s"
            ) from None
        finally:
            self._results.pop(request_id, None)
        error = frame.header.get("error")
        if isinstance(error, dict):
            raise from_wire(error)
        return frame

    def _settle(self, frame: LinkFrame) -> None:
        future = self._results.pop(frame.header.get("id"), None)  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(frame)

    def stats(self) -> dict[str, Any]:
        return {**self.buffer.stats(), "state": self.state.value, "reconnects": self.reconnects,
                "pending_requests": len(self._results), "unconfirmed": len(self._unacked),
                "resent": self.resent, "unconfirmed_lost": self.unconfirmed_lost}


def _pending(ws: WebSocketClientConnection) -> int:
    stream = getattr(ws.protocol, "stream", None)
    if stream is None:
        return 0
    return int(stream._total_write_index - stream._total_write_done_index)

