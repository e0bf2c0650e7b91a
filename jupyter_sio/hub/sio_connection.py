"""The Socket.IO side of one Engine.IO connection: decoding, namespace connects, routing."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConnectionRefused, PayloadTooLarge, RemoteProtocolError
from ..protocol.frames import Outgoing
from ..protocol.msgpack_codec import MsgpackDecoder
from ..protocol.parser_mismatch import looks_like_msgpack, msgpack_connect_error, msgpack_namespace
from ..protocol.sio_codec import PacketDecoder, SocketPacket, SocketPacketType, encode_packet
from .delivery import DONE, Delivery, Pending, check_size
from .namespace_socket import Holding, Socket, SocketState, encode_outgoing

if TYPE_CHECKING:
    from .hub import Hub
    from .namespace import Namespace, Steps
    from .recovery import Restored

log = logging.getLogger("jupyter_sio.hub")


class Channel(Protocol):
    """What the hub needs from a transport connection (see ``transport.eio_connection``)."""

    @property
    def sid(self) -> str: ...

    @property
    def transport_name(self) -> str: ...

    def send(self, packet: Outgoing) -> bool:
        """Write or queue ``packet`` by its policy; ``False`` if a reliable packet found no room."""

    def send_when_room(self, packet: Outgoing) -> Pending:
        """Hold ``packet`` until there is room (at most one held; see ``hub.delivery``)."""

    def close(self, reason: str = "forced close") -> None:
        """Close the connection (pending output is flushed first where possible)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is behind a connection, as the transport authenticated it.

    The Jupyter extension fills it from Jupyter's authentication and Authorizer
    (read → ``can_subscribe``, write → ``can_emit``, execute → ``powers``); kernels that
    connect with the server's kernel secret get ``powers`` and their ``kernel_id``.
    """

    name: str = "anonymous"
    display_name: str = ""
    kernel_id: str | None = None
    session: str | None = None
    can_subscribe: bool = True
    can_emit: bool = True
    powers: bool = False
    #: How the credentials were presented (an opaque key: a keyed hash of the token, or the
    #: login name); every later request of a session must present the same one.
    principal: str = field(default="", repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        return {
            "user": self.name,
            "display_name": self.display_name or self.name,
            "kernel": self.kernel_id,
            "session": self.session,
        }


ANONYMOUS = Identity()


@dataclass(frozen=True, slots=True)
class Handshake:
    """What a client presented when it connected (Socket.IO's ``socket.handshake``)."""

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    address: str = ""
    url: str = ""
    secure: bool = False
    time: float = 0.0
    user: Identity = ANONYMOUS


class Client:
    """Routes one connection's packets to its sockets, one per namespace."""

    __slots__ = (
        "_admitting",
        "_closed",
        "_connect_timer",
        "channel",
        "decoder",
        "handshake",
        "hub",
        "sockets",
    )

    def __init__(self, hub: Hub, channel: Channel, handshake: Handshake) -> None:
        self.hub = hub
        self.channel = channel
        self.handshake = handshake
        config = hub.config
        self.decoder: PacketDecoder | MsgpackDecoder = (
            MsgpackDecoder(max_bytes=config.max_payload) if config.parser == "msgpack"
            else PacketDecoder(max_attachments=config.max_attachments,
                               max_bytes=config.max_payload)
        )
        self.sockets: dict[str, Socket] = {}
        self._admitting: set[str] | None = None  # namespaces being joined (made on first)
        self._closed = False
        # A connection that never joins a namespace is closed (Socket.IO's connectTimeout);
        # the hub's one ConnectDeadlines timer serves every client (issue 11, idle memory).
        self._connect_timer: float | None = None  # the loop time it expires at
        hub.connect_deadlines.add(self, config.connect_timeout)

    def on_message(self, data: str | bytes) -> None:
        """An Engine.IO MESSAGE arrived (text, or one binary attachment)."""
        if self.hub.monitor is not None:
            self.hub.monitor.on_packet_in(len(data))
        if type(data) is str and type(self.decoder) is PacketDecoder:
            # Hot path (issue 11): an EVENT or ACK without attachments, decoded once and
            # handed to its socket with no packet object; anything else takes feed().
            plain = self.decoder.feed_plain(data)
            if plain is not None:
                ptype, name, payload, ack_id = plain
                socket = self.sockets.get(name)
                if socket is None:
                    log.debug("packet for unconnected namespace %s ignored", name)
                elif ptype is SocketPacketType.EVENT:
                    socket._on_event(payload, ack_id)
                else:
                    socket._on_ack(ack_id, payload)
                return
        try:
            packet = self.decoder.feed(data)
        except (RemoteProtocolError, PayloadTooLarge) as exc:
            if isinstance(data, bytes) and not self.decoder.waiting and looks_like_msgpack(data):
                self._wrong_parser(data)
                return
            if isinstance(data, str) and isinstance(self.decoder, MsgpackDecoder):
                self._wrong_parser_text(data)
                return
            log.info("closing connection %s: %s", self.channel.sid, exc)
            self.channel.close("parse error")
            return
        if packet is None:
            return
        if packet.type is SocketPacketType.CONNECT:
            self._connect(packet)
            return
        socket = self.sockets.get(packet.namespace)
        if socket is not None:
            socket._on_packet(packet)
        elif packet.type is not SocketPacketType.DISCONNECT:
            log.debug("packet for unconnected namespace %s ignored", packet.namespace)

    def _wrong_parser(self, data: bytes) -> None:
        """A msgpack-parser client: say so in its terms, then close (see parser_mismatch)."""
        namespace = msgpack_namespace(data)
        log.warning("closing connection %s: the client uses socket.io-msgpack-parser; this "
                    "hub uses the default parser", self.channel.sid)
        why = "parser mismatch: this server uses the default Socket.IO parser, not msgpack"
        self.channel.send(Outgoing.binary(msgpack_connect_error(namespace, why)))
        self.channel.close("parse error")

    def _wrong_parser_text(self, data: str) -> None:
        """A default-parser client on a msgpack hub: a JSON CONNECT_ERROR it can read."""
        namespace = "/"
        if data[1:2] == "/":
            namespace = data[1:].split(",", 1)[0]
        log.warning("closing connection %s: the client uses the default parser; this hub "
                    "uses the msgpack parser", self.channel.sid)
        text, _ = encode_packet(SocketPacket(SocketPacketType.CONNECT_ERROR, namespace, {
            "message": "parser mismatch: this server uses the msgpack Socket.IO parser"}))
        self.channel.send(Outgoing("4" + text))
        self.channel.close("parse error")

    def on_close(self, reason: str) -> None:
        """The connection is gone: every socket disconnects with the same reason."""
        self._closed = True
        self._connect_timer = None
        for socket in list(self.sockets.values()):
            socket._closed(reason)

    def close(self) -> None:
        self.channel.close("forced close")

    def describe(self) -> dict[str, Any]:
        """Who this connection is and how its buffers are doing (for inspectors)."""
        stats = getattr(self.channel, "stats", None)
        info: dict[str, Any] = dict(stats()) if callable(stats) else {}
        info.update(self.handshake.user.describe())
        info["namespaces"] = sorted(self.sockets)
        return info

    def send_packet(self, packet: SocketPacket) -> Delivery:
        return self.deliver(encode_outgoing(packet, self.hub.config.parser))

    def deliver(self, packet: Outgoing) -> Delivery:
        """Write ``packet`` now, or (reliable, buffer full) once there is room.

        Raises PayloadTooLarge for a packet larger than any outbox may hold."""
        check_size(packet, self.hub.config.max_buffer_bytes)
        if self.channel.send(packet):
            return DONE
        return self.channel.send_when_room(packet)

    def attach_trusted(self, namespace: Any) -> Socket:
        """A socket for a trusted peer (a kernel link): no middleware, no connect handler,
        no CONNECT packet; it is in its namespace at once."""
        socket = Socket(namespace, self, {})
        socket._enter(SocketState.CONNECTED)
        socket.channel = self.channel
        self.sockets[namespace.name] = socket
        namespace.add(socket)
        self._connect_timer = None
        return socket

    # -- namespace connect -----------------------------------------------------------------
    def _connect(self, packet: SocketPacket) -> None:
        name = packet.namespace
        if name in self.sockets or (self._admitting is not None and name in self._admitting):
            log.debug("client %s already connected to %s", self.channel.sid, name)
            return
        namespace = self.hub._namespace_for(name, packet.data or {})
        if namespace is None:
            self._refuse(name, "Invalid namespace", None)
            return
        auth = packet.data if isinstance(packet.data, dict) else {}
        if self._admitting is None:
            self._admitting = set()
        self._admitting.add(name)
        self._run(self._restore_and_admit(namespace, auth))

    def _restore_and_admit(self, namespace: Namespace, auth: dict[str, Any]) -> Steps:
        """A recovering CONNECT gets its session back first (which may wait for Redis:
        see ``hub.recovery``), then admission as usual."""
        restored = None
        if namespace.recovery is not None and "pid" in auth:
            restored = yield from namespace.recovery.restore(auth)
        socket = Socket(namespace, self, auth, restored.sid if restored is not None else None)
        yield from self._admit(socket, auth, restored)

    def _run(self, steps: Steps, value: Any = None, error: BaseException | None = None) -> None:
        """Drive ``steps`` synchronously; from the first awaitable it yields on, in a task.

        A namespace without async middleware or connect handler answers a CONNECT at once,
        as Node does, so a long-poll GET held meanwhile carries the answer (and the
        official client's ``connect`` fires on polling, before any upgrade).
        """
        while True:
            try:
                awaitable = steps.send(value) if error is None else steps.throw(error)
            except StopIteration:
                return
            if inspect.isawaitable(awaitable):
                self.hub.spawn(self._resume(steps, awaitable))
                return
            value, error = awaitable, None

    async def _resume(self, steps: Steps, awaitable: Awaitable[Any]) -> None:
        try:
            value = await awaitable
        except Exception as exc:
            self._run(steps, error=exc)
            return
        self._run(steps, value)

    def _admit(self, socket: Socket, auth: dict[str, Any], restored: Restored | None = None
               ) -> Steps:
        """Middleware, then registration, then the connect handler, then CONNECT.

        Until middleware accepts, the socket is in no room and gets no packet (as in
        socket.io). It is registered before the connect handler, which may still refuse
        (as in python-socketio); what the handler emits to it (or broadcasts reach it) is
        held and sent right after the CONNECT packet, the order socket.io keeps.
        """
        namespace = socket.namespace
        try:
            yield from namespace.middleware_steps(socket, auth)
            if self._closed:
                return
            socket._enter(SocketState.CONNECTED)
            self.sockets[namespace.name] = socket
            namespace.add(socket)
            connected: dict[str, Any] = {"sid": socket.id}
            if namespace.recovery is not None:
                connected["pid"] = namespace.recovery.resume(socket, restored)
            yield from namespace.connect_steps(socket, auth)
        except (ConnectionRefused, ConnectionRefusedError) as exc:
            message, data = _refusal(exc)
            self._unregister(socket)
            self._refuse(namespace.name, message, data)
            return
        except Exception:
            log.exception("connect middleware or handler failed in namespace %s", namespace.name)
            self._unregister(socket)
            self._refuse(namespace.name, "Internal server error", None)
            return
        finally:
            admitting = self._admitting
            if admitting is not None:
                admitting.discard(namespace.name)
                if not admitting:
                    self._admitting = None
        self._connect_timer = None
        # CONNECT first, then what the connect handler emitted (the order socket.io keeps);
        # a socket the handler disconnected gets CONNECT then its DISCONNECT.
        self.send_packet(SocketPacket(SocketPacketType.CONNECT, namespace.name, connected))
        held = socket.channel
        socket.channel = self.channel
        if restored is not None:  # what it missed, in order, before anything new
            for packet in restored.missed:
                self.deliver(packet)
        if isinstance(held, Holding):
            for packet in held.packets:
                self.deliver(packet)
            if held.overflowed:
                log.warning("disconnecting %s: more than %s packets arrived while its connect "
                            "handler ran", self.channel.sid, held.limit)
                self.close()

    def _unregister(self, socket: Socket) -> None:
        if not socket._enter(SocketState.DISCONNECTED):
            return
        self.sockets.pop(socket.namespace.name, None)
        socket.namespace.adapter.delete_all(socket.id)
        socket.namespace.sockets.pop(socket.id, None)

    def _refuse(self, namespace: str, message: str, data: Any) -> None:
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        self.send_packet(SocketPacket(SocketPacketType.CONNECT_ERROR, namespace, payload))

    def _connect_expired(self) -> None:
        if not self.sockets:
            log.info("closing connection %s: no namespace joined in time", self.channel.sid)
            self.channel.close("forced close")


class ConnectDeadlines:
    """Socket.IO's ``connectTimeout`` of every client of a hub with one loop timer.

    Every client gets the same timeout, so deadlines come in order: a FIFO of clients, each
    holding its deadline (``Client._connect_timer``, ``None`` once it joined or closed),
    and one timer for the first that still waits. A TimerHandle per client cost ~300 bytes,
    and a cancelled one stayed in the loop's heap until its time.
    """

    __slots__ = ("_clients", "_handle")

    def __init__(self) -> None:
        self._clients: deque[Client] = deque()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, client: Client, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        client._connect_timer = when = loop.time() + timeout
        self._clients.append(client)
        if self._handle is None:
            self._handle = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        loop = asyncio.get_running_loop()
        now = loop.time() + getattr(loop, "_clock_resolution", 1e-6)
        clients = self._clients
        while clients:
            when = clients[0]._connect_timer
            if when is None:  # joined a namespace, or closed
                clients.popleft()
            elif when <= now:
                client = clients.popleft()
                client._connect_timer = None
                try:
                    client._connect_expired()
                except Exception:
                    log.exception("closing a client without a namespace failed")
            else:
                self._handle = loop.call_at(when, self._fire)
                return


def _refusal(exc: BaseException) -> tuple[str, Any]:
    if isinstance(exc, ConnectionRefused):
        return exc.message, exc.data
    args = exc.args
    message = str(args[0]) if args else "Connection refused"
    data = args[1] if len(args) > 1 else None
    return message, data
