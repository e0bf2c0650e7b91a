"""The comm relay: a hub client in the kernel for widgets that cannot reach the hub.

When a widget's front end has no hub it can reach (VS Code, Colab, a kernel running an
embedded hub, or ``_transport = "comm"``), it says ``{"type": "hello", "mode": "comm"}`` over
the widget comm. The kernel then opens a *separate* client connection to the hub for that
widget (not the kernel's powered ``sio`` socket, which would also receive the kernel's own
traffic): it receives what a browser in the widget's rooms would receive, and forwards it.

Front end → kernel: ``hello {id}``, ``emit {event, args}``, ``call {id, event, args, timeout}``,
``bye {id}``. Kernel → front end: ``{"type": "batch", "items": [...], "dropped": n}`` with items
``{type: "event", event, args}``, ``{type: "reply", id, ok, args | error}`` and
``{type: "status", connected, reason?}``.

Every comm message counts against Jupyter's IOPub limit (1000 messages/s per kernel, over
which output is dropped), so the relay batches: at most one message per ``interval``
(1/30 s by default) per widget, with a bounded backlog (oldest items dropped and counted).

The relay's hub connection lives while a front end uses it, as a browser's own socket lives
while the widget has a view on the page (issue: each re-run of a widget cell left another
live socket): ``hello`` with the front end's ``id`` opens it (or reports it), and the ``bye``
of the last front end that said hello closes it; a later ``hello`` opens it again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import SioError
from ..protocol.link_codec import TOKEN_HEADER

if TYPE_CHECKING:
    from ..kernel.sio import KernelSio
    from ..kernel.sio_client import SocketIOClient

log = logging.getLogger("jupyter_sio.widgets")

Send = Callable[[dict[str, Any]], None]
Timer = Callable[[float, Callable[[], None]], Any]

#: at most this many comm messages per second per widget
MAX_RATE = 30.0


class Batcher:
    """Collect items and send them as one message at most every ``interval`` seconds.

    ``add`` may be called from any thread. The first item after a quiet period is sent
    without delay; later ones wait for the interval to pass. ``call_later(delay, fn)``
    schedules a flush (an event loop's ``call_later``; tests pass a fake with a fake clock).
    """

    def __init__(
        self,
        send: Send,
        call_later: Timer,
        *,
        interval: float = 1 / MAX_RATE,
        max_items: int = 5000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.send = send
        self.call_later = call_later
        self.interval = interval
        self.clock = clock
        self.items: deque[dict[str, Any]] = deque()
        self.max_items = max_items
        self.dropped = 0
        self.sent_messages = 0
        self.sent_items = 0
        self._last = float("-inf")
        self._scheduled = False
        self._closed = False
        self._lock = threading.Lock()

    def add(self, item: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            self.items.append(item)
            if len(self.items) > self.max_items:
                self.items.popleft()
                self.dropped += 1
            if self._scheduled:
                return
            self._scheduled = True
            delay = max(0.0, self._last + self.interval - self.clock())
        self.call_later(delay, self.flush)

    def flush(self) -> None:
        with self._lock:
            self._scheduled = False
            if self._closed or not self.items:
                return
            items, self.items = list(self.items), deque()
            dropped, self.dropped = self.dropped, 0
            self._last = self.clock()
        message: dict[str, Any] = {"type": "batch", "items": items}
        if dropped:
            message["dropped"] = dropped
        self.sent_messages += 1
        self.sent_items += len(items)
        try:
            self.send(message)
        except Exception:  # a closed comm: nothing to tell
            log.debug("relay could not send a batch", exc_info=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self.items.clear()


def jsonable(value: Any) -> Any:
    """Comm content is JSON: binary attachments travel as base64 text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def relay_endpoint(sio: KernelSio) -> tuple[str, dict[str, str]]:
    """Where the relay connects, and with which headers.

    Embedded hub: its browser endpoint with the embedded token, exactly like a browser. A
    server hub: ``kernel-sio/``, which takes the kernel secret (a kernel cannot log in as a
    browser) and gives a browser's rights; with a server token, the browser endpoint.
    """
    endpoint = sio.endpoint
    if endpoint is None:
        raise SioError("jupyter_sio is not connected: nothing to relay")
    if sio.mode == "embedded" and sio.embedded is not None:
        return endpoint.clients_url, {"Authorization": f"token {sio.embedded.token}"}
    if TOKEN_HEADER in endpoint.headers:  # the kernel secret: the server's relay endpoint
        return endpoint.base + "kernel-sio/", dict(endpoint.headers)
    return endpoint.clients_url, dict(endpoint.headers)


class CommRelay:
    """One widget's client connection to the hub, forwarded over the widget comm."""

    def __init__(
        self,
        sio: KernelSio,
        send: Send,
        *,
        namespace: str = "/",
        interval: float = 1 / MAX_RATE,
        max_items: int = 5000,
    ) -> None:
        self.sio = sio
        self.namespace = namespace
        self.loop: asyncio.AbstractEventLoop = sio._loop
        self.batcher = Batcher(
            send,
            self._call_later,
            interval=interval,
            max_items=max_items,
            clock=self.loop.time,
        )
        self.conn: SocketIOClient | None = None
        self.connected = False
        self.closed = False
        #: the front ends (their hello ``id``) that said hello and not yet bye
        self.front_ends: set[str] = set()
        self._tasks: set[asyncio.Future[Any]] = set()

    # -- scheduling on the kernel client's I/O loop ------------------------------------------
    def _call_later(self, delay: float, fn: Callable[[], None]) -> None:
        if self.closed:
            return
        if _on_loop(self.loop):
            self.loop.call_later(delay, fn)
        else:
            self.loop.call_soon_threadsafe(self.loop.call_later, delay, fn)

    def _spawn(self, coro: Any) -> None:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._tasks.add(future)  # type: ignore[arg-type]
        future.add_done_callback(self._tasks.discard)  # type: ignore[arg-type]

    # -- front end → hub ----------------------------------------------------------------------
    def handle(self, content: dict[str, Any]) -> None:
        """A message from the front end (any thread)."""
        kind = content.get("type")
        if kind == "hello":
            self.front_ends.add(str(content.get("id") or ""))
            self._spawn(self._hello())
        elif kind == "bye":
            self.front_ends.discard(str(content.get("id") or ""))
            if not self.front_ends:
                self._spawn(self._release())
        elif kind == "emit":
            self._spawn(self._emit(str(content.get("event", "")), content.get("args") or []))
        elif kind == "call":
            timeout = content.get("timeout")
            self._spawn(
                self._call(
                    content.get("id"),
                    str(content.get("event", "")),
                    content.get("args") or [],
                    float(timeout) if isinstance(timeout, (int, float)) else 10.0,
                )
            )

    async def _hello(self) -> None:
        if self.conn is not None:
            # Another front end (or a reload) on the same widget: tell it we are up.
            self._status(self.conn.connected.is_set())
            return
        from ..kernel.sio_client import SocketIOClient

        try:
            url, headers = relay_endpoint(self.sio)
        except SioError as exc:
            self._status(False, str(exc))
            return
        conn = SocketIOClient(url, headers=headers, namespace=self.namespace)
        conn.handlers["*"] = self._on_event
        conn.on_connect = self._on_connect
        conn.on_disconnect = self._on_disconnect
        self.conn = conn
        try:
            await conn.start()
        except Exception as exc:
            if self.conn is not conn:  # released (or closed) while connecting
                return
            log.info("comm relay could not connect to %s: %r", url, exc)
            self.conn = None
            self._status(False, f"relay could not connect: {type(exc).__name__}")

    async def _release(self) -> None:
        """The last front end said bye: close the hub connection (a hello reopens it)."""
        if self.front_ends or self.conn is None:
            return
        conn, self.conn = self.conn, None
        self.connected = False
        # nothing of this connection reaches a front end any more (a new hello may be here)
        conn.handlers.clear()
        conn.on_connect = None
        conn.on_disconnect = None
        await conn.close()

    async def _on_connect(self) -> None:
        self._status(True)

    def _on_disconnect(self, reason: str) -> None:
        self._status(False, reason)

    def _status(self, connected: bool, reason: str | None = None) -> None:
        self.connected = connected
        item: dict[str, Any] = {"type": "status", "connected": connected}
        if reason:
            item["reason"] = reason
        self.batcher.add(item)

    async def _emit(self, event: str, args: list[Any]) -> None:
        if self.conn is None or not event:
            return
        try:
            self.conn.emit(event, *args)
        except (TypeError, ValueError, SioError) as exc:
            log.info("comm relay could not emit %r: %r", event, exc)

    async def _call(self, call_id: Any, event: str, args: list[Any], timeout: float) -> None:
        if self.conn is None:
            self._reply(call_id, False, error="not connected")
            return
        try:
            result = await self.conn.call(event, *args, timeout=timeout)
        except Exception as exc:
            self._reply(call_id, False, error=f"{type(exc).__name__}: {exc}")
            return
        self._reply(call_id, True, args=jsonable(result))

    def _reply(self, call_id: Any, ok: bool, **fields: Any) -> None:
        self.batcher.add({"type": "reply", "id": call_id, "ok": ok, **fields})

    # -- hub → front end ----------------------------------------------------------------------
    def _on_event(self, data: list[Any], ack_id: int | None) -> None:
        if ack_id is not None and self.conn is not None:
            # Server-to-client acks are not relayed (the front end may be several tabs).
            self.conn.ack(ack_id, [{"error": "not supported over the widget comm"}])
        if not data:
            return
        self.batcher.add({"type": "event", "event": str(data[0]), "args": jsonable(data[1:])})

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect (any thread); the batcher sends nothing more."""
        if self.closed:
            return
        self.closed = True
        self.batcher.close()
        conn, self.conn = self.conn, None
        if conn is not None and self.loop.is_running():
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(conn.close(), self.loop)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
