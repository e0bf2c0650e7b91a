"""Connection-state recovery (Socket.IO 4.6 semantics): a client that drops off for a
moment comes back with the same id, rooms and ``socket.data``, and gets what it missed.

Off unless ``recovery_window`` (seconds) is set. Then every socket gets a private id
(``pid``, in its CONNECT answer), and every event a socket is sent without an ack carries an
*offset* as its last argument (the official client keeps the last one it saw; handlers see
it as an extra argument, as with Node's server). The namespace keeps those packets in a
bounded log (``recovery_max_packets`` / ``recovery_max_bytes``, and nothing older than the
window). A socket that leaves for a recoverable reason (transport close or error, ping
timeout) is kept for the window; a CONNECT whose auth carries its ``pid`` and ``offset``
restores it and replays, in order and before anything new, every logged packet it would
have received after that offset (keyed packets as their newest value only).

Beyond Node:

- a client that had received no event yet (no offset) recovers too: replay starts where
  its session started (socket.io#5538);
- a client that reconnects before the server noticed that its old transport died takes its
  session over from the still-connected old socket (socket.io#4880), again and again;
- when the log no longer reaches back to the client's offset (its bounds were exceeded),
  or the window passed, the client gets a fresh session, logged: never a partial replay.

Across nodes (the Redis adapter, :mod:`.redis_recovery`): a client may come back to any
node. Each logged packet is also appended to a Redis stream per namespace (bounded by
``recovery_max_packets`` and the window; ``recovery_max_bytes`` bounds the local log only),
and a session that leaves for a recoverable reason is also written to Redis (a key per pid,
expiring after the window). A node that does not know a pid takes the session out of Redis
(once: GETDEL), or from the node still holding it (the takeover case across nodes: that
node closes its old socket and forgets the session), reads the stream and replays.

- Offsets stay ``<epoch>:<n>``, unique per node and namespace. Each log entry also records
  the newest stream entry its node had heard of when it was logged (``seen``), so any node
  can put the stream back into the order in which the holding node delivered it: the
  stream's own order is the same for the entries of other nodes, and an entry of the
  holding node goes right after the ``seen`` one (see :func:`holder_key`).
- The local log is this node's delivery history (its own packets and those it received
  from other nodes, in the order it delivered them): a client that comes back to the same
  node recovers from it, also while Redis is unreachable. One rule says which packets a
  session gets (:func:`replay`), on both paths.
- While the stream is read, the packets this node logs or receives are buffered for the
  recovering session and merged in without duplicates (an entry is known by its offset);
  the socket is registered in the same step that computes its replay, so nothing new
  arrives in between or overtakes it.
- A gap in a node's numbers in the stream (a write dropped during a Redis outage), a stream
  trimmed past the session, Redis unreachable, or a session that is not in Redis and no
  node holds: a fresh session, logged.
- ``socket.data`` crosses nodes as JSON: data that ``json.dumps`` refuses keeps its session
  on this node only (logged); types JSON does not have come back as their JSON form
  (tuples as lists, non-string keys as strings).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Generator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..protocol import msgpack_codec
from ..protocol.frames import Outgoing
from ..protocol.sio_codec import SocketPacket, SocketPacketType

if TYPE_CHECKING:
    from ..config import HubConfig
    from .adapter import BroadcastOptions
    from .namespace import Namespace
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub")

#: disconnect reasons after which a session is kept (the client will come back)
RECOVERABLE = frozenset({"transport close", "transport error", "ping timeout"})

#: a Redis stream entry id (milliseconds, sequence); (0, 0) is before every entry
StreamId = tuple[int, int]
ORIGIN: StreamId = (0, 0)


def parse_id(text: str | bytes) -> StreamId:
    if isinstance(text, bytes):
        text = text.decode()
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def format_id(stream_id: StreamId) -> str:
    return f"{stream_id[0]}-{stream_id[1]}"


@dataclass(slots=True)
class Entry:
    """One logged packet: whom it was for, the packet (stamped with ``offset``), and
    where it stands among the logs of all nodes (see the module doc)."""

    offset: str  # "<epoch of the node that logged it>:<its number there>"
    rooms: frozenset[str]
    excluded: frozenset[str]
    packet: Outgoing
    seen: StreamId = ORIGIN  # the newest stream entry its node had heard of
    id: StreamId | None = None  # its stream entry (None: not known here yet)
    local: bool = False  # a ``.local`` broadcast: only its own node delivered it
    seq: int = 0  # its place in this node's log

    @property
    def origin(self) -> str:
        return self.offset.rpartition(":")[0]

    @property
    def number(self) -> int:
        return int(self.offset.rpartition(":")[2])


def wanted(entry: Entry, rooms: set[str]) -> bool:
    """Whether a socket in ``rooms`` (its own sid included) was a target of ``entry``."""
    if entry.rooms and entry.rooms.isdisjoint(rooms):
        return False
    return not (entry.excluded and not entry.excluded.isdisjoint(rooms))


def replay(entries: Iterable[Entry], rooms: set[str]) -> list[Outgoing]:
    """The packets of ``entries`` (in order) a socket in ``rooms`` gets back: those it
    was a target of, a keyed packet only as its key's newest value."""
    missed: list[Outgoing | None] = []
    newest: dict[str, int] = {}
    for entry in entries:
        if not wanted(entry, rooms):
            continue
        key = entry.packet.key
        if key is not None:
            previous = newest.get(key)
            if previous is not None:
                missed[previous] = None
            newest[key] = len(missed)
        missed.append(entry.packet)
    return [p for p in missed if p is not None]


#: where a holding node delivered an entry: (stream id, 0, 0) for an entry of another node,
#: (seen, 1, number) for its own; None: after every position (not in the stream yet)
Key = tuple[StreamId, int, int]


def holder_key(entry: Entry, holder: str) -> Key | None:
    """The place of ``entry`` in the delivery order of node ``holder`` (an epoch).

    A node hears other nodes' entries in stream order, each after it was written; its own
    entry went out after the ``seen`` one and before the next it heard of."""
    if entry.origin == holder:
        return (entry.seen, 1, entry.number)
    if entry.id is None:
        return None
    return (entry.id, 0, 0)


@dataclass(frozen=True, slots=True)
class Mark:
    """Where a session began: this node's log position, the newest stream entry heard
    of, and this node's next offset number."""

    seq: int
    seen: StreamId
    number: int


@dataclass(slots=True)
class Saved:
    """A session kept after its socket left (or handed over by another node)."""

    sid: str
    rooms: set[str]
    data: dict[str, Any]
    mark: Mark
    node: str = ""  # the epoch of the node that held it
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "sid": self.sid,
                "rooms": sorted(self.rooms),
                "data": self.data,
                "node": self.node,
                "seen": format_id(self.mark.seen),
                "n": self.mark.number,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Saved:
        raw = json.loads(text)
        data = raw.get("data")
        return cls(
            str(raw["sid"]),
            {str(r) for r in raw.get("rooms", ())},
            data if isinstance(data, dict) else {},
            Mark(-1, parse_id(str(raw["seen"])), int(raw["n"])),
            str(raw["node"]),
        )


@dataclass(slots=True)
class Restored:
    """What a recovering CONNECT gets back: the old id, rooms and data; ``missed`` is
    filled when the socket is registered (:meth:`Recovery.resume`)."""

    pid: str
    sid: str
    rooms: set[str]
    data: dict[str, Any]
    after: int = -1  # local: the last log position the client had
    remote: Remote | None = None
    missed: list[Outgoing] = field(default_factory=list)


@dataclass(slots=True)
class Remote:
    """A session of another node: its holder's position, the stream read after it, and
    what this node logged or heard meanwhile."""

    saved: Saved
    position: Key
    read: list[Entry]
    buffer: list[Entry]


class SharedLog(Protocol):
    """Sessions and log shared by the nodes of a hub (the Redis adapter's part)."""

    @property
    def connected(self) -> bool: ...

    def append(self, entry: Entry) -> None:
        """Append this node's logged ``entry`` (and tell the other nodes about it)."""

    def save(self, pid: str, saved: Saved) -> bool:
        """Keep ``saved`` for the window; False if it cannot cross nodes (logged)."""

    def forget(self, pid: str) -> None:
        """Drop the shared copy of a session this node recovered itself."""

    def take(self, pid: str) -> Awaitable[Saved | None]:
        """The session, taken out of the shared store (or from the node holding it)."""

    def read(self, after: StreamId) -> Awaitable[tuple[bool, list[Entry]]]:
        """(whether the log still reaches back to ``after``, its entries after it)."""


Steps = Generator[Awaitable[Any], Any, "Restored | None"]


class Recovery:
    """The recovery state of one namespace (see the module doc)."""

    def __init__(self, namespace: Namespace, config: HubConfig) -> None:
        self.namespace = namespace
        self.window = config.recovery_window
        self.max_packets = config.recovery_max_packets
        self.max_bytes = config.recovery_max_bytes
        self.epoch = secrets.token_urlsafe(6)  # offsets of an earlier process never match
        self.log: deque[Entry] = deque()
        self.index: dict[str, int] = {}  # offset -> log position, for the entries kept
        self.size = 0
        self.next = 0  # the next log position
        self.count = 0  # the next offset number of this node
        self.seen = ORIGIN  # the newest stream entry heard of
        self.trimmed = -1  # the highest log position no longer kept
        self.saved: dict[str, Saved] = {}
        self.live: dict[str, Socket] = {}  # pid -> its connected socket
        self.marks: dict[str, Mark] = {}  # pid -> where its session (on this node) began
        self._times: deque[tuple[float, int]] = deque()  # (time, seq) for age trimming
        self._buffers: list[list[Entry]] = []  # of sessions being read from the shared log
        #: the log shared with other nodes (the Redis adapter), or None
        self.shared: SharedLog | None = namespace.adapter.shared_recovery(self)

    # -- the log ---------------------------------------------------------------------------
    def stamp(self, packet: Outgoing, opts: BroadcastOptions) -> Outgoing:
        """``packet`` with its offset as the last argument, logged for replay. Only EVENT
        packets without an ack id and not volatile are logged (as in Node)."""
        text = packet.text
        if packet.volatile:
            return packet
        offset = f"{self.epoch}:{self.count}"
        if not text:  # the msgpack parser: decode, add the offset, encode again
            decoded = msgpack_codec.decode(packet.text_bytes)
            if decoded.type is not SocketPacketType.EVENT or decoded.id is not None:
                return packet
            stamped = Outgoing.binary(
                msgpack_codec.encode(
                    SocketPacket(decoded.type, decoded.namespace, [*decoded.data, offset])
                ),
                key=packet.key,
            )
        elif _is_plain_event(text):
            stamped = Outgoing(f'{text[:-1]},"{offset}"]', packet.attachments, key=packet.key)
        else:
            return packet
        self.count += 1
        entry = Entry(offset, opts.rooms, opts.exclude, stamped, self.seen, local=opts.local)
        self._keep(entry)
        if self.shared is not None:
            self.shared.append(entry)
        return stamped

    def heard(self, entry: Entry) -> None:
        """Another node logged ``entry`` (it carries its stream id); this node is about to
        deliver it to its own sockets, unless it was a ``.local`` one."""
        if entry.id is not None and entry.id > self.seen:
            self.seen = entry.id
        if entry.local:
            for buffer in self._buffers:
                buffer.append(entry)
            return
        self._keep(entry)

    def caught_up(self, newest: StreamId) -> None:
        """(Re)connected to the shared log, whose newest entry is ``newest``: this node's
        sockets never get what was written before (pub/sub keeps nothing)."""
        if newest > self.seen:
            self.seen = newest

    def _keep(self, entry: Entry) -> None:
        entry.seq = self.next
        self.next += 1
        self.log.append(entry)
        self.index[entry.offset] = entry.seq
        self.size += entry.packet.size
        for buffer in self._buffers:
            buffer.append(entry)
        now = asyncio.get_running_loop().time()
        self._times.append((now, entry.seq))
        self._trim(now)

    def _trim(self, now: float) -> None:
        log_ = self.log
        while log_ and (len(log_) > self.max_packets or self.size > self.max_bytes):
            self._drop()
        times = self._times
        while times and times[0][0] < now - self.window:
            _, seq = times.popleft()
            while log_ and log_[0].seq <= seq:
                self._drop()

    def _drop(self) -> None:
        entry = self.log.popleft()
        self.size -= entry.packet.size
        self.index.pop(entry.offset, None)
        self.trimmed = entry.seq

    # -- sessions --------------------------------------------------------------------------
    def _mark(self, socket: Socket, pid: str) -> None:
        socket.pid, socket.start = pid, self.next
        self.marks[pid] = Mark(self.next, self.seen, self.count)
        self.live[pid] = socket

    def begin(self, socket: Socket) -> str:
        """A new session for ``socket``: its pid (sent in the CONNECT answer)."""
        pid = secrets.token_urlsafe(15)
        self._mark(socket, pid)
        return pid

    def resume(self, socket: Socket, restored: Restored | None) -> str:
        """``socket`` was admitted: its old session back (rooms, data, and what it missed,
        computed now, in the step that registered it), or a new one; returns the pid for
        the CONNECT answer."""
        if restored is None:
            return self.begin(socket)
        socket.recovered = True
        socket.data = restored.data
        # No retained values: the socket had them, and gets the newer ones it missed.
        self.namespace.adapter.add_all(socket.id, restored.rooms, retained=False)
        rooms = restored.rooms | {restored.sid}
        if restored.remote is None:
            entries: Iterable[Entry] = (e for e in self.log if e.seq > restored.after)
        else:
            entries = self._remote_entries(restored.remote)
        restored.missed.extend(replay(entries, rooms))
        self._mark(socket, restored.pid)
        return restored.pid

    def left(self, socket: Socket, rooms: set[str], reason: str) -> None:
        """``socket`` left: keep its session for the window if it may come back."""
        pid = socket.pid
        if pid is None or self.live.get(pid) is not socket:
            return
        del self.live[pid]
        mark = self.marks.pop(pid)
        if reason not in RECOVERABLE:
            return
        saved = Saved(socket.id, rooms - {socket.id}, socket.data, mark, self.epoch)
        saved.timer = asyncio.get_running_loop().call_later(self.window, self._expire, pid)
        self.saved[pid] = saved
        if self.shared is not None:
            self.shared.save(pid, saved)

    def _expire(self, pid: str) -> None:
        self.saved.pop(pid, None)

    def _take_local(self, pid: str) -> Saved | None:
        """The session ``pid`` if this node has it, no longer kept here."""
        live = self.live.pop(pid, None)
        if live is not None:
            # The old transport died unnoticed: the client is back first. Take over.
            mark = self.marks.pop(pid)
            saved = Saved(live.id, set(live.rooms) - {live.id}, live.data, mark, self.epoch)
            live.client.close()
            return saved
        saved_ = self.saved.pop(pid, None)
        if saved_ is not None and saved_.timer is not None:
            saved_.timer.cancel()
        return saved_

    def hand_over(self, pid: str) -> str | None:
        """Another node was asked to recover ``pid``: the session as JSON if this node has
        it, no longer kept here (nor in the shared store). One whose data is not JSON stays
        here (logged), for its client to come back to this node."""
        live = self.live.get(pid)
        saved = self.saved.get(pid)
        if live is not None:
            rooms = set(live.rooms) - {live.id}
            saved = Saved(live.id, rooms, live.data, self.marks[pid], self.epoch)
        if saved is None:
            return None
        try:
            text = saved.to_json()
        except (TypeError, ValueError):
            log.warning(
                "session %s… of %s stays on this node: its socket.data is not JSON, "
                "so it cannot move to another node",
                pid[:6],
                saved.sid,
            )
            return None
        self._take_local(pid)
        if self.shared is not None:
            self.shared.forget(pid)  # a copy this node wrote may still be on its way
        return text

    def taken(self, pid: str) -> None:
        """Another node recovered ``pid`` from the shared store: drop this node's copy."""
        saved = self.saved.pop(pid, None)
        if saved is not None and saved.timer is not None:
            saved.timer.cancel()

    def restore(self, auth: dict[str, Any]) -> Steps:
        """The session a CONNECT's ``{pid, offset}`` asks for, or None (a fresh session).

        Steps (see ``Client._run``): nothing to await when this node has the session;
        otherwise the lookups in the shared log, each bounded by the bus timeouts."""
        pid = auth.get("pid")
        if not isinstance(pid, str):
            return None
        saved = self._take_local(pid)
        if saved is not None:
            if self.shared is not None:
                self.shared.forget(pid)
            after = self._local_after(auth.get("offset"), saved.mark)
            if after is None:
                log.info(
                    "fresh session in %s: the packets missed by %s were no longer kept "
                    "(recovery_max_packets / recovery_max_bytes)",
                    self.namespace.name,
                    saved.sid,
                )
                return None
            return Restored(pid, saved.sid, saved.rooms, saved.data, after)
        if self.shared is None or not self.shared.connected:
            why = "expired or unknown" if self.shared is None else "Redis unreachable"
            log.info("fresh session in %s: session %s… %s", self.namespace.name, pid[:6], why)
            return None
        buffer: list[Entry] = []
        self._buffers.append(buffer)
        try:
            restored = yield from self._restore_remote(pid, auth.get("offset"), buffer)
        except Exception as exc:
            log.info(
                "fresh session in %s: recovering session %s… from Redis failed (%s)",
                self.namespace.name,
                pid[:6],
                f"{type(exc).__name__}: {exc}",
            )
            restored = None
        if restored is None:
            self._unbuffer(buffer)
        else:
            # Until the socket is registered (resume), which may wait for middleware;
            # a connect that never gets there stops buffering after the window.
            asyncio.get_running_loop().call_later(self.window, self._unbuffer, buffer)
        return restored

    def _unbuffer(self, buffer: list[Entry]) -> None:
        for n, candidate in enumerate(self._buffers):
            if candidate is buffer:
                del self._buffers[n]
                return

    def _restore_remote(self, pid: str, offset: Any, buffer: list[Entry]) -> Steps:
        assert self.shared is not None
        name = self.namespace.name
        saved: Saved | None = yield self.shared.take(pid)
        if saved is None:
            log.info("fresh session in %s: session %s… expired or unknown", name, pid[:6])
            return None
        reaches, read = yield self.shared.read(saved.mark.seen)
        if not reaches:
            log.info(
                "fresh session in %s: the packets missed by %s were no longer kept "
                "(recovery_max_packets / recovery_window)",
                name,
                saved.sid,
            )
            return None
        mark, holder = saved.mark, saved.node
        position: Key = (mark.seen, 1, mark.number - 1)  # where the session began
        if isinstance(offset, str) and offset:
            for entry in read:
                if entry.offset == offset:
                    found = holder_key(entry, holder)
                    if found is not None and found > position:
                        position = found
                    break
        gap = _gap(read + buffer, holder, mark)
        if gap is not None:
            log.info(
                "fresh session in %s: a packet of node %s missed by %s was lost on the "
                "way to Redis",
                name,
                gap,
                saved.sid,
            )
            return None
        if len(buffer) > self.max_packets:
            log.info(
                "fresh session in %s: more than recovery_max_packets arrived while %s "
                "was read from Redis",
                name,
                saved.sid,
            )
            return None
        return Restored(
            pid, saved.sid, saved.rooms, saved.data, remote=Remote(saved, position, read, buffer)
        )

    def _remote_entries(self, remote: Remote) -> list[Entry]:
        """What the holder would have delivered after the session's position: the stream
        read, then what this node logged or heard since (each entry once)."""
        self._unbuffer(remote.buffer)
        holder, position = remote.saved.node, remote.position
        chosen: list[Entry] = []
        offsets: set[str] = set()
        for entry in (*remote.read, *remote.buffer):
            if entry.offset in offsets:
                continue
            offsets.add(entry.offset)
            if entry.local and entry.origin != holder:
                continue  # delivered only by its own node
            key = holder_key(entry, holder)
            if key is None or key > position:
                chosen.append(entry)
        return chosen

    def _local_after(self, offset: Any, mark: Mark) -> int | None:
        """The last log position the client had, or None if the log no longer reaches
        back to it. An offset not in the log came before the session's start on this node
        (an earlier life on another node) if the log still reaches back to that start."""
        start = mark.seq - 1
        seq = self.index.get(offset) if isinstance(offset, str) and offset else None
        if seq is not None and seq >= start:
            return seq
        return start if self.trimmed <= start else None


def _gap(entries: list[Entry], holder: str, mark: Mark) -> str | None:
    """A node whose numbers in ``entries`` skip one (a write lost on the way to Redis);
    for the holder, none may be missing from the session's start on either."""
    numbers: dict[str, set[int]] = {}
    for entry in entries:
        numbers.setdefault(entry.origin, set()).add(entry.number)
    for origin, found in numbers.items():
        low, high = min(found), max(found)
        if high - low + 1 != len(found):
            return origin
        if origin == holder and low > mark.number:
            return origin
    return None


def _is_plain_event(text: str) -> bool:
    """``42[...]``, ``42/ns,[...]`` or ``45N-...[...]``: an EVENT without an ack id."""
    if text[:2] not in ("42", "45") or not text.endswith("]"):
        return False
    body = text[2:]
    if text[1] == "5":
        body = body[body.index("-") + 1 :]
    if body.startswith("/"):
        body = body[body.index(",") + 1 :]
    return body.startswith("[")
