"""``sio``: the object notebook cells (and scripts) use to act as server-side code.

It owns a private I/O thread running an asyncio loop with one :class:`LinkClient`, and a
handler thread, so:

- :meth:`KernelSio.emit` encodes the Socket.IO packet in the caller's thread (bad data
  raises there, in the cell) and queues it in the bounded link buffer; the I/O thread sends
  queued frames in batches. It never waits, unless the buffer is full (see
  :mod:`.link_buffer`: then it waits up to ``send_timeout`` and raises ``BufferFull``);
- client events routed to this kernel are handled while a cell is busy: sync handlers one
  at a time on the handler thread, ``async def`` handlers on the I/O loop;
- a pending :meth:`call` holds nothing else: calls, commands and emits are separate frames;
- after a hub restart the link comes back with backoff and says hello with its rooms and
  handlers; after a kernel restart the hub gives the kernel id its rooms back.

There is one implementation of each operation, a coroutine on the I/O loop; the blocking
methods (``call``, ``request``, ``sockets``, ``status``) and their ``a``-prefixed
awaitable forms (``await sio.acall(...)``, from any loop) are thin wrappers around it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import queue
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import (
    AckTimeout,
    Disconnected,
    HandlerError,
    PayloadTooLarge,
    SioError,
    UnknownNamespace,
)
from ..protocol.frames import Outgoing
from ..protocol.link_codec import (
    LinkFrame,
    LinkKind,
    ack_insert_offset,
    encode_header,
    error_header,
)
from ..protocol.sio_codec import (
    RESERVED_EVENTS,
    PacketDecoder,
    SocketPacketType,
    deconstruct,
    dumps,
    encode_event_packet,
    reconstruct,
)
from .discovery import Endpoint, discover, explain, kernel_id, why_embedded
from .link_client import LinkClient, LinkLimits

if TYPE_CHECKING:
    from .embedded import EmbeddedHub

log = logging.getLogger("jupyter_sio.kernel")
T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])

Targets = str | Iterable[str] | None


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
        """The Jupyter user name of the sender (set by the hub, never by the client)."""
        return self.info.get("user")

    @property
    def display_name(self) -> str | None:
        return self.info.get("display_name") or self.user

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
    """A kernel link to a hub, usable from any thread."""

    def __init__(self, limits: LinkLimits | None = None) -> None:
        self.mode = "disconnected"
        #: why ``mode`` is what it is, for the user (e.g. why the hub is embedded)
        self.why = ""
        self.endpoint: Endpoint | None = None
        self.embedded: EmbeddedHub | None = None
        self.limits = limits or LinkLimits()
        #: (namespace, room) pairs this kernel joined (said again after reconnects)
        self.joined: set[tuple[str, str]] = set()
        #: (namespace, event) -> (handler, rooms it is scoped to)
        self.handlers: dict[tuple[str, str], tuple[Callable[..., Any], tuple[str, ...]]] = {}
        self._link: LinkClient | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="jupyter-sio", daemon=True
        )
        self._work: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._worker = threading.Thread(target=self._work_loop, name="jupyter-sio-handler",
                                        daemon=True)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._headers: dict[tuple[Any, ...], str] = {}
        self._namespaces: set[str] = {"/"}
        self._acks: dict[int, asyncio.Future[list[Any]]] = {}
        self._ack_ids = 0
        self._decoder = PacketDecoder(max_attachments=1000, max_bytes=64 * 1024 * 1024)
        self._thread.start()
        self._worker.start()

    @property
    def rooms(self) -> set[str]:
        """The rooms this kernel joined in namespace ``/``."""
        return {room for ns, room in self.joined if ns == "/"}

    # -- lifecycle -------------------------------------------------------------------------
    def start(
        self, endpoint: Endpoint | None = None, *, embedded: bool | None = None,
        timeout: float = 10.0,
    ) -> KernelSio:
        """Connect: to ``endpoint``, else the discovered server, else an embedded hub.

        ``embedded=True`` skips discovery; ``embedded=False`` raises instead of embedding.
        """
        self._run(self._start(endpoint, embedded, timeout), timeout * 3)
        return self

    async def _start(self, endpoint: Endpoint | None, embedded: bool | None,
                     timeout: float) -> None:
        candidates = [endpoint] if endpoint is not None else ([] if embedded else discover())
        errors = []
        for candidate in candidates:
            try:
                await self._connect(candidate, timeout)
                self.mode = "server" if endpoint is None else "client"
                return
            except Exception as exc:  # unreachable, refused, old server without extension
                errors.append(explain(candidate, exc))
                log.info("hub at %s not usable: %r", candidate.url, exc)
        if endpoint is not None or embedded is False:
            raise Disconnected("could not reach a hub: " + "; ".join(errors))
        self.why = why_embedded(errors) if not embedded else "embedded=True was asked for"
        from .embedded import EmbeddedHub  # the hub's server code, only when needed

        self.embedded = EmbeddedHub()
        await self._connect(await self.embedded.start(), timeout)
        self.mode = "embedded"

    async def _connect(self, endpoint: Endpoint, timeout: float) -> None:
        link = LinkClient(
            endpoint.url,
            headers=endpoint.headers,
            limits=replace(self.limits, connect_timeout=timeout),
            hello=self._hello,
            on_frame=self._on_frame,
            io_thread=self._on_io_thread,
        )
        link.on_reconnect = lambda: self._welcomed(link)
        await link.start()
        self._link, self.endpoint = link, endpoint
        self._welcomed(link)

    def _welcomed(self, link: LinkClient) -> None:
        """The hub gives a restarted kernel id the rooms it had: they are ours again."""
        if link.welcome is not None:
            self.joined |= set(link.welcome.rooms)

    def _hello(self) -> dict[str, Any]:
        """What the hub hears after every (re)connect: who we are, our rooms, handlers."""
        return {
            "kernel": kernel_id(),
            "rooms": sorted([ns, room] for ns, room in self.joined),
            "handlers": [[ns, ev, list(rooms)] for (ns, ev), (_, rooms) in self.handlers.items()],
        }

    def configure(self, **limits: Any) -> None:
        """Change link limits (:class:`LinkLimits` fields, e.g. ``send_timeout=30``).

        ``send_timeout`` and the buffer limits apply at once; the rest from the next
        connect."""
        self.limits = replace(self.limits, **limits)
        link = self._link
        if link is not None:
            buffer = link.buffer
            buffer.send_timeout = self.limits.send_timeout
            buffer._box.max_packets = self.limits.buffer_packets
            buffer._box.max_bytes = self.limits.buffer_bytes
            link.limits = replace(self.limits, connect_timeout=link.limits.connect_timeout)

    def close(self) -> None:
        """Disconnect and stop the I/O and handler threads (and the embedded hub)."""
        if not self._loop.is_running():
            return
        try:
            self._run(self._close(), 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._work.put(None)
            self.mode = "closed"

    async def _close(self) -> None:
        if self._link is not None:
            await self._link.close()
        if self.embedded is not None:
            await self.embedded.stop()

    # -- state -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected.is_set()

    @property
    def sid(self) -> str | None:
        """This kernel's socket id in namespace ``/`` (what ``to=`` and listings show)."""
        return self._link.sid if self._link is not None else None

    @property
    def url(self) -> str | None:
        """The Socket.IO endpoint that browsers and other clients connect to."""
        return self.endpoint.clients_url if self.endpoint is not None else None

    def status(self) -> dict[str, Any]:
        """Mode, URL, connection, rooms, handlers, the link buffer; the hub's counts."""
        info: dict[str, Any] = {
            "mode": self.mode,
            "why": self.why,
            "url": self.url,
            "connected": self.connected,
            "sid": self.sid,
            "kernel": kernel_id(),
            "rooms": sorted(self.rooms),
            "handlers": sorted(f"{ns}:{ev}" if ns != "/" else ev for ns, ev in self.handlers),
        }
        link = self._link
        if link is not None:
            info["link"] = link.stats()
        if self.connected:
            try:
                info["hub"] = self._run(self._status(False), 7)
            except SioError as exc:
                info["hub"] = {"error": str(exc)}
        return info

    async def astatus(self, detail: bool = False) -> dict[str, Any]:
        return await self._aio(self._status(detail))

    async def _status(self, detail: bool) -> dict[str, Any]:
        frame = await self._link_or_raise().request(LinkKind.STATUS, {"detail": detail},
                                                    timeout=5)
        return {k: v for k, v in frame.header.items() if k != "id"}

    # -- emitting --------------------------------------------------------------------------
    def emit(
        self,
        event: str,
        *args: Any,
        to: Targets = None,
        exclude: Targets = None,
        namespace: str = "/",
        volatile: bool = False,
        key: str | None = None,
        retain: bool | int = False,
        include_self: bool = False,
    ) -> None:
        """Emit to rooms or sockets (``to``), everyone in ``namespace`` by default.

        Returns at once (unless the link buffer is full: see the module doc). The kernel
        itself is left out unless ``include_self``. ``volatile`` drops the packet for
        congested clients; ``key`` keeps only the newest packet per key for them, and
        ``retain=True`` keeps it as the rooms' current value of ``key`` for clients that
        join later (clear with :meth:`clear_retained`); ``retain=N`` keeps the last N
        packets of the key (a chart's recent points). Raises ``TypeError`` for data that
        is not JSON (bytes are fine: binary attachments), ``PayloadTooLarge`` over the
        hub's limit, ``UnknownNamespace``, and ``BufferFull`` (see above).
        """
        link = self._link_or_raise()
        rooms, excluded = _names(to), _names(exclude)
        if retain and (key is None or not rooms):
            raise ValueError("retain=True needs key=... and to=<room>")
        options = (namespace, rooms, excluded, volatile, key, retain, include_self)
        header = self._headers.get(options)
        if header is None:
            header = self._emit_header(options)
        text, attachments = self._encode("sio.emit", event, args, namespace)
        if attachments:  # the count goes in the frame's header (the hub waits for them)
            header = f'{header[:-1]},"n":{len(attachments)}}}'
        line = "emit\t" + header + "\t" + text
        # A key with a retained history keeps every value: no conflation on the way out.
        conflate = key is not None and (retain is False or retain is True or retain == 1)
        link.buffer.push(
            Outgoing(line, attachments, key=header if conflate else None, volatile=volatile)
        )

    def _emit_header(self, options: tuple[Any, ...]) -> str:
        namespace, rooms, excluded, volatile, key, retain, include_self = options
        self._check_namespace(namespace)
        spec: dict[str, Any] = {"ns": namespace}
        if rooms:
            spec["to"] = list(rooms)
        if excluded:
            spec["ex"] = list(excluded)
        if volatile:
            spec["v"] = 1
        if key is not None:
            spec["k"] = str(key)
        if retain:
            spec["r"] = 1 if retain is True else int(retain)
        if include_self:
            spec["self"] = 1
        header = encode_header(spec)
        if len(self._headers) > 1024:
            self._headers.clear()
        self._headers[options] = header
        return header

    def _encode(self, what: str, event: str, args: tuple[Any, ...] | list[Any], namespace: str,
                ack_id: int | None = None) -> tuple[str, list[bytes]]:
        """One Socket.IO EVENT packet; errors in the caller's terms."""
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            raise ValueError(f"{what}: {event!r} is not an event name a server may emit")
        try:
            text, attachments = encode_event_packet(namespace, [event, *args], ack_id)
        except TypeError as exc:
            raise TypeError(f"{what}({event!r}, ...): {exc}") from None
        limit = self._link.max_payload if self._link is not None else 1_000_000
        size = len(text)  # characters: a cheap lower bound of the UTF-8 size...
        if size * 4 > limit:
            size = len(text.encode())  # ...measured exactly only when it could matter
        if size > limit:
            raise PayloadTooLarge(
                f"{what}({event!r}, ...): the packet is {size:,} bytes of JSON; the hub "
                f"accepts at most max_payload={limit:,} bytes per packet"
            )
        for blob in attachments:
            if len(blob) > limit:
                raise PayloadTooLarge(
                    f"{what}({event!r}, ...): a binary argument is {len(blob):,} bytes; the "
                    f"hub accepts at most max_payload={limit:,} bytes per attachment"
                )
        return text, attachments

    def _check_namespace(self, namespace: str) -> None:
        """Ask the hub once per namespace name whether it exists (emits are one-way)."""
        if namespace in self._namespaces:
            return
        if not namespace.startswith("/") or any(ord(c) < 32 for c in namespace):
            raise UnknownNamespace(f"{namespace!r} is not a namespace name (they start with /)")
        if self._on_io_thread() or not self.connected:
            return  # cannot wait here; the hub refuses the emit with a notice if it is unknown
        self._run(self._resolve(namespace), 10)
        self._namespaces.add(namespace)

    async def _resolve(self, namespace: str) -> None:
        await self._link_or_raise().request(LinkKind.RESOLVE, {"ns": namespace}, timeout=8)

    def clear_retained(self, room: str | None = None, key: str | None = None,
                       namespace: str = "/") -> None:
        """Forget retained values (one key of a room, a whole room, or all)."""
        self._command(LinkKind.CLEAR, {"ns": namespace, "room": room, "key": key})

    def _command(self, kind: LinkKind, header: dict[str, Any]) -> None:
        self._link_or_raise().send(kind, header)

    # -- calls -----------------------------------------------------------------------------
    def call(self, event: str, *args: Any, sid: str, namespace: str = "/",
             timeout: float = 10.0) -> Any:
        """Emit to one socket with an ack and wait for its answer (blocking).

        Raises :class:`AckTimeout`, :class:`UnknownSocket`, :class:`Disconnected`."""
        return self._run(self._call(event, args, sid, namespace, timeout), timeout + 5)

    async def acall(self, event: str, *args: Any, sid: str, namespace: str = "/",
                    timeout: float = 10.0) -> Any:
        """Awaitable :meth:`call` (from any loop)."""
        return await self._aio(self._call(event, args, sid, namespace, timeout))

    async def _call(self, event: str, args: tuple[Any, ...], sid: str, namespace: str,
                    timeout: float) -> Any:
        text, attachments = self._encode("sio.call", event, args, namespace)
        header: dict[str, Any] = {"ns": namespace, "sid": sid, "at": ack_insert_offset(text),
                                  "timeout": timeout, "event": event}
        if attachments:
            header["n"] = len(attachments)
        frame = await self._link_or_raise().request(
            LinkKind.CALL, header, text, attachments, timeout=timeout + 2
        )
        return _values(_decode_json(frame))

    def request(self, event: str, *args: Any, namespace: str = "/", timeout: float = 10.0) -> Any:
        """Send ``event`` to the hub as a client would and return the ack's answer.

        The hub routes it like a browser's event: to a hub handler, or to the kernel whose
        ``@sio.on`` takes it (this one included), so kernels can call each other. Raises
        :class:`HandlerError` when the handler raised (or nobody handles the event).
        """
        return self._run(self._request(event, args, namespace, timeout), timeout + 5)

    async def arequest(self, event: str, *args: Any, namespace: str = "/",
                       timeout: float = 10.0) -> Any:
        """Awaitable :meth:`request` (from any loop)."""
        return await self._aio(self._request(event, args, namespace, timeout))

    async def _request(self, event: str, args: tuple[Any, ...], namespace: str,
                       timeout: float) -> Any:
        link = self._link_or_raise()
        if not link.connected.is_set():
            raise Disconnected(f"not connected to the hub at {link.url}")
        self._ack_ids += 1
        ack_id = self._ack_ids
        text, attachments = self._encode("sio.request", event, args, namespace, ack_id)
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        self._acks[ack_id] = future
        link.send(LinkKind.SEND, {"n": len(attachments)} if attachments else "{}", text,
                  attachments)
        try:
            answer = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise AckTimeout(f"no answer to {event!r} within {timeout} s") from None
        finally:
            self._acks.pop(ack_id, None)
        if len(answer) == 1 and _is_error_answer(answer[0]):
            error = answer[0]
            raise HandlerError(f"{event!r}: {error['error']}: {error['message']}",
                               str(error["error"]))
        return _values(answer)

    # -- rooms -----------------------------------------------------------------------------
    def join(self, *rooms: str, sids: Iterable[str] | None = None, namespace: str = "/") -> None:
        """Join rooms (or, with ``sids``, put those clients into them). Returns at once."""
        self._membership(LinkKind.JOIN, rooms, sids, namespace)

    def leave(self, *rooms: str, sids: Iterable[str] | None = None, namespace: str = "/") -> None:
        """Leave rooms (or, with ``sids``, take those clients out of them)."""
        self._membership(LinkKind.LEAVE, rooms, sids, namespace)

    def _membership(self, kind: LinkKind, rooms: tuple[str, ...], sids: Iterable[str] | None,
                    namespace: str) -> None:
        if not rooms or not all(isinstance(r, str) for r in rooms):
            raise ValueError(f"sio.{kind.value}() needs one or more room names (strings)")
        link = self._link_or_raise()
        self._check_namespace(namespace)
        header: dict[str, Any] = {"ns": namespace, "rooms": list(rooms)}
        if sids is not None:
            header["sids"] = list(sids)
        else:
            pairs = {(namespace, room) for room in rooms}
            if kind is LinkKind.JOIN:
                self.joined |= pairs  # said again after reconnects
            else:
                self.joined -= pairs
        link.send(kind, header)

    def sockets(self, room: str | None = None, namespace: str = "/",
                timeout: float = 10.0) -> list[dict[str, Any]]:
        """Who is connected (in ``room``): sid, user, kernel, transport, rooms."""
        return self._run(self._sockets(room, namespace, timeout), timeout + 5)

    async def asockets(self, room: str | None = None, namespace: str = "/",
                       timeout: float = 10.0) -> list[dict[str, Any]]:
        return await self._aio(self._sockets(room, namespace, timeout))

    async def _sockets(self, room: str | None, namespace: str,
                       timeout: float) -> list[dict[str, Any]]:
        frame = await self._link_or_raise().request(
            LinkKind.SOCKETS, {"ns": namespace, "room": room}, timeout=timeout
        )
        return list(frame.header.get("sockets", []))

    def disconnect_client(self, sid: str, namespace: str = "/", close: bool = False) -> None:
        """Disconnect another client (a kernel power)."""
        self._command(LinkKind.DISCONNECT, {"ns": namespace, "sids": [sid], "close": close})

    # -- handlers --------------------------------------------------------------------------
    def on(self, event: str, handler: H | None = None, *, namespace: str = "/",
           room: str | Iterable[str] | None = None) -> Any:
        """Handle ``event`` from clients: ``handler(peer, *args)``; its return value answers
        the client's ack (raising answers ``{"error": <type>, "message": ...}``). Usable as
        a decorator. Re-registering replaces the handler.

        Which kernel gets an event several kernels handle: the widget's own kernel first,
        then handlers scoped with ``room=`` to a room the sender is in, then the newest
        registration (see ``jupyter_sio.hub.kernel_routing``). Sync handlers run one at a
        time on a handler thread (so they run while a cell is busy: make them thread-safe);
        ``async def`` handlers run on the I/O loop.
        """
        rooms = _names(room)

        def register(fn: H) -> H:
            self.handlers[(namespace, event)] = (fn, rooms)
            if self._link is not None:
                header: dict[str, Any] = {"ns": namespace, "events": [event]}
                if rooms:
                    header["rooms"] = list(rooms)
                self._command(LinkKind.HANDLE, header)
            return fn

        return register(handler) if handler is not None else register

    def off(self, event: str, namespace: str = "/") -> None:
        if self.handlers.pop((namespace, event), None) is not None and self._link is not None:
            self._command(LinkKind.UNHANDLE, {"ns": namespace, "events": [event]})

    def _on_frame(self, frame: LinkFrame) -> None:
        """An ``event`` or ``deliver`` frame from the hub (on the I/O loop)."""
        if frame.kind is LinkKind.EVENT:
            self._on_routed_event(frame)
        elif frame.kind is LinkKind.DELIVER:
            self._on_delivered(frame)

    def _on_routed_event(self, frame: LinkFrame) -> None:
        header = frame.header
        data = _decode_json(frame)
        namespace = str(header.get("ns", "/"))
        request_id = header.get("id")
        entry = self.handlers.get((namespace, str(data[0]) if data else ""))
        if entry is None:
            if request_id is not None:
                self._answer_error(request_id, LookupError(f"no handler for {data[:1]} here"))
            return
        peer = Peer(self, header.get("sid"), namespace, header)
        self._invoke(entry[0], peer, data[1:], request_id)

    def _on_delivered(self, frame: LinkFrame) -> None:
        """A packet for this kernel's own socket: a room broadcast, or a request's answer."""
        packet = self._decoder.feed_whole(frame.payload or "", frame.attachments)
        if packet.type is SocketPacketType.ACK:
            future = self._acks.pop(packet.id, None) if packet.id is not None else None
            if future is not None and not future.done():
                future.set_result(packet.data)
            return
        if packet.type is not SocketPacketType.EVENT:
            return
        entry = self.handlers.get((packet.namespace, packet.data[0]))
        if entry is not None:
            self._invoke(entry[0], Peer(self, None, packet.namespace, {}), packet.data[1:], None)

    def _invoke(self, handler: Callable[..., Any], peer: Peer, args: list[Any],
                request_id: int | None) -> None:
        if inspect.iscoroutinefunction(handler):

            async def run_async() -> None:
                try:
                    result = await handler(peer, *args)
                except Exception as exc:
                    self._failed(request_id, exc)
                    return
                self._answer(request_id, result)

            task = asyncio.ensure_future(run_async())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        self._work.put((self._run_sync, (handler, peer, args, request_id)))

    def _run_sync(self, handler: Callable[..., Any], peer: Peer, args: list[Any],
                  request_id: int | None) -> None:
        try:
            result = handler(peer, *args)
        except Exception as exc:
            self._failed(request_id, exc)
            return
        self._answer(request_id, result)

    def _work_loop(self) -> None:
        """The handler thread: sync handlers one at a time, in arrival order."""
        while True:
            item = self._work.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # never lose the thread
                log.exception("jupyter_sio handler failed")
            link = self._link
            if link is not None and self._work.empty():
                link.buffer.flush()  # the answers of this burst go out together

    def _answer(self, request_id: int | None, result: Any) -> None:
        if request_id is None or self._link is None:
            return
        values = list(result) if isinstance(result, tuple) else [] if result is None else [result]
        attachments: list[bytes] = []
        try:
            payload = dumps(deconstruct(values, attachments))
        except (TypeError, ValueError) as exc:
            self._failed(request_id, TypeError(f"the handler's answer cannot be sent: {exc}"))
            return
        header: dict[str, Any] = {"id": request_id}
        if attachments:
            header["n"] = len(attachments)
        # From the handler thread the wake-up waits for the end of the burst (_work_loop).
        self._link.send(LinkKind.ANSWER, header, payload, attachments,
                        flush=not self._on_worker_thread())

    def _failed(self, request_id: int | None, exc: Exception) -> None:
        traceback.print_exception(exc)  # shows in the output of the cell running now
        if request_id is not None:
            self._answer_error(request_id, exc)

    def _answer_error(self, request_id: int, exc: BaseException) -> None:
        if self._link is not None:
            self._link.send(LinkKind.ANSWER, {"id": request_id, "error": error_header(exc)},
                            flush=not self._on_worker_thread())

    # -- rich output -----------------------------------------------------------------------
    def display(self, obj: Any, *, to: Targets = None, event: str = "display",
                key: str | None = None) -> None:
        """Broadcast ``obj``'s rich representation (the mime bundle a cell would show)."""
        from .display import mime_bundle

        self.emit(event, mime_bundle(obj), to=to, key=key)

    # -- plumbing --------------------------------------------------------------------------
    def _link_or_raise(self) -> LinkClient:
        if self._link is None:
            raise Disconnected("jupyter_sio is not connected: call start() / %load_ext first")
        return self._link

    def _on_io_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def _on_worker_thread(self) -> bool:
        return threading.current_thread() is self._worker

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the I/O loop and wait (from any thread but the I/O thread)."""
        if self._on_io_thread():
            coro.close()
            raise RuntimeError(
                "blocking sio calls cannot run on the I/O loop: await the a-prefixed form "
                "(await sio.acall(...), sio.asockets(...)) in async handlers"
            )
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        done, _ = concurrent.futures.wait([future], timeout)
        if not done:  # (AckTimeout is a TimeoutError too: never confuse the two)
            future.cancel()
            raise AckTimeout(f"no answer from the hub within {timeout} s")
        return future.result()

    async def _aio(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the I/O loop, from it or from any other loop."""
        if asyncio.get_running_loop() is self._loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def __repr__(self) -> str:
        return f"<jupyter_sio {self.mode} url={self.url} connected={self.connected}>"


def _names(value: Targets) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _decode_json(frame: LinkFrame) -> list[Any]:
    payload = frame.payload
    if not payload:
        return []
    data = json.loads(payload)
    if frame.attachments:
        data = reconstruct(data, list(frame.attachments))
    return data if isinstance(data, list) else [data]


def _values(args: list[Any]) -> Any:
    """What ``call``/``request`` return: nothing, the single value, or a tuple."""
    if not args:
        return None
    return args[0] if len(args) == 1 else tuple(args)


def _is_error_answer(value: Any) -> bool:
    """The shape the hub answers with when the handler raised or nobody handles it."""
    return isinstance(value, dict) and set(value) == {"error", "message", "event"}
