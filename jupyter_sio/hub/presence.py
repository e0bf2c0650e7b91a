"""Presence: who announced themselves in a room, pushed to the room whenever it changes.

Sockets that subscribe with ``announce`` are listed; each change (an announcing member
arrives, leaves the room or disconnects) sends ``sio:presence`` ``{room, sockets}`` to the
room, with the hub's description of each member (user, display name, page, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .namespace import Namespace
    from .namespace_socket import Socket


class Presence:
    """The announcing members of every room of one hub."""

    def __init__(self) -> None:
        self.members: dict[tuple[str, str], dict[str, Socket]] = {}

    def arrive(self, socket: Socket, rooms: list[str]) -> None:
        for room in rooms:
            self.members.setdefault((socket.namespace.name, room), {})[socket.id] = socket
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
        namespace.to(room).emit(
            "sio:presence", {"room": room, "sockets": [s.describe() for s in members.values()]}
        )
