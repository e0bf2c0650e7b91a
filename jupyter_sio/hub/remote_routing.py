"""Client events that a kernel on another node handles (a hub spread over servers by Redis).

On JupyterHub every user has a server of their own: alice's notebook runs a poll, bob votes
from a page served by his server. When nothing on the sender's node takes an event (no hub
handler, no kernel, no ``"*"``), the node asks the others (``route?``): each offers the
kernel its :class:`~.kernel_routing.KernelRouter` would pick for that sender (the sender's
rooms and widget owner travel with the question) and how well it fits. The best offer gets
the event (``route``), with the sender's identity as its node authenticated it; nobody
offering means the usual "unhandled" answer.

On the chosen node a :class:`RemoteSender` stands in for the client socket: the kernel's
answer travels back as the client's ACK packet, broadcast to the sender's own room (every
socket is in the room named by its id), so it crosses nodes like any other broadcast.
``peer.emit()`` and ``peer.join()`` in the kernel already target that room.

Events of one socket keep their order: each is handed on only after the previous one was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from ..protocol.frames import Outgoing
from ..protocol.sio_codec import deconstruct, dumps, loads, reconstruct
from .adapter import BroadcastOptions, NodeMessage
from .delivery import DONE, Delivery
from .kernel_peer import ack_packet

if TYPE_CHECKING:
    from .hub import Hub
    from .kernel_routing import Registration
    from .namespace import Namespace
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub")

QUESTION = "route?"
EVENT = "route"


class RemoteSender:
    """A client socket of another node, as a kernel link of this node sees it: identity,
    id and namespace, and a way to answer (its ACK goes to the socket's own room)."""

    __slots__ = ("_identity", "id", "namespace")

    #: whether the client is there: its own node drops an answer if it left meanwhile
    connected = True

    def __init__(self, namespace: Namespace, sid: str, identity: dict[str, Any]) -> None:
        self.namespace = namespace
        self.id = sid
        self._identity = identity

    def describe_identity(self) -> dict[str, Any]:
        return dict(self._identity)

    def _send(self, packet: Outgoing) -> Delivery:
        self.namespace.adapter.broadcast(packet, BroadcastOptions(frozenset([self.id])))
        return DONE

    def _answer(self, ack_id: int | None, value: Any) -> None:
        if ack_id is None:
            return
        attachments: list[bytes] = []
        args = dumps(deconstruct([value], attachments))
        self._send(
            ack_packet(
                self.namespace.name,
                ack_id,
                args,
                tuple(attachments),
                self.namespace.hub.config.parser,
            )
        )


class RemoteRouting:
    """This node's side of cross-node event routing (installed on every hub)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        #: (namespace, sid) -> the forwarding of that socket's latest event
        self._tails: dict[tuple[str, str], asyncio.Task[None]] = {}
        hub.node_topics[QUESTION] = self._offer
        hub.node_topics[EVENT] = self._deliver

    # -- the sender's node ---------------------------------------------------------------
    def forward(self, socket: Socket, data: list[Any], ack_id: int | None) -> None:
        """Hand ``data`` to the best kernel of another node, in order per socket."""
        key = (socket.namespace.name, socket.id)
        previous = self._tails.get(key)
        task = self.hub.spawn(self._forward(socket, data, ack_id, previous))
        self._tails[key] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._tails.get(key) is finished:  # no later event of this socket waits on it
                del self._tails[key]

        task.add_done_callback(done)

    async def _forward(
        self,
        socket: Socket,
        data: list[Any],
        ack_id: int | None,
        previous: asyncio.Task[None] | None,
    ) -> None:
        namespace = socket.namespace
        router = self.hub.kernel_router
        question = {
            "event": str(data[0]),
            "owner": router.owners.get((namespace.name, socket.id)),
            "rooms": sorted(namespace.adapter.rooms_of(socket.id)),
        }
        offers = await namespace.adapter.ask(QUESTION, question)
        if previous is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)  # the socket's earlier event goes first
        best = min(offers, key=_fit, default=None)
        if best is None or not socket.connected:
            self.hub.answer_unhandled(socket, data, ack_id)
            return
        attachments: list[bytes] = []
        message = {
            **question,
            "sid": socket.id,
            "ack": ack_id,
            "identity": socket.describe_identity(),
            "payload": dumps(deconstruct(data, attachments)),
        }
        namespace.adapter.tell(EVENT, message, node=best[0], attachments=attachments)

    # -- the other nodes -----------------------------------------------------------------
    def _offer(self, namespace: Namespace, message: NodeMessage) -> dict[str, Any] | None:
        found = self._pick(namespace, message.data)
        if found is None:
            return None
        registration, fit = found
        return {"fit": fit, "since": registration.since}

    def _deliver(self, namespace: Namespace, message: NodeMessage) -> None:
        data = message.data
        sender = RemoteSender(namespace, str(data["sid"]), dict(data.get("identity") or {}))
        ack = data.get("ack")
        ack_id = int(ack) if ack is not None else None
        event = reconstruct(loads(str(data["payload"])), list(message.attachments))
        found = self._pick(namespace, data)
        # (a RemoteSender has what both use of a Socket: namespace, id, identity, answers)
        if found is None:  # the kernel went away since it offered
            self.hub.answer_unhandled(sender, event, ack_id)  # type: ignore[arg-type]
            return
        found[0].peer.route_event(sender, event, ack_id)  # type: ignore[arg-type]

    def _pick(self, namespace: Namespace, data: dict[str, Any]) -> tuple[Registration, int] | None:
        rooms = {str(r) for r in data.get("rooms") or ()}
        owner = data.get("owner")
        return self.hub.kernel_router.pick(
            namespace.name, str(data.get("event")), str(owner) if owner else None, lambda: rooms
        )


def _fit(offer: tuple[str, Any]) -> tuple[int, float]:
    """Sort key of an offer: the best fit first, then the newest registration."""
    answer = offer[1]
    return int(answer.get("fit", 99)), -float(answer.get("since", 0.0))
