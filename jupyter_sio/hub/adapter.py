"""Rooms and broadcast resolution for one namespace, behind an interface.

The hub never walks rooms itself: it asks its namespace's adapter. The in-memory adapter
here serves one process. A cross-process adapter (Redis) subclasses :class:`Adapter`, calls
the local implementation for its own sockets and publishes the same request, already
encoded (an :class:`~jupyter_sio.protocol.frames.Outgoing` is just text plus attachments),
to the other nodes; the hub code does not change.

Every request carries a :class:`BroadcastOptions` so a remote node can apply it to its own
sockets exactly as the local node does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..protocol.frames import Outgoing
from .delivery import Pending

if TYPE_CHECKING:
    from .namespace import Namespace
    from .namespace_socket import Socket
    from .recovery import Recovery, SharedLog


@dataclass(frozen=True, slots=True)
class BroadcastOptions:
    """Who a broadcast or room operation targets.

    ``rooms`` empty means every socket of the namespace; ``exclude`` removes the members of
    those rooms (a socket id is also a room, so excluding a sid excludes that socket).
    ``local`` keeps the operation on this node.
    """

    rooms: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()
    local: bool = False


@dataclass(frozen=True, slots=True)
class NodeMessage:
    """What another node told or asked this one (:meth:`Adapter.tell`, :meth:`Adapter.ask`):
    plain JSON ``data`` plus binary ``attachments``, from the node ``node``."""

    node: str
    data: dict[str, Any]
    attachments: tuple[bytes, ...] = ()


#: ``handler(namespace, message) -> answer``: a hub feature's part in talks between nodes
#: (registered in ``Hub.node_topics``); for :meth:`Adapter.ask`, a JSON-able answer or None.
NodeHandler = Callable[["Namespace", NodeMessage], Any]


class Adapter:
    """Room index of one namespace plus the operations that target sets of sockets.

    Subclasses for other backends override the coroutine methods at the bottom (and call
    ``super()`` for the local part); the synchronous membership methods stay local.
    """

    #: whether room operations must also be told to other nodes (a Redis adapter: True)
    spans_nodes = False

    def __init__(self, namespace: Namespace) -> None:
        self.namespace = namespace
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        #: room -> key -> the latest packet emitted there with ``retain=True``
        self.retained: dict[str, dict[str, Outgoing]] = {}
        #: (room, key) -> the packets before the latest, for keys retained with a history
        self.history: dict[tuple[str, str], deque[Outgoing]] = {}
        self.deliveries = 0  # packets handed to channels by broadcasts (for rates)

    # -- membership (local) ----------------------------------------------------------------
    def add_all(self, sid: str, rooms: Iterable[str], *, retained: bool = True) -> None:
        """``sid`` joins ``rooms``; a room it was not in sends it the room's retained values,
        unless ``retained`` is false (a recovered session gets what it missed instead)."""
        joined = self.sids.setdefault(sid, set())
        monitor = self.namespace.hub.monitor
        for room in rooms:
            if room not in joined:
                joined.add(room)
                self.rooms.setdefault(room, set()).add(sid)
                if monitor is not None:
                    monitor.on_room(self.namespace, sid, room, True)
                if retained and room in self.retained:
                    self._send_retained(sid, room)

    # -- retained values ---------------------------------------------------------------
    def retain(self, room: str, key: str, packet: Outgoing, history: int = 1) -> None:
        """Keep ``packet`` as the current value of ``key`` in ``room``, and with
        ``history`` > 1 the packets before it too, up to ``history`` in all.

        A socket that joins the room later receives the retained packets at once, oldest
        key first (each key's history, oldest first, then its current value), so a
        dashboard that opens late or reloads shows the current state and recent past.
        """
        values = self.retained.setdefault(room, {})
        previous = values.pop(key, None)  # re-insert: the newest key goes last
        values[key] = packet
        if history > 1:
            past = self.history.get((room, key))
            if past is None or past.maxlen != history - 1:
                past = deque(past or (), maxlen=history - 1)
                self.history[(room, key)] = past
            if previous is not None:
                past.append(previous)
        elif self.history:
            self.history.pop((room, key), None)
        limit = self.namespace.hub.config.max_retained
        while len(values) > limit:
            evicted = next(iter(values))
            del values[evicted]
            self.history.pop((room, evicted), None)

    def clear_retained(self, room: str | None = None, key: str | None = None) -> None:
        """Forget retained values: one key, one room, or everything."""
        if room is None:
            self.retained.clear()
            self.history.clear()
        elif key is None:
            for gone in self.retained.pop(room, {}):
                self.history.pop((room, gone), None)
        else:
            self.history.pop((room, key), None)
            values = self.retained.get(room)
            if values is not None:
                values.pop(key, None)
                if not values:
                    del self.retained[room]

    def _send_retained(self, sid: str, room: str) -> None:
        socket = self.namespace.sockets.get(sid)
        if socket is None:
            return
        channel = socket.channel
        history = self.history
        for key, packet in list(self.retained[room].items()):
            past = history.get((room, key)) if history else None
            if past:
                # Each replayed packet gets its own conflation key: a slow client may
                # lose the oldest ones (keyed packets never wait) but never the current.
                for n, old in enumerate(past):
                    channel.send(old.rekeyed(f"{key}\x00{n}"))
            channel.send(packet)

    def delete(self, sid: str, room: str) -> None:
        joined = self.sids.get(sid)
        if joined is not None and room in joined:
            joined.discard(room)
            monitor = self.namespace.hub.monitor
            if monitor is not None:
                monitor.on_room(self.namespace, sid, room, False)
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sid)
            if not members:
                del self.rooms[room]

    def delete_all(self, sid: str) -> None:
        for room in self.sids.pop(sid, ()):
            members = self.rooms.get(room)
            if members is not None:
                members.discard(sid)
                if not members:
                    del self.rooms[room]

    def rooms_of(self, sid: str) -> set[str]:
        return self.sids.get(sid, set())

    def select(self, opts: BroadcastOptions) -> list[str]:
        """Local socket ids targeted by ``opts``, each once (a copy: sends may close
        sockets, which changes the room index while the caller iterates)."""
        if opts.rooms:
            if len(opts.rooms) == 1:
                (room,) = opts.rooms
                targets: set[str] | dict[str, set[str]] = self.rooms.get(room, set())
            else:
                targets = set().union(*(self.rooms.get(r, ()) for r in opts.rooms))
        else:
            targets = self.sids
        if opts.exclude:
            excluded = set().union(*(self.rooms.get(r, ()) for r in opts.exclude))
            if excluded:
                return [sid for sid in targets if sid not in excluded]
        return list(targets)

    def local_sockets(self, opts: BroadcastOptions) -> list[Socket]:
        sockets = self.namespace.sockets
        return [sockets[sid] for sid in self.select(opts) if sid in sockets]

    # -- operations (may cross nodes in subclasses) ----------------------------------------
    def broadcast(self, packet: Outgoing, opts: BroadcastOptions) -> list[Pending]:
        """Deliver ``packet`` to the targeted local sockets.

        Returns the waits of the sockets whose buffers were full for this reliable packet:
        each of their connections holds it until there is room (or drops a client that
        does not read; see :mod:`.delivery`). Encoding happened once, before this call;
        each delivery is one buffer write.
        """
        sockets = self.namespace.sockets
        blocked: list[Pending] = []
        targets = self.select(opts)
        for sid in targets:
            socket = sockets.get(sid)
            if socket is not None and not socket.channel.send(packet):
                blocked.append(socket.channel.send_when_room(packet))
        self.deliveries += len(targets)
        return blocked

    async def add_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        for socket in self.local_sockets(opts):
            socket.join(rooms)

    async def del_sockets(self, opts: BroadcastOptions, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        for socket in self.local_sockets(opts):
            socket.leave(*rooms)

    async def disconnect_sockets(self, opts: BroadcastOptions, close: bool = False) -> None:
        for socket in self.local_sockets(opts):
            socket.disconnect(close=close)

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Socket]:
        """This node's matching sockets (other nodes' are only described: see below)."""
        return self.local_sockets(opts)

    async def describe_sockets(self, opts: BroadcastOptions) -> list[dict[str, Any]]:
        """Plain descriptions (sid, user, kernel, transport, rooms) of matching sockets on
        every node."""
        return [socket.describe() for socket in self.local_sockets(opts)]

    # -- the hub's own messages between nodes (presence, kernel event routing) ------------
    def tell(
        self,
        topic: str,
        data: dict[str, Any],
        *,
        node: str | None = None,
        attachments: Iterable[bytes] = (),
    ) -> None:
        """Hand ``data`` to the ``topic`` handler (``Hub.node_topics``) of every other node,
        or of ``node`` only. In memory there is no other node."""

    async def ask(self, topic: str, data: dict[str, Any]) -> list[tuple[str, Any]]:
        """Ask the ``topic`` handler of every other node; ``(node, answer)`` of those that
        answered something other than None in time. In memory there is nobody to ask."""
        return []

    def shared_recovery(self, recovery: Recovery) -> SharedLog | None:
        """Where connection-state recovery keeps sessions and packets for other nodes (see
        :mod:`.recovery`). In memory there is no other node: only ``recovery``'s own log."""
        return None

    def status(self) -> dict[str, Any]:
        """How this adapter reaches other nodes, for ``Hub.stats()["adapter"]``: ``kind``
        and ``state`` at least (a cross-node adapter adds its counters). In memory there
        is nothing to reach, so always connected."""
        return {"kind": "memory", "state": "connected"}

    async def init(self) -> None:
        """Called once per namespace, on the hub's loop (subscribe to a bus, ...)."""

    async def close(self) -> None:
        """Called when the hub closes."""


InMemoryAdapter = Adapter
