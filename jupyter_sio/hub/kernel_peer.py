"""The hub's side of one kernel link: kernel commands, served outside any handler queue.

A :class:`KernelPeer` reads the frames of :mod:`jupyter_sio.protocol.link_codec` from one
kernel (or script) and acts as server-side code would, synchronously, on the hub's loop:

- ``emit``: the Socket.IO packet the kernel encoded becomes one
  :class:`~jupyter_sio.protocol.frames.Outgoing` written to every recipient; the hub reads
  only the frame header, and routes built from a header are cached (a loop repeats it);
- commands (join, leave, call, listings, ...) never wait behind a user handler or a pending
  call: a ``call`` registers its ack and the answer is sent when it comes;
- the kernel's own sockets (one per namespace it uses) are ordinary hub sockets whose
  channel is the link, so room broadcasts reach the kernel like any member;
- client events routed to this kernel (:mod:`.kernel_routing`) go out as ``event`` frames
  and the kernel's ``answer`` settles the client's ack.

Flow control: a reliable emit that meets a full recipient buffer pauses this link (the
transport stops reading it, so the kernel's own bounded buffer fills and the cell blocks)
until there is room or ``send_timeout`` disconnects the stuck recipient, as a hub broadcast
does. Output to the kernel is batched per loop iteration; past ``max_buffer_bytes`` unsent
to a kernel that does not read, routed events are refused (their ack answers ``BufferFull``)
and volatile packets are dropped.

Link recovery (``recovery_window``): a link that drops is parked, not closed, and the
kernel's next hello takes it over with what it missed (:mod:`.kernel_backlog`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import (
    BufferFull,
    Disconnected,
    RemoteProtocolError,
    SioError,
    UnknownNamespace,
    UnknownSocket,
)
from ..protocol.frames import Outgoing
from ..protocol.link_codec import (
    FROM_KERNEL,
    LinkDecoder,
    LinkFrame,
    LinkKind,
    encode_frame,
    error_header,
    join_frames,
)
from ..protocol.link_session import LinkHeartbeat, LinkServerSession, Welcome
from ..protocol.sio_codec import PacketDecoder, deconstruct, dumps
from .adapter import BroadcastOptions
from .browser_events import KERNELS_ROOM, names
from .delivery import DONE, Delivery, Pending, Stall, all_delivered, check_size
from .kernel_backlog import Backlog, Frame, Routed
from .namespace_socket import from_json, to_json
from .operators import retained_history
from .sio_connection import Handshake, Identity

if TYPE_CHECKING:
    from .hub import Hub
    from .namespace import Namespace
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub.kernel")

#: header of a ``deliver`` frame without attachments (the common case, built once)
_PLAIN_DELIVER = '{}'
_MAX_ROUTES = 256
#: disconnect reasons after which a kernel comes back (as for browsers, hub/recovery.py)
RECOVERABLE = frozenset({"transport close", "transport error", "ping timeout"})
#: the recovery offset the hub appends to logged events (hub/recovery.py): kernels do not
#: recover like browsers, so their handlers get the arguments as emitted
_OFFSET_TAIL = re.compile(r',"([A-Za-z0-9_-]{4,32}):\d+"\]$')
#: a ping telling the kernel how many of its emits the hub processed, every this many
_ACK_EVERY = 1024


class LinkWriter(Protocol):
    """What a peer needs from its transport (a Tornado WebSocket, in practice)."""

    def write_text(self, text: str) -> asyncio.Future[None] | None: ...

    def write_binary(self, data: bytes) -> asyncio.Future[None] | None: ...

    def pending_bytes(self) -> int: ...

    def close(self, reason: str) -> None: ...


class LinkChannel:
    """The :class:`~jupyter_sio.hub.sio_connection.Channel` of a kernel's own sockets."""

    __slots__ = ("dropped", "peer")

    transport_name = "kernel link"

    def __init__(self, peer: KernelPeer) -> None:
        self.peer = peer
        self.dropped = 0

    @property
    def sid(self) -> str:
        return self.peer.sid

    def send(self, packet: Outgoing) -> bool:
        peer = self.peer
        if peer.closed:
            return True
        parked = peer.parked is not None
        if parked or peer.congested():  # volatile drops; the rest waits (or is kept)
            if packet.volatile:
                self.dropped += 1
                return True
            if not parked:
                return False
        text, attachments = to_json(packet)  # kernels read the default parser's form
        if peer.epochs:
            text = _strip_offset(text, peer.epochs)
        header = _PLAIN_DELIVER if not attachments else f'{{"n":{len(attachments)}}}'
        line = encode_frame(LinkKind.DELIVER, header, text)
        if parked:
            peer.keep(Frame(line, attachments, packet.key))
        else:
            peer.queue(line, attachments)
        return True

    def send_when_room(self, packet: Outgoing) -> Pending:
        return self.peer.hold(packet)

    def close(self, reason: str = "forced close") -> None:
        self.peer.close(reason)

    def stats(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "transport": self.transport_name,
            "queued": 0,
            "queued_bytes": self.peer.writer.pending_bytes(),
            "dropped": self.dropped + self.peer.refused,
            "conflated": 0,
            "waiting": len(self.peer.routed),
        }


#: namespace, targets, volatile, key, retained history (0: not retained)
Route = tuple["Namespace", BroadcastOptions, bool, "str | None", int]


class KernelPeer:
    """One kernel link: its session, its sockets, its pending calls and routed events."""

    def __init__(self, hub: Hub, writer: LinkWriter, handshake: Handshake) -> None:
        self.hub = hub
        self.writer = writer
        self.identity: Identity = handshake.user
        self.kernel_id: str | None = self.identity.kernel_id
        config = hub.config
        loop = asyncio.get_running_loop()
        self.session = LinkServerSession(config.ping_interval, config.ping_timeout, loop.time())
        self.decoder = LinkDecoder(
            FROM_KERNEL, max_attachments=max(config.max_attachments, 1000),
            max_bytes=config.link_max_message,
        )
        self.sid = "link-" + secrets.token_urlsafe(9)
        self.channel = LinkChannel(self)
        self.client = hub.connect_client(self.channel, handshake)
        self.closed = False
        #: routed event id -> (client socket, its ack id, event name)
        self.routed: dict[int, tuple[Socket, int, str]] = {}
        self.refused = 0  # routed events refused because the kernel did not read
        self._lines: list[str] = []
        self._flush_handle: asyncio.Handle | None = None
        self._routes: dict[str, Route] = {}
        self._packets = PacketDecoder(max_attachments=1000, max_bytes=config.link_max_message)
        self._stall: Stall | None = None
        #: link recovery: the kernel's link token (hello), emit frames processed, the
        #: backlog while parked, and whether the kernel said bye
        self.link_token: str | None = None
        self.emits = 0
        self.parked: Backlog | None = None
        self.leaving = False
        self._expiry: asyncio.TimerHandle | None = None
        self.recovering = config.recovery_window > 0
        self._epochs: tuple[int, frozenset[str]] = (-1, frozenset())
        self._timer = loop.call_at(self.session.deadline, self._on_timer)
        self._actions: dict[LinkKind, Callable[[LinkFrame], Any]] = {
            LinkKind.HELLO: self._hello,
            LinkKind.EMIT: self._emit,
            LinkKind.CALL: self._call,
            LinkKind.SEND: self._send,
            LinkKind.JOIN: self._join,
            LinkKind.LEAVE: self._leave,
            LinkKind.SOCKETS: self._sockets,
            LinkKind.DISCONNECT: self._disconnect,
            LinkKind.HANDLE: self._handle,
            LinkKind.UNHANDLE: self._unhandle,
            LinkKind.CLEAR: self._clear,
            LinkKind.STATUS: self._status,
            LinkKind.RESOLVE: self._resolve,
            LinkKind.ANSWER: self._answer,
            LinkKind.PONG: _ignore,
            LinkKind.BYE: self._bye,
        }

    # -- inbound ---------------------------------------------------------------------------
    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """One WebSocket message; an awaitable means "do not read more until it is done"."""
        if self.closed:
            return None
        try:
            frames = self.decoder.feed(message)
        except (RemoteProtocolError, SioError) as exc:
            log.warning("closing kernel link %s: %s", self.sid, exc)
            self.close("parse error")
            return None
        return self._process(frames, 0)

    def _process(self, frames: list[LinkFrame], start: int) -> Awaitable[None] | None:
        now = asyncio.get_running_loop().time()
        actions = self._actions
        for index in range(start, len(frames)):
            frame = frames[index]
            try:
                self.session.receive(frame, now)
            except RemoteProtocolError as exc:
                log.warning("closing kernel link %s: %s", self.sid, exc)
                self.close("parse error")
                return None
            try:
                blocked = actions[frame.kind](frame)
            except (SioError, LookupError, TypeError, ValueError, ArithmeticError) as exc:
                self._failed(frame, exc)
                continue
            if blocked is not None:
                return self._resume(blocked, frames, index + 1)
            if self.closed:
                return None
        return None

    async def _resume(self, blocked: Delivery, frames: list[LinkFrame], start: int) -> None:
        """A reliable emit met full buffers: wait for room (or drop the stuck clients)."""
        await blocked
        rest = self._process(frames, start)
        if rest is not None:
            await rest

    def _failed(self, frame: LinkFrame, exc: BaseException) -> None:
        request_id = frame.header.get("id")
        if isinstance(request_id, int):
            self._result(request_id, {"error": error_header(exc)})
        else:
            notice = {**error_header(exc), "frame": frame.kind.value}
            self.queue(encode_frame(LinkKind.NOTICE, notice))

    # -- frames ----------------------------------------------------------------------------
    def _hello(self, frame: LinkFrame) -> None:
        header = frame.header
        if not self.kernel_id and isinstance(header.get("kernel"), str):
            self.kernel_id = header["kernel"]
        router = self.hub.kernel_router
        rooms = {(str(ns), str(room)) for ns, room in header.get("rooms", [])}
        token = header.get("link")
        previous = None
        if self.recovering and isinstance(token, str) and 16 <= len(token) <= 64:
            self.link_token = token
            previous = self._previous_session(token)
            if previous is not None:
                rooms |= previous.own_rooms()
        if self.kernel_id:
            remembered = router.kernel_rooms.setdefault(self.kernel_id, set())
            rooms |= remembered
            remembered |= rooms
        for ns, room in sorted(rooms):
            namespace = self.hub._namespace_for(ns, {})
            if namespace is not None:
                self.own_socket(namespace).join(room)
        for entry in header.get("handlers", []):
            ns, event = str(entry[0]), str(entry[1])
            scope = frozenset(str(r) for r in (entry[2] if len(entry) > 2 and entry[2] else ()))
            router.add(self, ns, event, scope)
        missed = self._take_over(previous) if previous is not None else []
        router.peer_opened(self)
        self.session.welcomed()
        config = self.hub.config
        welcome = Welcome(
            sid=self.own_socket(self.hub.default).id,
            max_payload=config.max_payload,
            max_message=config.link_max_message,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            rooms=tuple(sorted(rooms)),
            emits=self.emits if self.recovering else None,
            resumed=previous is not None,
        )
        self.queue(encode_frame(LinkKind.WELCOME, welcome.header()))
        for entry in missed:  # what it missed, in order, before anything new
            if isinstance(entry, Frame):
                self.queue(entry.line, entry.attachments)
            elif entry.socket.connected:
                self.route_event(entry.socket, entry.data, entry.ack_id)

    # -- link recovery (kernel_backlog.py) ---------------------------------------------------
    def _previous_session(self, token: str) -> KernelPeer | None:
        """The parked session this hello takes over; a parked session of the same kernel id
        with another token is a process that is gone (the kernel restarted): dropped."""
        router = self.hub.kernel_router
        previous = router.parked.pop(token, None)
        if self.kernel_id:
            for other in [p for p in router.parked.values() if p.kernel_id == self.kernel_id]:
                other._expire("the kernel restarted")
        return previous

    def own_rooms(self) -> set[tuple[str, str]]:
        """The rooms this link's own sockets are in (not their own, not the kernels')."""
        return {
            (socket.namespace.name, room)
            for socket in self.client.sockets.values()
            for room in socket.namespace.adapter.rooms_of(socket.id)
            if room != socket.id and room != KERNELS_ROOM
        }

    def _take_over(self, previous: KernelPeer) -> list[Frame | Routed]:
        """Take a parked session's count and backlog; close it (this link has its rooms)."""
        backlog = previous.parked
        missed = backlog.take() if backlog is not None else []
        self.emits = previous.emits
        previous.parked = None
        if previous._expiry is not None:
            previous._expiry.cancel()
        previous._shut("transport close")
        log.info("kernel link %s resumed %s (%d missed frames)", self.sid, previous.sid,
                 len(missed))
        return missed

    def _can_park(self, reason: str) -> bool:
        return (self.recovering and self.link_token is not None and not self.leaving
                and reason in RECOVERABLE)

    def _park(self, reason: str) -> None:
        """The link dropped: keep the session for ``recovery_window`` (module doc)."""
        config = self.hub.config
        backlog = self.parked = Backlog(config.recovery_max_packets, config.recovery_max_bytes)
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        lines, self._lines = self._lines, []
        for line in lines:  # queued, never written: deliveries and plain events still count
            if line.startswith(("deliver\t", "event\t")) and '"id":' not in line.split("\t")[1]:
                backlog.add(Frame(line, ()))
        self._timer.cancel()
        routed, self.routed = self.routed, {}
        for socket, ack_id, event in routed.values():  # their answers cannot come back
            socket._answer(ack_id, handler_error(
                event, {"type": "Disconnected", "message": f"the kernel link closed ({reason})"}))
        stall, self._stall = self._stall, None
        if stall is not None:
            self.channel.send(stall.packet)
            stall.release()
        assert self.link_token is not None
        self.hub.kernel_router.parked[self.link_token] = self
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(config.recovery_window, self._expire,
                                       f"it did not come back within recovery_window="
                                       f"{config.recovery_window:g} s")
        log.info("kernel link %s dropped (%s): kept for %g s", self.sid, reason,
                 config.recovery_window)

    def keep(self, entry: Frame | Routed) -> None:
        """Something for a parked link: into its backlog, unless that overflows."""
        backlog = self.parked
        if backlog is not None and not backlog.add(entry):
            self._expire("it missed more than recovery_max_packets / recovery_max_bytes")

    def _expire(self, why: str) -> None:
        """Give a parked session up (the kernel gets a fresh one if it comes back)."""
        backlog, self.parked = self.parked, None
        if backlog is None:
            return
        router = self.hub.kernel_router
        if self.link_token is not None and router.parked.get(self.link_token) is self:
            del router.parked[self.link_token]
        for entry in backlog.events():
            if entry.ack_id is not None and entry.socket.connected:
                entry.socket._answer(entry.ack_id, handler_error(
                    str(entry.data[0]), {"type": "Disconnected",
                                         "message": f"the kernel link closed ({why})"}))
        log.warning("kernel link %s: session dropped with %d missed frames: %s", self.sid,
                    backlog.count, why)
        self._shut("transport close")

    def _bye(self, _frame: LinkFrame) -> None:
        self.leaving = True

    def _emit(self, frame: LinkFrame) -> Delivery | None:
        self.emits += 1
        if self.recovering and self.emits % _ACK_EVERY == 0:
            self.queue(encode_frame(LinkKind.PING, {"emits": self.emits}))
        route = self._routes.get(frame.raw_header)
        if route is None:
            route = self._route(frame.header)
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[frame.raw_header] = route
        namespace, opts, volatile, key, retain = route
        text = frame.payload
        attachments = frame.attachments
        if not text or text[0] not in "25" or (text[0] == "5") != bool(attachments):
            raise RemoteProtocolError("an emit frame carries an EVENT packet")
        packet = from_json(text, attachments, parser=self.hub.config.parser, key=key,
                           volatile=volatile)
        adapter = namespace.adapter
        if retain and key is not None:
            for room in opts.rooms:
                adapter.retain(room, key, packet, retain)
        check_size(packet, self.hub.config.max_buffer_bytes)
        if namespace.recovery is not None:
            packet = namespace.recovery.stamp(packet, opts)
        if self.hub.monitor is not None:
            self.hub.monitor.on_event_sent(namespace, adapter.select(opts), packet)
        delivery = all_delivered(adapter.broadcast(packet, opts))
        return None if delivery is DONE else delivery

    def _route(self, header: dict[str, Any]) -> Route:
        namespace = self.namespace(header.get("ns", "/"))
        excluded = set(names(header.get("ex")))
        if not header.get("self"):
            own = self.client.sockets.get(namespace.name)
            if own is not None:
                excluded.add(own.id)
        key = header.get("k")
        retain = header.get("r") or 0
        history = retained_history(retain, self.hub.config.max_history) if retain else 0
        rooms = frozenset(names(header.get("to")))
        if history and (key is None or not rooms):
            raise ValueError("retain needs a key and at least one room")
        opts = BroadcastOptions(rooms, frozenset(excluded))
        return namespace, opts, bool(header.get("v")), None if key is None else str(key), history

    def _call(self, frame: LinkFrame) -> None:
        header = frame.header
        request_id = int(header["id"])
        namespace = self.namespace(header.get("ns", "/"))
        sid = str(header["sid"])
        target = namespace.sockets.get(sid)
        if target is None:
            raise UnknownSocket(f"no socket {sid!r} is connected to namespace {namespace.name}")
        text, at = frame.payload or "", int(header["at"])
        attachments = frame.attachments

        parser = self.hub.config.parser

        def build(ack_id: int) -> Outgoing:
            return from_json(text[:at] + str(ack_id) + text[at:], attachments, parser=parser)

        timeout = header.get("timeout")
        future = target.call_encoded(
            build, str(header.get("event", "?")), None if timeout is None else float(timeout)
        )
        future.add_done_callback(lambda f: self._call_done(request_id, f))

    def _call_done(self, request_id: int, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self._result(request_id, {"error": {"type": "Disconnected", "message": "cancelled"}})
            return
        error = future.exception()
        if error is not None:
            self._result(request_id, {"error": error_header(error)})
            return
        result = future.result()
        values = [] if result is None else list(result) if isinstance(result, tuple) else [result]
        self._result(request_id, {}, values)

    def _send(self, frame: LinkFrame) -> None:
        """A packet from the kernel's own socket, as a client sends it (``sio.request``)."""
        packet = self._packets.feed_whole(frame.payload or "", frame.attachments)
        namespace = self.namespace(packet.namespace)
        self.own_socket(namespace)._on_packet(packet)

    def _membership(self, frame: LinkFrame, joining: bool) -> None:
        header = frame.header
        namespace = self.namespace(header.get("ns", "/"))
        rooms = names(header.get("rooms"))
        if not rooms:
            raise ValueError("no rooms given")
        sids = header.get("sids")
        if sids is None:
            socket = self.own_socket(namespace)
            (socket.join if joining else socket.leave)(rooms)
            if self.kernel_id:
                memory = self.hub.kernel_router.kernel_rooms.setdefault(self.kernel_id, set())
                pairs = {(namespace.name, r) for r in rooms}
                (memory.update if joining else memory.difference_update)(pairs)
            return
        opts = BroadcastOptions(frozenset(names(sids)))
        # Local sockets change now, so an emit right after this frame reaches them; an
        # adapter that spans nodes then tells the other nodes.
        for socket in namespace.adapter.local_sockets(opts):
            (socket.join if joining else socket.leave)(rooms)
        if namespace.adapter.spans_nodes:
            change = namespace.adapter.add_sockets if joining else namespace.adapter.del_sockets
            self.hub.spawn(change(BroadcastOptions(opts.rooms), rooms))

    def _join(self, frame: LinkFrame) -> None:
        self._membership(frame, True)

    def _leave(self, frame: LinkFrame) -> None:
        self._membership(frame, False)

    def _sockets(self, frame: LinkFrame) -> None:
        header = frame.header
        request_id = int(header["id"])
        namespace = self.namespace(header.get("ns", "/"))
        room = header.get("room")
        opts = BroadcastOptions(frozenset([str(room)]) if room else frozenset())

        async def listing() -> None:
            try:
                found = await namespace.adapter.describe_sockets(opts)
            except Exception as exc:
                self._result(request_id, {"error": error_header(exc)})
                return
            self._result(request_id, {"sockets": found})

        self.hub.spawn(listing())

    def _disconnect(self, frame: LinkFrame) -> None:
        header = frame.header
        namespace = self.namespace(header.get("ns", "/"))
        opts = BroadcastOptions(frozenset(names(header.get("sids"))))
        close = bool(header.get("close"))
        for socket in namespace.adapter.local_sockets(opts):
            socket.disconnect(close=close)
        if namespace.adapter.spans_nodes:
            self.hub.spawn(namespace.adapter.disconnect_sockets(opts, close))

    def _handle(self, frame: LinkFrame) -> None:
        header = frame.header
        namespace = str(header.get("ns", "/"))
        scope = frozenset(names(header.get("rooms")))
        for event in names(header.get("events")):
            self.hub.kernel_router.add(self, namespace, event, scope)

    def _unhandle(self, frame: LinkFrame) -> None:
        header = frame.header
        events = header.get("events")
        self.hub.kernel_router.remove(
            self, header.get("ns"), None if events is None else names(events)
        )

    def _clear(self, frame: LinkFrame) -> None:
        header = frame.header
        namespace = self.namespace(header.get("ns", "/"))
        namespace.adapter.clear_retained(header.get("room"), header.get("key"))

    def _status(self, frame: LinkFrame) -> None:
        request_id = int(frame.header["id"])
        self._result(request_id, self.hub.stats(detail=bool(frame.header.get("detail"))))

    def _resolve(self, frame: LinkFrame) -> None:
        self.namespace(frame.header.get("ns", "/"))
        self._result(int(frame.header["id"]), {})

    def _answer(self, frame: LinkFrame) -> None:
        header = frame.header
        entry = self.routed.pop(int(header["id"]), None)
        if entry is None:
            return  # the client left, or the link was re-opened
        socket, ack_id, event = entry
        error = header.get("error")
        if isinstance(error, dict):
            socket._answer(ack_id, handler_error(event, error))
            return
        payload = frame.payload or "[]"
        if payload[:1] != "[":
            raise RemoteProtocolError("an answer carries a JSON array")
        if socket.connected:
            socket._send(ack_packet(socket.namespace.name, ack_id, payload, frame.attachments,
                                    self.hub.config.parser))

    # -- routed client events --------------------------------------------------------------
    def route_event(self, socket: Socket, data: list[Any], ack_id: int | None) -> None:
        """Give a client event to this kernel (the router chose it)."""
        if self.parked is not None:
            self.keep(Routed(socket, data, ack_id))
            return
        if self.closed or self.congested():
            self.refused += 1
            if ack_id is not None:
                reason = "the kernel is not reading its link" if not self.closed else "gone"
                socket._answer(ack_id, handler_error(
                    str(data[0]), {"type": "BufferFull", "message": f"kernel link {reason}"}))
            return
        header = socket.describe_identity()
        header["ns"] = socket.namespace.name
        header["sid"] = socket.id
        if ack_id is not None:
            request_id = self.session.next_id()
            self.routed[request_id] = (socket, ack_id, str(data[0]))
            header["id"] = request_id
        attachments: list[bytes] = []
        payload = dumps(deconstruct(data, attachments))
        if attachments:
            header["n"] = len(attachments)
        self.queue(encode_frame(LinkKind.EVENT, header, payload), attachments)

    def socket_left(self, socket: Socket) -> None:
        """A client socket left: forget the events it waits answers for."""
        if self.routed:
            for key in [k for k, v in self.routed.items() if v[0] is socket]:
                del self.routed[key]

    # -- the kernel's own sockets ----------------------------------------------------------
    def namespace(self, name: Any) -> Namespace:
        name = str(name)
        namespace = self.hub._namespace_for(name, {})
        if namespace is None:
            raise UnknownNamespace(f"the hub has no namespace {name!r}")
        return namespace

    def own_socket(self, namespace: Namespace) -> Socket:
        """This kernel's socket in ``namespace`` (made on first use, like a connect)."""
        socket = self.client.sockets.get(namespace.name)
        if socket is None:
            socket = self.client.attach_trusted(namespace)
            socket.join(KERNELS_ROOM)  # browsers' sio:publish leaves kernels out
            self._routes.clear()  # cached routes must now exclude this socket
        return socket

    # -- outbound --------------------------------------------------------------------------
    def queue(self, line: str, attachments: tuple[bytes, ...] | list[bytes] = ()) -> None:
        """Send a frame with the next batch (at the end of this loop iteration)."""
        if self.closed:
            return
        self._lines.append(line)
        if attachments:
            self._flush()
            for blob in attachments:
                self.writer.write_binary(blob)
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        lines, self._lines = self._lines, []
        if lines:
            self.writer.write_text(join_frames(lines))

    def _result(self, request_id: int, fields: dict[str, Any], values: list[Any] | None = None,
                ) -> None:
        header = {"id": request_id, **fields}
        if values is None:
            self.queue(encode_frame(LinkKind.RESULT, header))
            return
        attachments: list[bytes] = []
        payload = dumps(deconstruct(values, attachments))
        if attachments:
            header["n"] = len(attachments)
        self.queue(encode_frame(LinkKind.RESULT, header, payload), attachments)

    @property
    def epochs(self) -> frozenset[str]:
        """The recovery epochs of the hub's namespaces (their offsets are stripped)."""
        if not self.recovering:
            return frozenset()
        namespaces = self.hub.namespaces
        if self._epochs[0] != len(namespaces):  # namespaces are made, rarely removed
            self._epochs = (len(namespaces), frozenset(
                ns.recovery.epoch for ns in namespaces.values() if ns.recovery is not None))
        return self._epochs[1]

    def congested(self) -> bool:
        return self.writer.pending_bytes() > self.hub.config.max_buffer_bytes

    def hold(self, packet: Outgoing) -> Pending:
        """Keep the one reliable packet that found the kernel not reading, checking every
        50 ms whether it reads again; a second one, or ``send_timeout``, closes the link
        (the kernel reconnects), as for any client that does not read."""
        if self.closed:
            return Pending.failed(Disconnected("kernel link closed"))
        if self._stall is not None:
            return self._stuck("the link is congested and a packet is already waiting")
        self._stall = Stall(packet, self.hub.config.send_timeout, self._stall_expired)
        asyncio.get_running_loop().call_later(0.05, self._check_stall)
        return self._stall.delivery

    def _check_stall(self) -> None:
        stall = self._stall
        if stall is None or self.closed:
            return
        if self.congested():
            asyncio.get_running_loop().call_later(0.05, self._check_stall)
            return
        self._stall = None
        self.channel.send(stall.packet)
        stall.release()

    def _stall_expired(self) -> None:
        if self._stall is not None:
            self._stuck(f"the link stayed congested for send_timeout="
                        f"{self.hub.config.send_timeout} s")

    def _stuck(self, why: str) -> Pending:
        error = BufferFull(f"kernel link {self.sid} is not reading: {why}")
        stall, self._stall = self._stall, None
        if stall is not None:
            stall.fail(error)
        if not self.closed:
            log.warning("closing kernel link %s: %s", self.sid, why)
            self.close("forced close")
        return Pending.failed(error)

    # -- life ------------------------------------------------------------------------------
    def _on_timer(self) -> None:
        loop = asyncio.get_running_loop()
        action = self.session.tick(loop.time())
        if action is LinkHeartbeat.TIMED_OUT:
            log.info("closing kernel link %s: ping timeout", self.sid)
            self.close("ping timeout")
            return
        if action is LinkHeartbeat.SEND_PING:
            self.queue(encode_frame(LinkKind.PING, {"emits": self.emits} if self.recovering
                                    else "{}"))
        if not self.closed:
            self._timer = loop.call_at(self.session.deadline, self._on_timer)

    def close(self, reason: str = "forced close") -> None:
        """Close the link (from either side); the kernel's sockets leave, calls settle.
        A link that may come back is parked instead (link recovery, module doc)."""
        if self.closed or self.parked is not None:
            return
        if self._can_park(reason):
            self._park(reason)
            return
        self._shut(reason)

    def _shut(self, reason: str) -> None:
        if self.closed:
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()  # what was queued still goes out (a writer that is gone drops it)
        self.closed = True
        self.session.close(reason)
        self._timer.cancel()
        stall, self._stall = self._stall, None
        if stall is not None:
            stall.fail(Disconnected(f"kernel link closed ({reason})"))
        routed, self.routed = self.routed, {}
        for socket, ack_id, event in routed.values():
            socket._answer(ack_id, handler_error(
                event, {"type": "Disconnected", "message": f"the kernel link closed ({reason})"}))
        self.hub.kernel_router.peer_closed(self)
        self.hub.client_closed(self.client, reason)
        self.writer.close(reason)

def handler_error(event: str, error: dict[str, Any]) -> dict[str, Any]:
    """What a client's ack gets when the kernel that should answer could not."""
    return {"error": str(error.get("type", "Exception")), "message": str(error.get("message", "")),
            "event": event}


def ack_packet(namespace: str, ack_id: int, args_json: str, attachments: tuple[bytes, ...],
               parser: str = "default") -> Outgoing:
    """An ACK packet around arguments that are already JSON (with placeholders)."""
    prefix = "" if namespace == "/" else namespace + ","
    if attachments:
        text = f"6{len(attachments)}-{prefix}{ack_id}{args_json}"
    else:
        text = f"3{prefix}{ack_id}{args_json}"
    return from_json(text, attachments, parser=parser)


def _ignore(_frame: LinkFrame) -> None:
    return None


def _strip_offset(text: str, epochs: frozenset[str]) -> str:
    """An event without the recovery offset the hub appended (``,"<epoch>:<n>"]``)."""
    if text.endswith('"]'):
        match = _OFFSET_TAIL.search(text)
        if match is not None and match.group(1) in epochs:
            return text[: match.start()] + "]"
    return text
