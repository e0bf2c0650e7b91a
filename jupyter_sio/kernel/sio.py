"""``sio``: the object notebook cells (and scripts) use to talk to the hub.

It owns a private thread running an asyncio loop with one :class:`KernelConnection`, so:

- :meth:`KernelSio.emit` never blocks: the packet is encoded in the caller's thread (bad
  data raises there, in the cell) and written by the I/O thread; it works from any thread;
- events from browsers are handled while a cell is busy: sync handlers run in order on a
  handler thread, ``async def`` handlers on the I/O loop;
- after a hub restart the connection comes back with backoff and re-joins its rooms and
  re-registers its handlers; after a kernel restart the hub gives the kernel (same kernel
  id) its rooms back.

Blocking calls (:meth:`call`, :meth:`sockets`) have ``a``-prefixed coroutine twins for
async code (``await sio.acall(...)``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from ..exceptions import AckTimeout, Disconnected, SioError
from ..protocol.sio_codec import SocketPacket, SocketPacketType, encode_packet
from .connection import KernelConnection
from .discovery import Endpoint, discover, kernel_id
from .embedded import EmbeddedHub

log = logging.getLogger("jupyter_sio.kernel")
T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])


class Peer:
    """The client behind an event a kernel handler receives (first handler argument).

    ``sid`` is ``None`` for events that reached the kernel through a room broadcast.
    """

    __slots__ = ("info", "namespace", "sid", "sio")

    def __init__(
        self, sio: KernelSio, sid: str | None, namespace: str, info: dict[str, Any]
    ) -> None:
        self.sio = sio
        self.sid = sid
        self.namespace = namespace
        self.info = info

    @property
    def user(self) -> str | None:
        """The Jupyter user name of the sender."""
        return self.info.get("user")

    def _target(self) -> str:
        if self.sid is None:
            raise SioError("this event came through a room broadcast: it has no sender socket")
        return self.sid

    def emit(self, event: str, *args: Any) -> None:
        """Emit to this client only."""
        self.sio.emit(event, *args, to=self._target(), namespace=self.namespace)

    def call(self, event: str, *args: Any, timeout: float = 10.0) -> Any:
        return self.sio.call(
            event, *args, sid=self._target(), namespace=self.namespace, timeout=timeout
        )

    def join(self, *rooms: str) -> None:
        """Put this client into rooms (a kernel power)."""
        self.sio.join(*rooms, sids=[self._target()], namespace=self.namespace)

    def leave(self, *rooms: str) -> None:
        self.sio.leave(*rooms, sids=[self._target()], namespace=self.namespace)

    def disconnect(self) -> None:
        self.sio.disconnect_client(self._target(), namespace=self.namespace)

    def __repr__(self) -> str:
        return f"<Peer sid={self.sid} user={self.user} namespace={self.namespace}>"


class KernelSio:
    """A connection to a hub with kernel powers, usable from any thread."""

    def __init__(self) -> None:
        self.mode = "disconnected"
        self.endpoint: Endpoint | None = None
        self.embedded: EmbeddedHub | None = None
        self.rooms: set[str] = set()
        self.handlers: dict[tuple[str, str], Callable[..., Any]] = {}
        self._conn: KernelConnection | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="jupyter-sio", daemon=True
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "jupyter-sio-handler")
        self._tasks: set[asyncio.Future[None]] = set()
        self._thread.start()

    # -- lifecycle -------------------------------------------------------------------------
    def start(
        self,
        endpoint: Endpoint | None = None,
        *,
        embedded: bool | None = None,
        timeout: float = 10.0,
    ) -> KernelSio:
        """Connect: to ``endpoint``, else the discovered server, else an embedded hub.

        ``embedded=True`` skips discovery; ``embedded=False`` raises instead of embedding.
        """
        self._run(self._start(endpoint, embedded, timeout), timeout * 3)
        return self

    async def _start(
        self, endpoint: Endpoint | None, embedded: bool | None, timeout: float
    ) -> None:
        candidates = [endpoint] if endpoint is not None else ([] if embedded else discover())
        errors = []
        for candidate in candidates:
            try:
                await self._connect(candidate, timeout)
                self.mode = "server" if endpoint is None else "client"
                return
            except Exception as exc:  # unreachable, refused, old server without extension
                errors.append(f"{candidate.source} {candidate.url}: {exc!r}")
                log.info("hub at %s not usable: %r", candidate.url, exc)
        if endpoint is not None or embedded is False:
            raise Disconnected("could not reach a hub: " + "; ".join(errors))
        self.embedded = EmbeddedHub()
        await self._connect(await self.embedded.start(), timeout)
        self.mode = "embedded"

    async def _connect(self, endpoint: Endpoint, timeout: float) -> None:
        conn = KernelConnection(
            endpoint.url,
            headers=endpoint.headers,
            auth={"kernel": kernel_id()},
            connect_timeout=timeout,
        )
        conn.handlers["sio:event"] = self._on_routed_event
        conn.handlers["*"] = self._on_room_event
        conn.on_connect = self._hello
        await conn.start()
        self._conn, self.endpoint = conn, endpoint

    async def _hello(self) -> None:
        """After every (re)connect: take back rooms and handlers."""
        conn = self._conn_or_raise()
        try:
            reply = await conn.call("sio:hello", {"rooms": sorted(self.rooms)}, timeout=10)
            answer = reply[0] if reply else {}
            if isinstance(answer, dict) and answer.get("ok"):
                self.rooms.update(answer.get("rooms", []))
            by_namespace: dict[str, list[str]] = {}
            for namespace, event in self.handlers:
                by_namespace.setdefault(namespace, []).append(event)
            for namespace, events in by_namespace.items():
                conn.emit("sio:handle", {"events": events, "namespace": namespace})
        except (Disconnected, AckTimeout) as exc:
            log.debug("hello to hub failed: %r", exc)

    def close(self) -> None:
        """Disconnect and stop the I/O thread (and the embedded hub)."""
        if not self._loop.is_running():
            return
        try:
            self._run(self._close(), 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._executor.shutdown(wait=False)
            self.mode = "closed"

    async def _close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
        if self.embedded is not None:
            await self.embedded.stop()

    # -- state -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.connected.is_set()

    @property
    def sid(self) -> str | None:
        return self._conn.sid if self._conn is not None else None

    @property
    def url(self) -> str | None:
        """The Socket.IO endpoint that browsers and other clients connect to."""
        return self.endpoint.clients_url if self.endpoint is not None else None

    def status(self) -> dict[str, Any]:
        """Mode, URL, connection and rooms, plus the hub's counts when connected."""
        info: dict[str, Any] = {
            "mode": self.mode,
            "url": self.url,
            "connected": self.connected,
            "sid": self.sid,
            "kernel": kernel_id(),
            "rooms": sorted(self.rooms),
            "handlers": sorted(f"{ns}:{ev}" if ns != "/" else ev for ns, ev in self.handlers),
        }
        conn = self._conn
        if conn is not None:
            info.update(dropped=conn.dropped, reconnects=conn.reconnects)
        if self.connected:
            try:
                info["hub"] = self._command("sio:status", {}, 5.0)
            except SioError as exc:
                info["hub"] = {"error": str(exc)}
        return info

    # -- emitting --------------------------------------------------------------------------
    def emit(
        self,
        event: str,
        *args: Any,
        to: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None,
        namespace: str = "/",
        volatile: bool = False,
        key: str | None = None,
        retain: bool = False,
        include_self: bool = False,
    ) -> None:
        """Emit to rooms or sockets (``to``), everyone in ``namespace`` by default.

        Returns at once. The kernel itself is left out unless ``include_self``.
        ``volatile`` drops the packet for congested clients; ``key`` keeps only the newest
        packet per key for them, and ``retain=True`` keeps it as the rooms' current value
        of ``key`` for clients that join later (clear with :meth:`clear_retained`).
        Raises ``TypeError`` for data that is not JSON (bytes are fine: they travel as
        binary attachments) and ``PayloadTooLarge`` over the hub's limit.
        """
        spec: dict[str, Any] = {"event": event, "args": list(args), "namespace": namespace}
        if to is not None:
            spec["to"] = [to] if isinstance(to, str) else list(to)
        if exclude is not None:
            spec["exclude"] = [exclude] if isinstance(exclude, str) else list(exclude)
        if volatile:
            spec["volatile"] = True
        if key is not None:
            spec["key"] = key
        if retain:
            if key is None or to is None:
                raise ValueError("retain=True needs key=... and to=<room>")
            spec["retain"] = True
        if include_self:
            spec["include_self"] = True
        self._send("sio:emit", spec, volatile=volatile)

    def clear_retained(
        self, room: str | None = None, key: str | None = None, namespace: str = "/"
    ) -> None:
        """Forget retained values (one key of a room, a whole room, or all)."""
        self._send("sio:clear", {"room": room, "key": key, "namespace": namespace})

    def _send(self, event: str, spec: dict[str, Any], *, volatile: bool = False) -> None:
        conn = self._conn_or_raise()
        text, attachments = conn.encode(event, [spec])  # errors surface in the caller
        self._loop.call_soon_threadsafe(conn.send, text, attachments, volatile)

    def call(
        self, event: str, *args: Any, sid: str, namespace: str = "/", timeout: float = 10.0
    ) -> Any:
        """Emit to one socket with an ack and wait for its answer (blocking)."""
        return self._run(
            self.acall(event, *args, sid=sid, namespace=namespace, timeout=timeout, _here=True),
            timeout + 5,
        )

    async def acall(
        self,
        event: str,
        *args: Any,
        sid: str,
        namespace: str = "/",
        timeout: float = 10.0,
        _here: bool = False,
    ) -> Any:
        """Coroutine twin of :meth:`call`."""
        spec = {
            "sid": sid,
            "event": event,
            "args": list(args),
            "namespace": namespace,
            "timeout": timeout,
        }
        reply = await self._acommand("sio:call", spec, timeout + 2, here=_here)
        result = reply.get("result", [])
        return None if not result else result[0] if len(result) == 1 else tuple(result)

    def request(self, event: str, *args: Any, timeout: float = 10.0) -> Any:
        """Send ``event`` to the hub as a client would and return the ack's answer.

        The hub routes it like a browser's event: to a hub handler, or to the kernels that
        handle it with ``@sio.on`` (this one included), so kernels can call each other.
        """
        return self._run(self.arequest(event, *args, timeout=timeout, _here=True), timeout + 5)

    async def arequest(
        self, event: str, *args: Any, timeout: float = 10.0, _here: bool = False
    ) -> Any:
        """Coroutine twin of :meth:`request`."""
        if not _here and asyncio.get_running_loop() is not self._loop:
            future = asyncio.run_coroutine_threadsafe(
                self.arequest(event, *args, timeout=timeout, _here=True), self._loop
            )
            return await asyncio.wrap_future(future)
        reply = await self._conn_or_raise().call(event, *args, timeout=timeout)
        return None if not reply else reply[0] if len(reply) == 1 else tuple(reply)

    # -- rooms -----------------------------------------------------------------------------
    def join(self, *rooms: str, sids: Iterable[str] | None = None, namespace: str = "/") -> None:
        """Join rooms (or, with ``sids``, put those clients into them). Returns at once."""
        self._membership("sio:join", rooms, sids, namespace)

    def leave(self, *rooms: str, sids: Iterable[str] | None = None, namespace: str = "/") -> None:
        """Leave rooms (or, with ``sids``, take those clients out of them)."""
        self._membership("sio:leave", rooms, sids, namespace)

    def _membership(
        self, command: str, rooms: tuple[str, ...], sids: Iterable[str] | None, namespace: str
    ) -> None:
        spec: dict[str, Any] = {"rooms": list(rooms), "namespace": namespace}
        if sids is not None:
            spec["sids"] = list(sids)
        elif command == "sio:join":
            self.rooms.update(rooms)  # re-joined after reconnects
        else:
            self.rooms.difference_update(rooms)
        self._send(command, spec)

    def sockets(
        self, room: str | None = None, namespace: str = "/", timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Who is connected (in ``room``): sid, user, kernel, transport, rooms."""
        reply = self._command("sio:sockets", {"room": room, "namespace": namespace}, timeout)
        return list(reply.get("sockets", []))

    async def asockets(
        self, room: str | None = None, namespace: str = "/", timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        reply = await self._acommand("sio:sockets", {"room": room, "namespace": namespace}, timeout)
        return list(reply.get("sockets", []))

    def disconnect_client(self, sid: str, namespace: str = "/", close: bool = False) -> None:
        """Disconnect another client (a kernel power)."""
        self._send("sio:disconnect", {"sids": [sid], "namespace": namespace, "close": close})

    # -- handlers --------------------------------------------------------------------------
    def on(self, event: str, handler: H | None = None, *, namespace: str = "/") -> Any:
        """Handle ``event`` from clients: ``handler(peer, *args)``; its return value answers
        the client's ack. Usable as a decorator. Re-registering replaces the handler.

        Sync handlers run one at a time on a handler thread (so they run while a cell is
        busy: make them thread-safe); ``async def`` handlers run on the I/O loop.
        """

        def register(fn: H) -> H:
            fresh = (namespace, event) not in self.handlers
            self.handlers[(namespace, event)] = fn
            if fresh and self._conn is not None:
                self._send("sio:handle", {"events": [event], "namespace": namespace})
            return fn

        return register(handler) if handler is not None else register

    def off(self, event: str, namespace: str = "/") -> None:
        if self.handlers.pop((namespace, event), None) is not None and self._conn is not None:
            self._send("sio:unhandle", {"events": [event], "namespace": namespace})

    def _on_routed_event(self, args: list[Any], ack_id: int | None) -> None:
        """``sio:event`` from the hub: a client event this kernel handles."""
        payload = args[0] if args and isinstance(args[0], dict) else {}
        namespace = payload.get("namespace", "/")
        handler = self.handlers.get((namespace, payload.get("event", "")))
        if handler is None:
            if ack_id is not None:
                self._reply(ack_id, [{"ok": False, "error": "no handler in this kernel"}])
            return
        peer = Peer(self, payload.get("sid"), namespace, payload)
        self._invoke(handler, peer, payload.get("args", []), ack_id, wrapped=True)

    def _on_room_event(self, data: list[Any], ack_id: int | None) -> None:
        """An ordinary event (room broadcast) reached this kernel's own socket."""
        handler = self.handlers.get(("/", data[0]))
        if handler is None:
            if ack_id is not None:
                self._reply(ack_id, [{"error": "unhandled", "event": data[0]}])
            return
        self._invoke(handler, Peer(self, None, "/", {}), data[1:], ack_id, wrapped=False)

    def _invoke(
        self,
        handler: Callable[..., Any],
        peer: Peer,
        args: list[Any],
        ack_id: int | None,
        *,
        wrapped: bool,
    ) -> None:
        if inspect.iscoroutinefunction(handler):

            async def run_async() -> None:
                try:
                    result = await handler(peer, *args)
                except Exception as exc:
                    self._failed(ack_id, exc, wrapped)
                    return
                self._answer(ack_id, result, wrapped)

            task = asyncio.ensure_future(run_async())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return

        def run_sync() -> None:
            try:
                result = handler(peer, *args)
            except Exception as exc:
                self._failed(ack_id, exc, wrapped)
                return
            self._answer(ack_id, result, wrapped)

        self._executor.submit(run_sync)

    def _answer(self, ack_id: int | None, result: Any, wrapped: bool) -> None:
        if ack_id is None:
            return
        values = list(result) if isinstance(result, tuple) else [] if result is None else [result]
        try:
            self._reply(ack_id, [{"ok": True, "result": values}] if wrapped else values)
        except (TypeError, ValueError) as exc:
            self._failed(ack_id, exc, wrapped)

    def _failed(self, ack_id: int | None, exc: Exception, wrapped: bool) -> None:
        traceback.print_exception(exc)
        if ack_id is not None:
            error = f"{type(exc).__name__}: {exc}"
            self._reply(ack_id, [{"ok": False, "error": error}] if wrapped else [{"error": error}])

    def _reply(self, ack_id: int, args: list[Any]) -> None:
        conn = self._conn_or_raise()
        text, attachments = encode_packet(
            SocketPacket(SocketPacketType.ACK, conn.namespace, args, ack_id)
        )
        self._loop.call_soon_threadsafe(conn.send, text, attachments)

    # -- rich output -----------------------------------------------------------------------
    def display(
        self,
        obj: Any,
        *,
        to: str | Iterable[str] | None = None,
        event: str = "display",
        key: str | None = None,
    ) -> None:
        """Broadcast ``obj``'s rich representation (the mime bundle a cell would show)."""
        from .display import mime_bundle

        self.emit(event, mime_bundle(obj), to=to, key=key)

    # -- plumbing --------------------------------------------------------------------------
    def _conn_or_raise(self) -> KernelConnection:
        if self._conn is None:
            raise Disconnected("jupyter_sio is not connected: call start() / %load_ext first")
        return self._conn

    def _command(self, event: str, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self._run(self._acommand(event, spec, timeout, here=True), timeout + 2)

    async def _acommand(
        self, event: str, spec: dict[str, Any], timeout: float, here: bool = False
    ) -> dict[str, Any]:
        if not here and asyncio.get_running_loop() is not self._loop:
            future = asyncio.run_coroutine_threadsafe(
                self._acommand(event, spec, timeout, here=True), self._loop
            )
            return await asyncio.wrap_future(future)
        reply = await self._conn_or_raise().call(event, spec, timeout=timeout)
        answer = reply[0] if reply else None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else answer
            raise SioError(f"{event} failed: {error}")
        return answer

    async def _on_io_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the I/O loop from another loop (the kernel's, for instance)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the I/O loop and wait (from any thread but the I/O thread)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "blocking sio calls cannot run on the I/O loop: use the "
                "async twin (await sio.acall / sio.asockets) in async handlers"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise AckTimeout(f"no answer from the hub within {timeout} s") from None

    def __repr__(self) -> str:
        return f"<jupyter_sio {self.mode} url={self.url} connected={self.connected}>"
