"""One logical hub over many processes and hosts, through Redis pub/sub.

Every hub process (a Jupyter server, a standalone hub) runs the same app with
``Hub(adapter=redis_adapter("redis://host:6379/0"))``. Each namespace's adapter subscribes to
one channel. A broadcast is delivered to this node's sockets at once and published once,
already encoded (text plus binary attachments), so every other node rebuilds the same packet
and delivers it to its own sockets: encode once per node, not once per recipient. Room
operations (``hub.to(r).join(...)``, ``.leave``, ``.disconnect``) and retained values travel
the same way; socket listings (``describe_sockets``) ask every node and gather the answers.

Connections, the ordered writer and reconnecting live in :mod:`.redis_bus`, shared by the
namespaces of a hub. When Redis goes away, local delivery goes on and ``Hub.stats()
["adapter"]`` says ``reconnecting``; once back, each node resubscribes by itself.

Order: this node's publications go out through one writer task, in order. Limits: pub/sub
keeps nothing for a node that is not subscribed: broadcasts and room operations from other
nodes during an outage (or before a node started) are lost for it. Retained values are also
stored in a Redis hash: a node reads them back on every (re)connect and sends the ones that
changed meanwhile to the room's members, so dashboards catch up. Hub features talk to
their counterparts on the other nodes with ``tell`` (to all, or to one node) and ``ask``
(gather every other node's answer): presence (:mod:`.presence`) and client events for kernels
of other nodes (:mod:`.remote_routing`). Polling clients need sticky sessions, as with every
Engine.IO server (WebSocket-only clients do not).

Connection-state recovery across nodes (:mod:`.redis_recovery`): with ``recovery_window``
set, a packet logged for recovery is published by a Lua script that also appends it to the
namespace's stream, and its message is prefixed with the stream entry id (a line before the
JSON header); sessions that drop off are kept in Redis too, so a client may recover on any
node.

Wire format of a message: one JSON header line, then the binary attachments, each
prefixed by its length (4 bytes, big endian).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import struct
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..exceptions import ConfigError
from ..protocol.frames import Outgoing
from .adapter import Adapter, BroadcastOptions, NodeMessage
from .bus_health import Backoff
from .recovery import parse_id

if TYPE_CHECKING:
    from .delivery import Pending
    from .namespace import Namespace
    from .recovery import Recovery
    from .redis_bus import RedisBus
    from .redis_recovery import RedisRecovery

log = logging.getLogger("jupyter_sio.hub.redis")


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """How a hub talks to Redis (the nodes of one logical hub share url and ``prefix``).

    Attributes:
        prefix: channel and key prefix.
        request_timeout: seconds a question to the other nodes waits for their answers
            (listings: ``describe_sockets``; presence and event routing: ``ask``).
        connect_timeout: seconds for a TCP connect, a command's reply, and the subscription
            to be confirmed; past it the attempt counts as failed.
        ping_interval: seconds of silence on the subscriber connection before it sends a
            PING; no answer within another interval counts as a lost connection.
        backoff: delays between reconnect attempts (:class:`~.bus_health.Backoff`).
        max_pending: commands (publications, retained writes) queued for Redis, e.g. while
            it is down; past it the oldest are dropped and counted.
        max_pending_bytes: the same bound in bytes.
    """

    prefix: str = "jupyter-sio"
    request_timeout: float = 5.0
    connect_timeout: float = 5.0
    ping_interval: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)
    max_pending: int = 100_000
    max_pending_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("request_timeout", "connect_timeout", "ping_interval"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")


def redis_adapter(
    url: str = "redis://127.0.0.1:6379/0",
    settings: RedisSettings | None = None,
    **overrides: Any,
) -> Callable[[Namespace], RedisAdapter]:
    """An adapter factory for ``Hub(adapter=...)``; all nodes must use the same url/prefix.

    Keyword arguments override fields of ``settings`` (``redis_adapter(url, prefix="x")``);
    a misspelled one raises ``TypeError``. The namespaces of a hub share one :class:`RedisBus`.
    """
    # optional dependency: pip install "jupyter_sio[redis]"
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from .redis_bus import RedisBus

    settings = dataclasses.replace(settings or RedisSettings(), **overrides)
    client = Redis.from_url(
        url,
        retry=Retry(NoBackoff(), 0),  # the bus owns reconnecting (with its own backoff)
        socket_connect_timeout=settings.connect_timeout,
        socket_timeout=settings.connect_timeout,
    )
    parts = urlsplit(url)  # for log lines: never the password
    where = f"{parts.hostname}:{parts.port or 6379}{parts.path}" if parts.hostname else parts.path
    bus = RedisBus(client, settings, where=where)

    def factory(namespace: Namespace) -> RedisAdapter:
        return RedisAdapter(namespace, bus)

    return factory


def pack(header: dict[str, Any], attachments: Iterable[bytes] = ()) -> bytes:
    parts = [json.dumps(header, separators=(",", ":")).encode(), b"\n"]
    for blob in attachments:
        parts += [struct.pack("!I", len(blob)), blob]
    return b"".join(parts)


def unpack(message: bytes) -> tuple[dict[str, Any], list[bytes]]:
    end = message.index(b"\n")
    header = json.loads(message[:end])
    attachments, pos = [], end + 1
    while pos < len(message):
        (size,) = struct.unpack_from("!I", message, pos)
        attachments.append(message[pos + 4 : pos + 4 + size])
        pos += 4 + size
    return header, attachments


def _opts(header: dict[str, Any]) -> BroadcastOptions:
    return BroadcastOptions(
        frozenset(header.get("rooms", ())), frozenset(header.get("exclude", ()))
    )


@dataclass(slots=True)
class _Request:
    """A listing waiting for other nodes' answers."""

    future: asyncio.Future[None]
    expected: int
    answers: list[dict[str, Any]] = field(default_factory=list)

    def settle(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class RedisAdapter(Adapter):
    """The in-memory adapter for this node, plus Redis pub/sub for the others."""

    spans_nodes = True

    def __init__(self, namespace: Namespace, bus: RedisBus) -> None:
        super().__init__(namespace)
        self.bus = bus
        self.node = uuid.uuid4().hex
        prefix = bus.settings.prefix
        self.channel = f"{prefix}#{namespace.name}#"
        self.retained_key = f"{prefix}#{namespace.name}#retained".encode()
        self._channel = self.channel.encode()
        self.channels = (self._channel, (self.channel + self.node).encode())
        self._requests: dict[str, _Request] = {}
        #: connection-state recovery across nodes (:mod:`.redis_recovery`), if it is on
        self.recovery: RedisRecovery | None = None
        #: the latest packet the recovery script published (broadcast() does not again)
        self.streamed: Outgoing | None = None

    # -- lifecycle (the bus calls receive / resync / lost) ---------------------------------
    async def init(self) -> None:
        await self.bus.attach(self)

    async def close(self) -> None:
        self.lost()
        await self.bus.detach(self)

    def status(self) -> dict[str, Any]:
        return self.bus.status()

    def shared_recovery(self, recovery: Recovery) -> RedisRecovery:
        from .redis_recovery import RedisRecovery

        self.recovery = RedisRecovery(self, recovery)
        return self.recovery

    async def resync(self) -> None:
        """(Re)connected: the Redis copy of the retained values wins over ours; members of
        a room get the values that changed while this node was cut off (a key's history
        here keeps what this node saw; Redis keeps only the latest value)."""
        stored = await self.bus.client.hgetall(self.retained_key)
        fresh: dict[tuple[str, str], Outgoing] = {}
        for name, value in stored.items():
            room, _, key = name.decode().partition("\x00")
            fresh[(room, key)] = self._packet(*unpack(value))
        gone = [(r, k) for r, values in self.retained.items() for k in values]
        for room, key in gone:
            if (room, key) not in fresh:
                super().clear_retained(room, key)  # cleared by another node meanwhile
        for (room, key), packet in fresh.items():
            if _same(self.retained.get(room, {}).get(key), packet):
                continue
            past = self.history.get((room, key))
            history = (past.maxlen or 0) + 1 if past is not None else 1
            super().retain(room, key, packet, history)
            super().broadcast(packet, BroadcastOptions(frozenset([room])))
        if self.recovery is not None:
            await self.recovery.resync()

    def lost(self) -> None:
        for request in self._requests.values():
            request.settle()  # answer with what arrived; Redis will not bring the rest

    # -- publishing ------------------------------------------------------------------------
    def _publish(
        self,
        header: dict[str, Any],
        attachments: Iterable[bytes] = (),
        channel: bytes | None = None,
        volatile: bool = False,
    ) -> None:
        header["node"] = self.node
        payload = pack(header, attachments)
        self.bus.send((b"PUBLISH", channel or self._channel, payload), volatile=volatile)

    # -- operations ------------------------------------------------------------------------
    def broadcast(self, packet: Outgoing, opts: BroadcastOptions) -> list[Pending]:
        blocked = super().broadcast(packet, opts)
        if packet is self.streamed:  # logged for recovery: the script published it
            self.streamed = None
        elif not opts.local:
            header = {"type": "broadcast", **self._packet_header(packet, opts)}
            self._publish(header, _blobs(packet), volatile=packet.volatile)
        return blocked

    def retain(self, room: str, key: str, packet: Outgoing, history: int = 1) -> None:
        super().retain(room, key, packet, history)
        header = self._packet_header(packet, BroadcastOptions())
        stored = pack(header, _blobs(packet))  # the latest value only, not its history
        self.bus.send((b"HSET", self.retained_key, f"{room}\x00{key}".encode(), stored))
        self._publish(
            {"type": "retain", "room": room, "key": key, "history": history, **header},
            _blobs(packet),
        )

    def clear_retained(self, room: str | None = None, key: str | None = None) -> None:
        fields = [
            f"{r}\x00{k}".encode()
            for r, values in self.retained.items()
            for k in values
            if (room is None or r == room) and (key is None or k == key)
        ]
        super().clear_retained(room, key)
        if fields:
            self.bus.send((b"HDEL", self.retained_key, *fields))
        self._publish({"type": "clear", "room": room, "key": key})

    async def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        await super().add_sockets(opts, rooms)
        if not opts.local:
            self._publish({"type": "join", "targets": self._opts_header(opts), "join": rooms})

    async def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        await super().del_sockets(opts, rooms)
        if not opts.local:
            self._publish({"type": "leave", "targets": self._opts_header(opts), "leave": rooms})

    async def disconnect_sockets(self, opts: BroadcastOptions, close: bool = False) -> None:
        await super().disconnect_sockets(opts, close)
        if not opts.local:
            self._publish(
                {"type": "disconnect", "targets": self._opts_header(opts), "close": close}
            )

    async def describe_sockets(self, opts: BroadcastOptions) -> list[dict[str, Any]]:
        """Sockets on every node. While Redis is unreachable only this node's (at once,
        not after a timeout: ``Hub.stats()["adapter"]`` says why); a node that does not
        answer within ``request_timeout`` is left out."""
        local = await super().describe_sockets(opts)
        if opts.local:
            return local
        header = {"type": "describe", "targets": self._opts_header(opts)}
        answers = await self._gather(header, "describe_sockets")
        return local + [info for answer in answers for info in answer["sockets"]]

    # -- the hub's own messages between nodes ------------------------------------------------
    def tell(
        self,
        topic: str,
        data: dict[str, Any],
        *,
        node: str | None = None,
        attachments: Iterable[bytes] = (),
    ) -> None:
        channel = None if node is None else (self.channel + node).encode()
        self._publish({"type": "tell", "topic": topic, "data": data}, attachments, channel)

    async def ask(self, topic: str, data: dict[str, Any]) -> list[tuple[str, Any]]:
        """Like :meth:`describe_sockets`: at once nobody while Redis is unreachable; a node
        that does not answer within ``request_timeout`` is left out."""
        answers = await self._gather({"type": "ask", "topic": topic, "data": data}, topic)
        return [(a["node"], a["answer"]) for a in answers if a.get("answer") is not None]

    async def _gather(self, header: dict[str, Any], what: str) -> list[dict[str, Any]]:
        """Publish a request to every other node; their answers (headers) within
        ``request_timeout``; at once none while Redis is unreachable."""
        if not self.bus.connected:
            return []
        subscribers = await self.bus.subscribers(self._channel)
        others = (subscribers or 0) - 1  # every node but this one
        if others <= 0:
            return []
        request_id = uuid.uuid4().hex
        request = _Request(asyncio.get_running_loop().create_future(), others)
        self._requests[request_id] = request
        self._publish({**header, "request": request_id})
        timeout = self.bus.settings.request_timeout
        try:
            await asyncio.wait_for(request.future, timeout)
        except asyncio.TimeoutError:
            log.warning(
                "%s: %d of %d nodes answered within %s s",
                what,
                len(request.answers),
                others,
                timeout,
            )
        finally:
            self._requests.pop(request_id, None)
        return request.answers

    def _on_node_message(self, header: dict[str, Any], attachments: list[bytes]) -> None:
        """A ``tell`` or ``ask`` from another node, for a hub feature's handler."""
        handler = self.namespace.hub.node_topics.get(str(header.get("topic")))
        message = NodeMessage(str(header["node"]), header.get("data") or {}, tuple(attachments))
        answer = None
        if handler is not None:
            try:
                answer = handler(self.namespace, message)
            except Exception:
                log.exception("node message %r failed", header.get("topic"))
        if header["type"] == "ask":
            self._publish(
                {"type": "answer", "request": header["request"], "answer": answer},
                channel=(self.channel + header["node"]).encode(),
            )

    # -- receiving -------------------------------------------------------------------------
    async def receive(self, data: bytes) -> None:
        stream_id = None
        if data[:1] != b"{":  # a packet logged for recovery: its stream entry id first
            line, _, data = data.partition(b"\n")
            stream_id = line.decode()
        header, attachments = unpack(data)
        if header.get("node") != self.node:
            await self._apply(header, attachments, stream_id)

    async def _apply(
        self, header: dict[str, Any], attachments: list[bytes], stream_id: str | None = None
    ) -> None:
        kind = header["type"]
        if kind == "broadcast":
            logged = header.get("log")
            if logged is not None and stream_id is not None and self.recovery is not None:
                entry = self.recovery.entry(parse_id(stream_id), header, attachments)
                self.recovery.recovery.heard(entry)
                if not entry.local:
                    super().broadcast(entry.packet, _opts(header))
            elif logged is None or not logged.get("local"):  # (local: for its node only)
                super().broadcast(self._packet(header, attachments), _opts(header))
        elif kind == "retain":
            packet = self._packet(header, attachments)
            super().retain(header["room"], header["key"], packet, int(header.get("history", 1)))
        elif kind == "clear":
            super().clear_retained(header.get("room"), header.get("key"))
        elif kind == "join":
            await super().add_sockets(_opts(header["targets"]), header["join"])
        elif kind == "leave":
            await super().del_sockets(_opts(header["targets"]), header["leave"])
        elif kind == "disconnect":
            await super().disconnect_sockets(_opts(header["targets"]), bool(header.get("close")))
        elif kind == "describe":
            sockets = await super().describe_sockets(_opts(header["targets"]))
            self._publish(
                {"type": "described", "request": header["request"], "sockets": sockets},
                channel=(self.channel + header["node"]).encode(),
            )
        elif kind in ("tell", "ask"):
            self._on_node_message(header, attachments)
        elif kind in ("described", "answer"):
            request = self._requests.get(header["request"])
            if request is not None:
                request.answers.append(header)
                if len(request.answers) >= request.expected:
                    request.settle()

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _opts_header(opts: BroadcastOptions) -> dict[str, Any]:
        return {"rooms": sorted(opts.rooms), "exclude": sorted(opts.exclude)}

    def _packet_header(self, packet: Outgoing, opts: BroadcastOptions) -> dict[str, Any]:
        return {
            "text": packet.text,
            "key": packet.key,
            "volatile": packet.volatile,
            **self._opts_header(opts),
        }

    @staticmethod
    def _packet(header: dict[str, Any], attachments: list[bytes]) -> Outgoing:
        key, volatile = header.get("key"), bool(header.get("volatile"))
        if not header["text"] and len(attachments) == 1:  # a msgpack packet: one message
            return Outgoing.binary(attachments[0], key=key, volatile=volatile)
        return Outgoing(header["text"], attachments, key=key, volatile=volatile)


def _blobs(packet: Outgoing) -> tuple[bytes, ...]:
    """The binary parts that travel after the header: a packet's attachments, or the one
    binary message of a msgpack packet (its text is empty)."""
    return packet.attachments if packet.text else (packet.text_bytes,)


def _same(old: Outgoing | None, new: Outgoing) -> bool:
    if old is None or old.text_bytes != new.text_bytes:
        return False
    return list(old.attachments) == list(new.attachments)
