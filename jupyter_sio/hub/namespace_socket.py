"""One client's socket in one namespace: rooms, emits, acks and in-order handlers."""

from __future__ import annotations

import asyncio
import inspect
import logging
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from enum import Enum
from types import CoroutineType
from typing import TYPE_CHECKING, Any

from ..exceptions import AckTimeout, BufferFull, Disconnected
from ..protocol import msgpack_codec
from ..protocol.frames import Outgoing
from ..protocol.sio_codec import (
    RESERVED_EVENTS,
    PacketDecoder,
    SocketPacket,
    SocketPacketType,
    encode_ack_packet,
    encode_event_packet,
    encode_packet,
)
from .adapter import BroadcastOptions
from .delivery import DONE, Delivery, Pending, check_size

if TYPE_CHECKING:
    from .namespace import Namespace
    from .operators import BroadcastOperator
    from .sio_connection import Channel, Client

log = logging.getLogger("jupyter_sio.hub")

Handler = Callable[..., Any]


def new_sid() -> str:
    """A random 20-character URL-safe id, like Socket.IO's."""
    return secrets.token_urlsafe(15)


def encode_event(
    namespace: str,
    event: str,
    args: tuple[Any, ...],
    *,
    ack_id: int | None = None,
    volatile: bool = False,
    key: str | None = None,
    parser: str = "default",
) -> Outgoing:
    """Encode an EVENT once into the Engine.IO message every recipient will get, with the
    hub's parser (``"default"``: JSON text and attachments; ``"msgpack"``)."""
    if not isinstance(event, str) or event in RESERVED_EVENTS:
        raise ValueError(f"{event!r} is not an event name a server may emit")
    if parser == "msgpack":
        data = msgpack_codec.encode_event(namespace, [event, *args], ack_id)
        return Outgoing.binary(data, key=key, volatile=volatile)
    text, attachments = encode_event_packet(namespace, [event, *args], ack_id)
    return Outgoing("4" + text, attachments, key=key, volatile=volatile)


def encode_outgoing(packet: SocketPacket, parser: str = "default") -> Outgoing:
    """Any packet as the Engine.IO message(s) of the hub's parser."""
    if parser == "msgpack":
        return Outgoing.binary(msgpack_codec.encode(packet))
    text, attachments = encode_packet(packet)
    return Outgoing("4" + text, attachments)


def encode_ack(namespace: str, args: list[Any] | tuple[Any, ...], ack_id: int,
               parser: str = "default") -> Outgoing:
    """An ACK answering ``ack_id`` with ``args``, as the Engine.IO message of the hub's parser."""
    if parser == "msgpack":
        return Outgoing.binary(msgpack_codec.encode(
            SocketPacket(SocketPacketType.ACK, namespace, list(args), ack_id)))
    text, attachments = encode_ack_packet(namespace, args, ack_id, prefix="4")
    return Outgoing(text, attachments)


#: handler results that are never awaitable (checked before ``inspect.isawaitable``)
_PLAIN_RESULTS = frozenset({type(None), tuple, list, dict, str, int, float, bool, bytes})


def from_json(text: str, attachments: tuple[bytes, ...] | list[bytes] = (), *,
              parser: str = "default", key: str | None = None, volatile: bool = False
              ) -> Outgoing:
    """A packet kernels encoded in the default parser (``text`` without the Engine.IO
    type), as the hub's parser sends it (a msgpack hub transcodes it once)."""
    if parser == "msgpack":
        decoded = PacketDecoder(max_attachments=len(attachments), max_bytes=1 << 62
                                ).feed_whole(text, attachments)
        return Outgoing.binary(msgpack_codec.encode(decoded), key=key, volatile=volatile)
    return Outgoing("4" + text, attachments, key=key, volatile=volatile)


def to_json(packet: Outgoing) -> tuple[str, tuple[bytes, ...]]:
    """A packet in the default parser's form (text without the Engine.IO type, and its
    attachments), whatever the hub's parser: what kernels and Redis peers read."""
    if packet.text:
        return packet.text[1:], packet.attachments
    text, attachments = encode_packet(msgpack_codec.decode(packet.text_bytes))
    return text, tuple(attachments)


def decode_outgoing(packet: Outgoing) -> SocketPacket:
    """An encoded packet back (for kernels, recovery offsets and the Admin UI)."""
    if not packet.text:
        return msgpack_codec.decode(packet.text_bytes)
    return PacketDecoder(max_attachments=len(packet.attachments), max_bytes=1 << 62
                         ).feed_whole(packet.text[1:], packet.attachments)


def ack_result(args: list[Any]) -> Any:
    """What ``call()`` returns: nothing, the single value, or a tuple of values."""
    if not args:
        return None
    return args[0] if len(args) == 1 else tuple(args)


class SocketState(Enum):
    """A socket's life: ADMITTING (middleware and connect handler run) → CONNECTED →
    DISCONNECTED, once. :meth:`Socket._enter` holds every transition."""

    ADMITTING = "admitting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


_TRANSITIONS = {
    (SocketState.ADMITTING, SocketState.CONNECTED),
    (SocketState.ADMITTING, SocketState.DISCONNECTED),
    (SocketState.CONNECTED, SocketState.DISCONNECTED),
}


class Socket:
    """A connected client in a namespace; handlers receive it as their first argument.

    Attributes:
        id: the socket id, also the name of the socket's own room.
        namespace: the :class:`~jupyter_sio.hub.namespace.Namespace` it belongs to.
        auth: the auth payload the client sent with CONNECT.
        data: a dict for the application's per-socket state.
    """

    __slots__ = (
        "_ack_id",
        "_acks",
        "_pending",
        "auth",
        "channel",
        "client",
        "data",
        "id",
        "namespace",
        "pid",
        "recovered",
        "start",
        "state",
    )

    def __init__(self, namespace: Namespace, client: Client, auth: dict[str, Any],
                 sid: str | None = None) -> None:
        self.id = sid or new_sid()
        self.namespace = namespace
        self.client = client
        # Until the CONNECT packet is sent, packets for this socket are held back (see
        # Client._admit); then this becomes the connection's channel.
        self.channel: Channel | Holding = Holding(client.hub.config.max_buffer_packets)
        self.auth = auth
        self.data: dict[str, Any] = {}
        self.state = SocketState.ADMITTING
        self._ack_id = 0
        self._acks: dict[int, asyncio.Future[Any]] | None = None  # made on the first call
        self._pending: deque[tuple[Handler, list[Any], int | None]] | None = None
        #: connection-state recovery: the private session id, where its log began, and
        #: whether this socket recovered an earlier session (see :mod:`.recovery`)
        self.pid: str | None = None
        self.start = 0
        self.recovered = False

    # -- state -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.state is SocketState.CONNECTED

    def _enter(self, state: SocketState) -> bool:
        """Move to ``state``; ``False`` (and no change) if that is not a transition."""
        if (self.state, state) not in _TRANSITIONS:
            return False
        self.state = state
        return True

    # -- information -----------------------------------------------------------------------
    @property
    def sid(self) -> str:
        return self.id

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in, its own sid room included."""
        return set(self.namespace.adapter.rooms_of(self.id))

    @property
    def handshake(self) -> Any:
        """Request details of the connection: headers, query, address, time, auth."""
        return self.client.handshake

    @property
    def transport(self) -> str:
        """``"polling"`` or ``"websocket"``."""
        return self.client.channel.transport_name

    def describe_identity(self) -> dict[str, Any]:
        """Who is behind this socket, as the hub authenticated it (never from payloads)."""
        return self.client.handshake.user.describe()

    def card(self) -> dict[str, Any]:
        """Who this socket is, for presence (plain data: it may cross nodes)."""
        info = self.client.handshake.user.describe()
        info.update(
            sid=self.id,
            namespace=self.namespace.name,
            transport=self.transport,
            name=self.data.get("name") or info["display_name"],
            page=self.data.get("page"),
        )
        return info

    def describe(self) -> dict[str, Any]:
        """:meth:`card` and the rooms it is in, for listings (``fetch_sockets``)."""
        info = self.card()
        info["rooms"] = sorted(r for r in self.rooms if r != self.id and not r.startswith("sio:"))
        return info

    # -- rooms -----------------------------------------------------------------------------
    def join(self, *rooms: str | Iterable[str]) -> None:
        """Join one or more rooms (strings, or iterables of strings)."""
        self.namespace.adapter.add_all(self.id, _flatten(rooms))

    def leave(self, *rooms: str | Iterable[str]) -> None:
        for room in _flatten(rooms):
            self.namespace.adapter.delete(self.id, room)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to rooms, without this socket (Socket.IO's ``socket.to(room)``)."""
        return self.namespace.to(*rooms).exclude(self.id)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Broadcast to every socket of the namespace except this one."""
        return self.namespace.exclude(self.id)

    # -- outbound --------------------------------------------------------------------------
    def emit(
        self, event: str, *args: Any, volatile: bool = False, key: str | None = None
    ) -> Delivery:
        """Send an event to this socket. Sent at once; await the result for backpressure."""
        if not self.connected:
            raise Disconnected(f"socket {self.id} is not connected")
        packet = encode_event(self.namespace.name, event, args, volatile=volatile, key=key,
                              parser=self.client.hub.config.parser)
        recovery = self.namespace.recovery
        if recovery is not None:
            packet = recovery.stamp(packet, BroadcastOptions(frozenset((self.id,))))
        monitor = self.client.hub.monitor
        if monitor is not None:
            monitor.on_event_sent(self.namespace, (self.id,), packet)
        return self._send(packet)

    def send(self, *args: Any) -> Delivery:
        """Emit a ``"message"`` event (Socket.IO's ``socket.send``)."""
        return self.emit("message", *args)

    def call(self, event: str, *args: Any, timeout: float | None = None) -> asyncio.Future[Any]:
        """Emit an event with an ack and return a future of the client's answer.

        The future always settles: the client's ack arguments (one value, a tuple, or None),
        :class:`AckTimeout` after ``timeout`` (default ``ack_timeout``), or
        :class:`Disconnected` if the socket goes away first.
        """
        name, parser = self.namespace.name, self.client.hub.config.parser
        return self.call_encoded(
            lambda ack_id: encode_event(name, event, args, ack_id=ack_id, parser=parser),
            event, timeout,
        )

    def call_encoded(
        self, build: Callable[[int], Outgoing], event: str, timeout: float | None = None
    ) -> asyncio.Future[Any]:
        """:meth:`call` with a packet built by ``build(ack_id)`` (kernels encode their own)."""
        if not self.connected:
            raise Disconnected(f"socket {self.id} is not connected")
        self._ack_id += 1
        ack_id = self._ack_id
        packet = build(ack_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        acks = self._acks
        if acks is None:
            acks = self._acks = {}
        acks[ack_id] = future
        limit = self.client.hub.config.ack_timeout if timeout is None else timeout
        timer = loop.call_later(limit, self._ack_expired, ack_id, event, limit)

        def settled(_future: asyncio.Future[Any]) -> None:
            timer.cancel()
            acks.pop(ack_id, None)

        future.add_done_callback(settled)
        try:
            delivery = self._send(packet)
        except BaseException:
            future.cancel()
            raise
        if isinstance(delivery, Pending):

            def undeliverable(sent: asyncio.Future[None]) -> None:
                error = None if sent.cancelled() else sent.exception()
                if error is not None and not future.done():
                    future.set_exception(error)  # BufferFull or Disconnected: settle now

            delivery.add_done_callback(undeliverable)
        return future

    def _ack_expired(self, ack_id: int, event: str, limit: float) -> None:
        future = self._acks.pop(ack_id, None) if self._acks is not None else None
        if future is not None and not future.done():
            future.set_exception(
                AckTimeout(f"no ack for {event!r} from socket {self.id} within {limit} s")
            )

    def _send(self, packet: Outgoing) -> Delivery:
        channel = self.channel
        if channel is self.client.channel:
            return self.client.deliver(packet)
        if channel.send(packet):  # held until the CONNECT packet has gone out
            return DONE
        return channel.send_when_room(packet)

    def disconnect(self, close: bool = False) -> None:
        """Disconnect this socket (``close=True`` closes the whole connection)."""
        if not self.connected:
            return
        self.channel.send(encode_outgoing(
            SocketPacket(SocketPacketType.DISCONNECT, self.namespace.name),
            self.client.hub.config.parser))
        self._closed("server namespace disconnect")
        if close:
            self.client.close()

    # -- inbound ---------------------------------------------------------------------------
    def _on_packet(self, packet: SocketPacket) -> None:
        ptype = packet.type
        if ptype is SocketPacketType.EVENT:
            self._on_event(packet.data, packet.id)
        elif ptype is SocketPacketType.ACK:
            self._on_ack(packet.id, packet.data)
        elif ptype is SocketPacketType.DISCONNECT:
            self._closed("client namespace disconnect")

    def _on_ack(self, ack_id: int | None, data: list[Any]) -> None:
        acks = self._acks
        future = acks.pop(ack_id, None) if acks is not None and ack_id is not None else None
        if future is not None and not future.done():
            future.set_result(ack_result(data))

    def _on_event(self, data: list[Any], ack_id: int | None) -> None:
        # A hub handler for the event, else the kernel the router picks, else "*"
        # (see hub.kernel_routing); kernels never wait in this socket's handler queue.
        # The hot path of every inbound event (issue 11): a sync handler is called and
        # answered here, with no task, future or packet object.
        namespace = self.namespace
        hub = self.client.hub
        if hub.monitor is not None:
            hub.monitor.on_event_received(self, data)
        handler = namespace.handler_for(data[0])
        if handler is not None:
            args = data[1:]
        else:
            router = hub.kernel_router
            if router.routes:
                peer = router.choose(self, data[0])
                if peer is not None:
                    peer.route_event(self, data, ack_id)
                    return
            handler = namespace.catch_all()
            if handler is None:
                hub.unhandled(self, data, ack_id)
                return
            args = data
        if self._pending is not None:
            self._pending.append((handler, args, ack_id))
            return
        result = self._invoke(handler, args, ack_id)
        if result is not None:
            if hub.config.in_order:
                self._pending = deque()
                hub.spawn(self._run_in_order(result, ack_id))
            else:
                hub.spawn(self._await_handler(result, ack_id))

    def _invoke(self, handler: Handler, args: list[Any], ack_id: int | None) -> Any:
        """Call a handler; a sync result is answered now, a coroutine is returned to await."""
        try:
            result = handler(self, *args)
        except Exception:
            log.exception("handler for %s in namespace %s failed", handler, self.namespace.name)
            return None
        kind = type(result)
        if kind is CoroutineType or (kind not in _PLAIN_RESULTS and inspect.isawaitable(result)):
            return result
        if ack_id is not None:
            self._answer(ack_id, result)
        return None

    async def _await_handler(self, awaitable: Any, ack_id: int | None) -> None:
        try:
            result = await awaitable
        except Exception:
            log.exception("async handler in namespace %s failed", self.namespace.name)
            return
        self._answer(ack_id, result)

    async def _run_in_order(self, first: Any, ack_id: int | None) -> None:
        """Await handlers of this socket one after another (Socket.IO's ordering)."""
        try:
            try:
                result = await first
            except Exception:
                log.exception("async handler in namespace %s failed", self.namespace.name)
            else:
                self._answer(ack_id, result)
            pending = self._pending
            while pending:
                handler, args, next_id = pending.popleft()
                result = self._invoke(handler, args, next_id)
                if result is not None:
                    await self._await_handler(result, next_id)
        finally:
            self._pending = None

    def _answer(self, ack_id: int | None, result: Any) -> None:
        """Send an ACK carrying a handler's return value (a tuple means several values)."""
        if ack_id is None or self.state is not SocketState.CONNECTED:
            return
        args: list[Any] | tuple[Any, ...]
        if isinstance(result, tuple):
            args = result if type(result) is tuple else list(result)
        elif result is None:
            args = ()
        else:
            args = [result]
        config = self.client.hub.config
        try:
            packet = encode_ack(self.namespace.name, args, ack_id, config.parser)
            check_size(packet, config.max_buffer_bytes)
        except (TypeError, ValueError) as exc:  # unsendable, or larger than any buffer
            log.error("cannot answer ack %s in %s: %s", ack_id, self.namespace.name, exc)
            error = {"error": "the server's answer could not be sent", "type": type(exc).__name__}
            packet = encode_ack(self.namespace.name, [error], ack_id, config.parser)
        # (what _send does, its size check done above)
        channel = self.channel
        if not channel.send(packet):
            channel.send_when_room(packet)

    # -- lifecycle -------------------------------------------------------------------------
    def _closed(self, reason: str) -> None:
        """Leave everything and tell the application; runs once."""
        if not self._enter(SocketState.DISCONNECTED):
            return
        acks, self._acks = self._acks, None
        for future in list(acks.values()) if acks else ():
            if not future.done():
                future.set_exception(Disconnected(reason))
        self._pending = None
        self.client.sockets.pop(self.namespace.name, None)
        self.namespace.remove(self, reason)

    def __repr__(self) -> str:
        return f"<Socket {self.id} {self.namespace.name} connected={self.connected}>"


class Holding:
    """Collects a socket's packets until its CONNECT packet has gone out (at most
    ``limit``; past that the connection is closed once admitted, as a stuck client)."""

    __slots__ = ("limit", "overflowed", "packets")

    def __init__(self, limit: int = 1024) -> None:
        self.packets: list[Outgoing] = []
        self.limit = limit
        self.overflowed = False

    def send(self, packet: Outgoing) -> bool:
        if len(self.packets) >= self.limit:
            return False
        self.packets.append(packet)
        return True

    def send_when_room(self, packet: Outgoing) -> Pending:
        self.overflowed = True
        return Pending.failed(BufferFull(
            f"more than {self.limit} packets for a socket whose connect handler still runs"))


def _flatten(rooms: tuple[str | Iterable[str], ...]) -> list[str]:
    out: list[str] = []
    for room in rooms:
        if isinstance(room, str):
            out.append(room)
        else:
            out.extend(room)
    return out
