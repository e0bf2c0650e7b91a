"""Chainable broadcast targets: ``hub.to("room").exclude(sid).emit("event", data)``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..protocol.frames import Outgoing
from .adapter import BroadcastOptions
from .delivery import Delivery, all_delivered, check_size
from .namespace_socket import encode_event

if TYPE_CHECKING:
    from .namespace import Namespace
    from .namespace_socket import Socket



def _rooms(rooms: tuple[str | Iterable[str] | None, ...]) -> frozenset[str]:
    out: set[str] = set()
    for room in rooms:
        if room is None:
            continue
        if isinstance(room, str):
            out.add(room)
        else:
            out.update(room)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class BroadcastOperator:
    """An immutable description of recipients plus flags; every method returns a new one."""

    namespace: Namespace
    rooms: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()
    is_volatile: bool = False
    is_local: bool = False

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Add target rooms (a socket id is a room holding that socket)."""
        return replace(self, rooms=self.rooms | _rooms(rooms))

    in_ = to

    def exclude(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        """Leave out the members of these rooms (or these socket ids)."""
        return replace(self, excluded=self.excluded | _rooms(rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the packet for recipients that are congested instead of queueing it."""
        return replace(self, is_volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Only this process's sockets, even with a cross-process adapter."""
        return replace(self, is_local=True)

    @property
    def options(self) -> BroadcastOptions:
        return BroadcastOptions(self.rooms, self.excluded, self.is_local)

    def emit(
        self, event: str, *args: Any, key: str | None = None, retain: bool | int = False
    ) -> Delivery:
        """Encode once and write to every recipient; await the result for backpressure.

        With ``key``, a recipient that is behind keeps only the newest packet per key;
        with ``retain=True`` too, each target room keeps it as the current value of
        ``key`` and sockets joining later get it at once; ``retain=N`` keeps the last N
        packets of the key (at most ``max_history``), e.g. a chart's recent points.
        Reliable packets that meet a full buffer wait up to ``send_timeout``; a recipient
        still full then is disconnected (logged) so one stuck client cannot stall a room.
        """
        packet = encode_event(self.namespace.name, event, args, volatile=self.is_volatile, key=key,
                              parser=self.namespace.hub.config.parser)
        if retain:
            check_size(packet, self.namespace.hub.config.max_buffer_bytes)
            if key is None or not self.rooms:
                raise ValueError("retain=True needs a key and at least one room (to=...)")
            history = retained_history(retain, self.namespace.hub.config.max_history)
            for room in self.rooms:
                self.namespace.adapter.retain(room, key, packet, history)
        return self.send_packet(packet)

    def send_packet(self, packet: Outgoing) -> Delivery:
        """Fan ``packet`` out; refused (PayloadTooLarge) before anyone gets it if no outbox
        could hold it."""
        namespace = self.namespace
        check_size(packet, namespace.hub.config.max_buffer_bytes)
        opts = self.options
        if namespace.recovery is not None:
            packet = namespace.recovery.stamp(packet, opts)
        if namespace.hub.monitor is not None:
            namespace.hub.monitor.on_event_sent(namespace, namespace.adapter.select(opts), packet)
        return all_delivered(namespace.adapter.broadcast(packet, opts))

    def sockets(self) -> list[Socket]:
        """This process's sockets matching the target (see :meth:`fetch_sockets`)."""
        return self.namespace.adapter.local_sockets(self.options)

    async def fetch_sockets(self) -> list[Socket]:
        """Matching sockets on every node of the adapter."""
        return await self.namespace.adapter.fetch_sockets(self.options)

    async def join(self, *rooms: str | Iterable[str]) -> None:
        """Make the matching sockets join rooms (``socketsJoin``)."""
        await self.namespace.adapter.add_sockets(self.options, _rooms(rooms))

    async def leave(self, *rooms: str | Iterable[str]) -> None:
        """Make the matching sockets leave rooms (``socketsLeave``)."""
        await self.namespace.adapter.del_sockets(self.options, _rooms(rooms))

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect the matching sockets (``disconnectSockets``)."""
        await self.namespace.adapter.disconnect_sockets(self.options, close)

    async def call(self, event: str, *args: Any, timeout: float | None = None) -> dict[str, Any]:
        """Emit with an ack to each local recipient; returns ``{sid: answer}``.

        Sockets that did not answer in time or disconnected map to the exception instead of
        an answer, so one silent client never hides the others' answers.
        """
        sockets = self.sockets()
        futures = [s.call(event, *args, timeout=timeout) for s in sockets]
        results = await asyncio.gather(*futures, return_exceptions=True)
        return {s.id: r for s, r in zip(sockets, results, strict=True)}


def retained_history(retain: bool | int, limit: int) -> int:
    """How many packets of a key to keep: ``True`` is 1, ``N`` is N (1..``limit``)."""
    count = 1 if retain is True else retain
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
        raise ValueError(f"retain is True or a history length from 1 to max_history={limit}, "
                         f"got {retain!r}")
    return count
