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
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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


@dataclass(slots=True)
class Entry:
    """One logged packet: its offset number, whom it was for, and the packet (stamped)."""

    number: int
    rooms: frozenset[str]
    excluded: frozenset[str]
    packet: Outgoing


@dataclass(slots=True)
class Saved:
    """A session kept after its socket left."""

    sid: str
    rooms: set[str]
    data: dict[str, Any]
    start: int  # the log's position when the session began
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Restored:
    """What a recovering CONNECT gets back: the old id, rooms and data, the missed packets."""

    pid: str
    sid: str
    rooms: set[str]
    data: dict[str, Any]
    start: int
    missed: list[Outgoing]


class Recovery:
    """The recovery state of one namespace (see the module doc)."""

    def __init__(self, namespace: Namespace, config: HubConfig) -> None:
        self.namespace = namespace
        self.window = config.recovery_window
        self.max_packets = config.recovery_max_packets
        self.max_bytes = config.recovery_max_bytes
        self.epoch = secrets.token_urlsafe(6)  # offsets of an earlier process never match
        self.log: deque[Entry] = deque()
        self.size = 0
        self.next = 0
        self.trimmed = -1  # the highest offset number no longer in the log
        self.saved: dict[str, Saved] = {}
        self.live: dict[str, Socket] = {}  # pid -> its connected socket
        self._times: deque[tuple[float, int]] = deque()  # (time, number) for age trimming

    # -- the log ---------------------------------------------------------------------------
    def stamp(self, packet: Outgoing, opts: BroadcastOptions) -> Outgoing:
        """``packet`` with its offset as the last argument, logged for replay. Only EVENT
        packets without an ack id and not volatile are logged (as in Node)."""
        text = packet.text
        if packet.volatile:
            return packet
        offset = f"{self.epoch}:{self.next}"
        if not text:  # the msgpack parser: decode, add the offset, encode again
            decoded = msgpack_codec.decode(packet.text_bytes)
            if decoded.type is not SocketPacketType.EVENT or decoded.id is not None:
                return packet
            stamped = Outgoing.binary(msgpack_codec.encode(SocketPacket(
                decoded.type, decoded.namespace, [*decoded.data, offset])), key=packet.key)
        elif _is_plain_event(text):
            stamped = Outgoing(f'{text[:-1]},"{offset}"]', packet.attachments, key=packet.key)
        else:
            return packet
        number = self.next
        self.next += 1
        self.log.append(Entry(number, opts.rooms, opts.exclude, stamped))
        self.size += stamped.size
        now = asyncio.get_running_loop().time()
        self._times.append((now, number))
        self._trim(now)
        return stamped

    def _trim(self, now: float) -> None:
        log_ = self.log
        while log_ and (len(log_) > self.max_packets or self.size > self.max_bytes):
            self._drop()
        times = self._times
        while times and times[0][0] < now - self.window:
            _, number = times.popleft()
            while log_ and log_[0].number <= number:
                self._drop()

    def _drop(self) -> None:
        entry = self.log.popleft()
        self.size -= entry.packet.size
        self.trimmed = entry.number

    # -- sessions --------------------------------------------------------------------------
    def begin(self, socket: Socket) -> str:
        """A new session for ``socket``: its pid (sent in the CONNECT answer)."""
        pid = secrets.token_urlsafe(15)
        socket.pid, socket.start = pid, self.next
        self.live[pid] = socket
        return pid

    def resume(self, socket: Socket, restored: Restored | None) -> str:
        """``socket`` was admitted: its old session back (rooms, data), or a new one;
        returns the pid for the CONNECT answer."""
        if restored is None:
            return self.begin(socket)
        socket.pid, socket.start, socket.recovered = restored.pid, restored.start, True
        socket.data = restored.data
        socket.join(restored.rooms)
        self.live[restored.pid] = socket
        return restored.pid

    def left(self, socket: Socket, rooms: set[str], reason: str) -> None:
        """``socket`` left: keep its session for the window if it may come back."""
        pid = socket.pid
        if pid is None or self.live.get(pid) is not socket:
            return
        del self.live[pid]
        if reason not in RECOVERABLE:
            return
        saved = Saved(socket.id, rooms - {socket.id}, socket.data, socket.start)
        saved.timer = asyncio.get_running_loop().call_later(self.window, self._expire, pid)
        self.saved[pid] = saved

    def _expire(self, pid: str) -> None:
        self.saved.pop(pid, None)

    def restore(self, auth: dict[str, Any]) -> Restored | None:
        """The session a CONNECT's ``{pid, offset}`` asks for, or None (a fresh session)."""
        pid = auth.get("pid")
        if not isinstance(pid, str):
            return None
        live = self.live.get(pid)
        if live is not None:
            # The old transport died unnoticed: the client is back first. Take over.
            self.live.pop(pid)
            saved = Saved(live.id, set(live.rooms) - {live.id}, live.data, live.start)
            live.client.close()
        else:
            saved_ = self.saved.pop(pid, None)
            if saved_ is None:
                log.info("fresh session in %s: session %s… expired or unknown",
                         self.namespace.name, pid[:6])
                return None
            if saved_.timer is not None:
                saved_.timer.cancel()
            saved = saved_
        after = self._offset(auth.get("offset"), saved.start)
        if after is None or after < self.trimmed:
            log.info("fresh session in %s: the packets missed by %s were no longer kept "
                     "(recovery_max_packets / recovery_max_bytes)", self.namespace.name, saved.sid)
            return None
        return Restored(pid, saved.sid, saved.rooms, saved.data, saved.start,
                        self._missed(saved, after))

    def _offset(self, offset: Any, start: int) -> int | None:
        """The last offset number the client saw (``start - 1`` if it saw none)."""
        if offset is None or offset == "":
            return start - 1
        if not isinstance(offset, str):
            return None
        epoch, _, number = offset.partition(":")
        if epoch != self.epoch or not number.isdigit():
            return None
        return int(number)

    def _missed(self, saved: Saved, after: int) -> list[Outgoing]:
        rooms = saved.rooms | {saved.sid}
        missed: list[Outgoing] = []
        newest: dict[str, int] = {}
        for entry in self.log:
            if entry.number <= after:
                continue
            if entry.rooms and entry.rooms.isdisjoint(rooms):
                continue
            if entry.excluded and not entry.excluded.isdisjoint(rooms):
                continue
            key = entry.packet.key
            if key is not None:
                previous = newest.get(key)
                if previous is not None:
                    missed[previous] = None  # type: ignore[call-overload]
                newest[key] = len(missed)
            missed.append(entry.packet)
        return [p for p in missed if p is not None]


def _is_plain_event(text: str) -> bool:
    """``42[...]``, ``42/ns,[...]`` or ``45N-...[...]``: an EVENT without an ack id."""
    if text[:2] not in ("42", "45") or not text.endswith("]"):
        return False
    body = text[2:]
    if text[1] == "5":
        body = body[body.index("-") + 1:]
    if body.startswith("/"):
        body = body[body.index(",") + 1:]
    return body.startswith("[")
