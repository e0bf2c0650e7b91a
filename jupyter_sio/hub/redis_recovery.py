"""Connection-state recovery across the nodes of a Redis hub (the rules: :mod:`.recovery`).

Per namespace, Redis keeps:

- a stream ``<prefix>#<namespace>#recovery``: one entry per logged packet of any node,
  field ``m`` the broadcast message as other nodes get it on pub/sub (header with rooms,
  except rooms, key, and ``log``: offset, ``seen``, ``local``; then the packet's text and
  attachments, or its one msgpack message), field ``p`` the id of the entry before it
  (so a reader knows whether anything after a position was trimmed). One Lua script adds
  the entry, trims the stream (``MAXLEN ~ recovery_max_packets``, ``MINID ~`` now minus
  the window) and publishes the message prefixed with the entry's id: atomic, so every
  node hears the entries in stream order and knows each one's id;
- a key ``<prefix>#<namespace>#session#<pid>`` per session that left for a recoverable
  reason: JSON (sid, rooms, data, the holding node's epoch, where the session began),
  expiring after the window; taken out with GETDEL, so only one node recovers it.

A node asked for a pid it does not know first takes the key; if there is none (the holder
has not noticed the disconnect yet, or its write is still queued), it asks the other nodes
(``recovery?``): the holder closes its old socket, drops its copy (and its key) and answers
with the session. A session taken from the key is announced (``recovery!``) so the holder
drops its local copy. Every command is bounded by ``connect_timeout`` and every question
by ``request_timeout``; while Redis is unreachable a client gets a fresh session at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .recovery import ORIGIN, Entry, Recovery, Saved, StreamId, format_id, parse_id
from .redis_adapter import _blobs, pack, unpack

if TYPE_CHECKING:
    from .adapter import NodeMessage
    from .namespace import Namespace
    from .redis_adapter import RedisAdapter

log = logging.getLogger("jupyter_sio.hub.redis")

ASK = "recovery?"  # who holds this session? (the holder answers with it and drops it)
TAKEN = "recovery!"  # this session was taken from Redis: drop your copy

#: KEYS: stream, channel; ARGV: max entries, window (ms), message
APPEND = b"""
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if last[1] then prev = last[1][1] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'p', prev, 'm', ARGV[3])
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[2])
if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', oldest)) end
redis.call('PUBLISH', KEYS[2], id .. '\\n' .. ARGV[3])
return id
"""


class RedisRecovery:
    """One namespace's sessions and log in Redis (a :class:`~.recovery.SharedLog`)."""

    def __init__(self, adapter: RedisAdapter, recovery: Recovery) -> None:
        self.adapter = adapter
        self.recovery = recovery
        base = f"{adapter.bus.settings.prefix}#{adapter.namespace.name}#"
        self.stream = f"{base}recovery".encode()
        self.sessions = f"{base}session#"
        self._limits = (
            str(recovery.max_packets).encode(),
            str(int(recovery.window * 1000)).encode(),
        )
        topics = adapter.namespace.hub.node_topics
        topics.setdefault(ASK, _hand_over)
        topics.setdefault(TAKEN, _taken)

    @property
    def connected(self) -> bool:
        return self.adapter.bus.connected

    def _key(self, pid: str) -> str:
        return self.sessions + pid

    # -- writes (queued, in order, on the bus) ----------------------------------------------
    def append(self, entry: Entry) -> None:
        adapter = self.adapter
        opts = {"rooms": sorted(entry.rooms), "exclude": sorted(entry.excluded)}
        header = {
            "type": "broadcast",
            "node": adapter.node,
            "text": entry.packet.text,
            "key": entry.packet.key,
            "volatile": False,
            **opts,
            "log": {"off": entry.offset, "seen": format_id(entry.seen), "local": entry.local},
        }
        message = pack(header, _blobs(entry.packet))
        adapter.streamed = entry.packet  # published by the script: not by broadcast() again
        adapter.bus.send(
            (b"EVAL", APPEND, b"2", self.stream, adapter._channel, *self._limits, message)
        )

    def save(self, pid: str, saved: Saved) -> bool:
        try:
            text = saved.to_json()
        except (TypeError, ValueError) as exc:
            log.warning(
                "session %s… of %s kept on this node only: its socket.data is not "
                "JSON (%s), so another node could not recover it",
                pid[:6],
                saved.sid,
                exc,
            )
            return False
        ms = str(max(1, int(self.recovery.window * 1000))).encode()
        self.adapter.bus.send((b"SET", self._key(pid).encode(), text.encode(), b"PX", ms))
        return True

    def forget(self, pid: str) -> None:
        self.adapter.bus.send((b"DEL", self._key(pid).encode()))

    # -- reads (bounded) ---------------------------------------------------------------------
    async def take(self, pid: str) -> Saved | None:
        timeout = self.adapter.bus.settings.connect_timeout
        raw = await asyncio.wait_for(self.adapter.bus.client.getdel(self._key(pid)), timeout)
        if raw is not None:
            self.adapter.tell(TAKEN, {"pid": pid})
            return Saved.from_json(raw)
        for _, answer in await self.adapter.ask(ASK, {"pid": pid}):
            if isinstance(answer, str):
                return Saved.from_json(answer)
        return None

    async def read(self, after: StreamId) -> tuple[bool, list[Entry]]:
        client = self.adapter.bus.client
        pipe = client.pipeline(transaction=True)  # one snapshot: trimming cannot fall between
        pipe.xrange(self.stream, "-", "+", count=1)
        pipe.xrange(self.stream, f"({format_id(after)}", "+")
        timeout = self.adapter.bus.settings.connect_timeout
        first, rest = await asyncio.wait_for(pipe.execute(), timeout)
        if not first:  # never written (or Redis lost it)
            return after == ORIGIN, []
        reaches = parse_id(first[0][1][b"p"]) <= after
        return reaches, [self.entry(parse_id(i), *unpack(f[b"m"])) for i, f in rest]

    async def resync(self) -> None:
        newest = await self.adapter.bus.client.xrevrange(self.stream, "+", "-", count=1)
        if newest:
            self.recovery.caught_up(parse_id(newest[0][0]))

    # -- messages ----------------------------------------------------------------------------
    def entry(self, stream_id: StreamId, header: dict[str, Any], attachments: list[bytes]) -> Entry:
        """The log entry a stream entry or a published message describes."""
        logged = header["log"]
        return Entry(
            str(logged["off"]),
            frozenset(header.get("rooms", ())),
            frozenset(header.get("exclude", ())),
            self.adapter._packet(header, attachments),
            parse_id(str(logged["seen"])),
            stream_id,
            bool(logged.get("local")),
        )


def _hand_over(namespace: Namespace, message: NodeMessage) -> str | None:
    pid = message.data.get("pid")
    if namespace.recovery is None or not isinstance(pid, str):
        return None
    return namespace.recovery.hand_over(pid)


def _taken(namespace: Namespace, message: NodeMessage) -> None:
    pid = message.data.get("pid")
    if namespace.recovery is not None and isinstance(pid, str):
        namespace.recovery.taken(pid)
