"""One logical hub over many processes and hosts, through Redis pub/sub.

Every hub process (a Jupyter server, a standalone hub) runs the same app with
``Hub(adapter=redis_adapter("redis://host:6379/0"))``. Each namespace's adapter subscribes to
one channel. A broadcast is delivered to this node's sockets at once and published once,
already encoded (text plus binary attachments), so every other node rebuilds the same packet
and delivers it to its own sockets: encode once per node, not once per recipient. Room
operations (``hub.to(r).join(...)``, ``.leave``, ``.disconnect``) and retained values travel
the same way; socket listings (``describe_sockets``) ask every node and gather the answers.

Order: this node's publications go out through one writer task, in order. Limits: pub/sub
keeps nothing for a node that is not subscribed (a node that starts later sees retained
values, which are also stored in a Redis hash, but not earlier broadcasts); kernel event
routing (``@sio.on`` in a kernel) stays per node; polling clients need sticky sessions,
as with every Engine.IO server (WebSocket-only clients do not).

Wire format of a message: one JSON header line, then the binary attachments, each
prefixed by its length (4 bytes, big endian).
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..protocol.frames import Outgoing
from .adapter import Adapter, BroadcastOptions

if TYPE_CHECKING:
    from .namespace import Namespace
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub.redis")

#: publications waiting for the writer; past this, new ones are dropped (and logged)
MAX_PENDING = 100_000


def redis_adapter(
    url: str = "redis://127.0.0.1:6379/0",
    *,
    prefix: str = "jupyter-sio",
    request_timeout: float = 5.0,
) -> Callable[[Namespace], RedisAdapter]:
    """An adapter factory for ``Hub(adapter=...)``; all nodes must use the same url/prefix."""
    import redis.asyncio as aioredis  # optional dependency: pip install "jupyter_sio[redis]"

    client = aioredis.Redis.from_url(url)

    def factory(namespace: Namespace) -> RedisAdapter:
        return RedisAdapter(namespace, client, prefix=prefix, request_timeout=request_timeout)

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


class RedisAdapter(Adapter):
    """The in-memory adapter for this node, plus Redis pub/sub for the others."""

    spans_nodes = True

    def __init__(
        self, namespace: Namespace, client: Any, *, prefix: str, request_timeout: float
    ) -> None:
        super().__init__(namespace)
        self.redis = client
        self.node = uuid.uuid4().hex
        self.channel = f"{prefix}#{namespace.name}#"
        self.retained_key = f"{prefix}#{namespace.name}#retained"
        self.request_timeout = request_timeout
        self._outbox: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(MAX_PENDING)
        self._requests: dict[str, tuple[asyncio.Future[None], list[dict[str, Any]], int]] = {}
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def init(self) -> None:
        self._pubsub = self.redis.pubsub()
        await self._pubsub.subscribe(self.channel, self.channel + self.node)
        stored = await self.redis.hgetall(self.retained_key)
        for field, value in stored.items():
            room, _, key = field.decode().partition("\x00")
            header, attachments = unpack(value)
            super().retain(room, key, self._packet(header, attachments))
        self._tasks = [asyncio.ensure_future(self._listen()), asyncio.ensure_future(self._write())]

    async def close(self) -> None:
        if self._tasks:
            await self._outbox.put(None)  # let the writer flush what is queued, then stop
            await asyncio.wait([self._tasks[1]], timeout=2)
            for task in self._tasks:
                task.cancel()
            self._tasks = []
        if self._pubsub is not None:
            await self._pubsub.aclose()
            self._pubsub = None

    # -- publishing ------------------------------------------------------------------------
    def _publish(
        self, header: dict[str, Any], attachments: Iterable[bytes] = (), channel: str | None = None
    ) -> None:
        header["node"] = self.node
        try:
            self._outbox.put_nowait((channel or self.channel, pack(header, attachments)))
        except asyncio.QueueFull:
            log.error(
                "Redis publications backlog full (%d): dropping a %s",
                MAX_PENDING,
                header.get("type"),
            )

    async def _write(self) -> None:
        """One writer: publications leave in the order they were made, batched."""
        while True:
            item = await self._outbox.get()
            batch = [item]
            while not self._outbox.empty() and len(batch) < 512:
                batch.append(self._outbox.get_nowait())
            done = None in batch
            pipe = self.redis.pipeline(transaction=False)
            for entry in batch:
                if entry is not None:
                    pipe.publish(*entry)
            try:
                await pipe.execute()
            except Exception:
                log.exception("publishing to Redis failed; %d messages lost", len(batch))
            if done:
                return

    # -- operations ------------------------------------------------------------------------
    def broadcast(self, packet: Outgoing, opts: BroadcastOptions) -> list[Socket]:
        blocked = super().broadcast(packet, opts)
        if not opts.local:
            self._publish(
                {"type": "broadcast", **self._packet_header(packet, opts)}, packet.attachments
            )
        return blocked

    def retain(self, room: str, key: str, packet: Outgoing) -> None:
        super().retain(room, key, packet)
        header = self._packet_header(packet, BroadcastOptions())
        stored = pack(header, packet.attachments)
        self._outbox_task(self.redis.hset(self.retained_key, f"{room}\x00{key}", stored))
        self._publish({"type": "retain", "room": room, "key": key, **header}, packet.attachments)

    def clear_retained(self, room: str | None = None, key: str | None = None) -> None:
        fields = [
            f"{r}\x00{k}"
            for r, values in self.retained.items()
            for k in values
            if (room is None or r == room) and (key is None or k == key)
        ]
        super().clear_retained(room, key)
        if fields:
            self._outbox_task(self.redis.hdel(self.retained_key, *fields))
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
        local = await super().describe_sockets(opts)
        if opts.local:
            return local
        numsub = await self.redis.pubsub_numsub(self.channel)
        others = int(numsub[0][1]) - 1 if numsub else 0
        if others <= 0:
            return local
        request = uuid.uuid4().hex
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answers: list[dict[str, Any]] = []
        self._requests[request] = (future, answers, others)
        self._publish({"type": "describe", "request": request, "targets": self._opts_header(opts)})
        try:
            await asyncio.wait_for(future, self.request_timeout)
        except asyncio.TimeoutError:
            log.warning(
                "describe_sockets: %d of %d nodes answered in time",
                self._requests[request][2] - len(answers),
                others,
            )
        finally:
            self._requests.pop(request, None)
        return local + [info for answer in answers for info in answer["sockets"]]

    # -- receiving -------------------------------------------------------------------------
    async def _listen(self) -> None:
        assert self._pubsub is not None
        async for message in self._pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                header, attachments = unpack(message["data"])
                if header.get("node") != self.node:
                    await self._apply(header, attachments)
            except Exception:
                log.exception("bad message on %s", self.channel)

    async def _apply(self, header: dict[str, Any], attachments: list[bytes]) -> None:
        kind = header["type"]
        if kind == "broadcast":
            super().broadcast(self._packet(header, attachments), _opts(header))
        elif kind == "retain":
            super().retain(header["room"], header["key"], self._packet(header, attachments))
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
                channel=self.channel + header["node"],
            )
        elif kind == "described":
            pending = self._requests.get(header["request"])
            if pending is not None:
                future, answers, expected = pending
                answers.append(header)
                if len(answers) >= expected and not future.done():
                    future.set_result(None)

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
        return Outgoing(
            header["text"],
            attachments,
            key=header.get("key"),
            volatile=bool(header.get("volatile")),
        )

    def _outbox_task(self, coro: Any) -> None:
        self.namespace.hub.spawn(coro)
