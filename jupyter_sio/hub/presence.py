"""Presence: who announced themselves in a room, pushed to the room whenever it changes.

Sockets that subscribe with ``announce`` are listed; each change (an announcing member
arrives, leaves the room or disconnects) sends ``sio:presence`` ``{room, sockets}`` to the
room, with the hub's card of each member (user, display name, page, ...; not its rooms).
The work is linear: each change lists one room's members, and each card is built once per
arrival, so one socket arriving in many rooms costs rooms times members, not more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .namespace import Namespace
    from .namespace_socket import Socket


class Presence:
    """The announcing members of every room of one hub."""

    def __init__(self) -> None:
        #: (namespace, room) -> {sid: card}
        self.members: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def arrive(self, socket: Socket, rooms: list[str]) -> None:
        card = socket.card()
        for room in dict.fromkeys(rooms):
            self.members.setdefault((socket.namespace.name, room), {})[socket.id] = card
            self.announce(socket.namespace, room)

    def leave(self, socket: Socket, rooms: set[str]) -> None:
        """``socket`` left ``rooms`` (or disconnected: a hub closed-hook)."""
        for room in rooms:
            key = (socket.namespace.name, room)
            members = self.members.get(key)
            if members is not None and members.pop(socket.id, None) is not None:
                if not members:
                    del self.members[key]
                self.announce(socket.namespace, room)

    def announce(self, namespace: Namespace, room: str) -> None:
        members = self.members.get((namespace.name, room), {})
        namespace.to(room).emit("sio:presence", {"room": room, "sockets": list(members.values())})
