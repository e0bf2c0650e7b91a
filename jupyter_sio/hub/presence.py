"""Presence: who announced themselves in a room, pushed to the room whenever it changes.

Sockets that subscribe with ``announce`` are listed; each change (an announcing member
arrives, leaves the room or disconnects) sends ``sio:presence`` ``{room, sockets}`` to the
room, with the hub's card of each member (user, display name, page, ...; not its rooms).
The work is linear: each change lists one room's members, and each card is built once per
arrival, so one socket arriving in many rooms costs rooms times members, not more.

**Across nodes** (a hub spread over servers by Redis, e.g. one server per JupyterHub user)
each node keeps its own members. A change is told to the other nodes (``presence``); every
node with sockets in the room then asks the others for their members (``presence?``) and
sends the whole list to its own sockets. A node that is asked after a change has applied
it, and a node refreshes again when a change arrives during a refresh, so once changes stop
every page shows every node's members. (A node that dies stays listed until the room's
next change.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import NodeMessage
    from .hub import Hub
    from .namespace import Namespace
    from .namespace_socket import Socket

#: node topics: "a room's members changed here", "who are your members of this room?"
CHANGED = "presence"
MEMBERS = "presence?"


class Presence:
    """The announcing members of every room of one hub."""

    def __init__(self, hub: Hub) -> None:
        #: (namespace, room) -> {sid: card}
        self.members: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        #: rooms being refreshed from every node -> whether to refresh once more
        self._refreshing: dict[tuple[str, str], bool] = {}
        hub.node_topics[CHANGED] = self._changed_elsewhere
        hub.node_topics[MEMBERS] = self._members_here

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
        if namespace.adapter.spans_nodes:
            namespace.adapter.tell(CHANGED, {"room": room})
            self._refresh(namespace, room)
            return
        members = self.members.get((namespace.name, room), {})
        namespace.to(room).emit("sio:presence", {"room": room, "sockets": list(members.values())})

    # -- across nodes ----------------------------------------------------------------------
    def _changed_elsewhere(self, namespace: Namespace, message: NodeMessage) -> None:
        self._refresh(namespace, str(message.data.get("room")))

    def _members_here(self, namespace: Namespace, message: NodeMessage) -> Any:
        members = self.members.get((namespace.name, str(message.data.get("room"))))
        return list(members.values()) if members else None

    def _refresh(self, namespace: Namespace, room: str) -> None:
        key = (namespace.name, room)
        if key in self._refreshing:
            self._refreshing[key] = True  # a change during the refresh: once more after it
        elif namespace.adapter.rooms.get(room):  # only nodes with sockets in the room
            self._refreshing[key] = False
            namespace.hub.spawn(self._send_everyones(namespace, room))

    async def _send_everyones(self, namespace: Namespace, room: str) -> None:
        key = (namespace.name, room)
        try:
            again = True
            while again:
                self._refreshing[key] = False
                answers = await namespace.adapter.ask(MEMBERS, {"room": room})
                cards = [*self.members.get(key, {}).values()]
                cards += [card for _, theirs in answers for card in theirs]
                namespace.to(room).local.emit("sio:presence", {"room": room, "sockets": cards})
                again = self._refreshing[key]
        finally:
            del self._refreshing[key]
