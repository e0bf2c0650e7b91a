"""Which kernel answers which client event: one kernel per event, chosen by scope.

Kernels register handlers (``@sio.on(event)`` in a cell) for events clients send. Many
notebooks run at once and several may handle the same event name, so the hub picks exactly
**one** kernel for each client event, the first rule that matches:

1. **Owner.** The client socket belongs to a kernel's widget (the widget subscribed with
   ``{"kernel": <its kernel id>}``): that kernel, if it handles the event. A Poll's votes
   reach the notebook that runs the poll, whatever other notebooks handle ``"vote"``.
2. **Room scope.** Kernels that registered the handler for rooms
   (``@sio.on(event, room="study")``) the sender is in: the newest such registration.
3. **Plain.** Kernels that registered it without rooms: the newest registration (the
   notebook run last takes over the event, as re-running a cell replaces a handler).

Only the chosen kernel sees the event, so one kernel's exception never answers another
kernel's browser. To deliver one event to several kernels, emit it to a room they joined.
A hub handler for the event (``hub.on(event)``) comes before any kernel, and a hub ``"*"``
catch-all after them: specific hub handler → kernel → ``"*"`` → "unhandled" answer.

**Across nodes** (a hub spread over several servers by Redis): when nothing on the sender's
node takes the event, the other nodes are asked (:mod:`.remote_routing`); each offers its
best kernel by the same rules, and the best offer wins (owner, then room scope, then plain;
among equals the newest registration by wall clock). Then "unhandled".
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .kernel_peer import KernelPeer
    from .namespace_socket import Socket

#: how well a registration fits a sender (lower is better): the rules above
OWNER, SCOPED, PLAIN = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Registration:
    peer: KernelPeer
    rooms: frozenset[str]
    order: int
    #: wall-clock time of the registration: compares registrations of different nodes
    since: float = field(default_factory=time.time)


class KernelRouter:
    """The handler registrations of every kernel link of one hub."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Registration]] = {}
        #: (namespace, socket id) -> the kernel id owning that socket's widget
        self.owners: dict[tuple[str, str], str] = {}
        #: kernel id -> its live link (the newest one after a restart)
        self.kernels: dict[str, KernelPeer] = {}
        #: rooms each kernel id had, given back when that kernel id says hello again
        self.kernel_rooms: dict[str, set[tuple[str, str]]] = {}
        #: link token -> a dropped link kept for its kernel's return (kernel_backlog.py)
        self.parked: dict[str, KernelPeer] = {}
        self._order = itertools.count()

    # -- registrations ---------------------------------------------------------------------
    def add(self, peer: KernelPeer, namespace: str, event: str, rooms: frozenset[str]) -> None:
        """Register (or re-register: it becomes the newest) ``peer``'s handler."""
        entries = [r for r in self.routes.get((namespace, event), ()) if r.peer is not peer]
        entries.append(Registration(peer, rooms, next(self._order)))
        self.routes[(namespace, event)] = entries

    def remove(self, peer: KernelPeer, namespace: str | None = None,
               events: list[str] | None = None) -> None:
        for key in list(self.routes):
            if (namespace is None or key[0] == namespace) and (events is None or key[1] in events):
                entries = [r for r in self.routes[key] if r.peer is not peer]
                if entries:
                    self.routes[key] = entries
                else:
                    del self.routes[key]

    def handles(self, peer: KernelPeer, namespace: str, event: str) -> bool:
        return any(r.peer is peer for r in self.routes.get((namespace, event), ()))

    # -- peers and owners ------------------------------------------------------------------
    def peer_opened(self, peer: KernelPeer) -> None:
        if peer.kernel_id:
            self.kernels[peer.kernel_id] = peer

    def peer_closed(self, peer: KernelPeer) -> None:
        self.remove(peer)
        if peer.kernel_id and self.kernels.get(peer.kernel_id) is peer:
            del self.kernels[peer.kernel_id]

    def set_owner(self, socket: Socket, kernel_id: str) -> None:
        self.owners[(socket.namespace.name, socket.id)] = kernel_id

    def forget_socket(self, socket: Socket) -> None:
        self.owners.pop((socket.namespace.name, socket.id), None)

    # -- the choice ------------------------------------------------------------------------
    def choose(self, socket: Socket, event: str) -> KernelPeer | None:
        """The one kernel that gets ``event`` from ``socket`` (rules in the module doc)."""
        namespace = socket.namespace.name
        if (namespace, event) not in self.routes:
            return None
        owner = self.owners.get((namespace, socket.id)) if self.owners else None
        found = self.pick(namespace, event, owner,
                          lambda: socket.namespace.adapter.rooms_of(socket.id))
        return found[0].peer if found is not None else None

    def pick(self, namespace: str, event: str, owner: str | None,
             sender_rooms: Callable[[], set[str]]) -> tuple[Registration, int] | None:
        """The registration that takes ``event`` from a sender whose widget belongs to the
        kernel ``owner`` (or None) and who is in ``sender_rooms()`` (asked only if needed),
        and how well it fits (:data:`OWNER`, :data:`SCOPED` or :data:`PLAIN`)."""
        entries = self.routes.get((namespace, event))
        if not entries:
            return None
        if owner is not None:
            peer = self.kernels.get(owner)
            for entry in entries:
                if entry.peer is peer:
                    return entry, OWNER
        scoped = None
        plain = None
        rooms: set[str] | None = None
        for entry in entries:  # in registration order: the last match is the newest
            if entry.rooms:
                if rooms is None:
                    rooms = sender_rooms()
                if not entry.rooms.isdisjoint(rooms):
                    scoped = entry
            else:
                plain = entry
        if scoped is not None:
            return scoped, SCOPED
        return (plain, PLAIN) if plain is not None else None
