"""The bounded outbound buffer of one connection and its three policies.

A packet waits here only while its connection cannot take it: a WebSocket whose stream holds
more than ``write_high_water`` unsent bytes, or a polling client between two GETs.

- **reliable** (default): queued while there is room (``max_packets`` and ``max_bytes``);
  when full, :meth:`Outbox.push` answers ``FULL`` and the caller waits for room or fails with
  ``BufferFull``. Nothing reliable is ever dropped silently (python-engineio#133).
- **volatile**: dropped when the connection is congested, counted in ``dropped``.
- **keyed** (``key=...``): a newer packet with the same key replaces the queued one in
  place, so a slow client gets only the latest value per key and memory is bounded by the
  number of keys, not the message rate (socket.io#4435, holoviews#724). Keyed packets never
  wait; past ``max_bytes`` a new key is dropped and counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from .frames import Outgoing


class PushResult(Enum):
    QUEUED = "queued"
    CONFLATED = "conflated"
    DROPPED = "dropped"
    FULL = "full"


class _Slot:
    """A queue entry whose packet a newer keyed packet may replace."""

    __slots__ = ("item",)

    def __init__(self, item: Outgoing) -> None:
        self.item = item


#: what an outbox holds until its first packet waits (an idle WebSocket connection's never
#: does: an empty deque is ~600 bytes, issue 11's idle-memory budget)
_NO_QUEUE: tuple[()] = ()
_NO_KEYS: Mapping[str, _Slot] = MappingProxyType({})


class Outbox:
    """FIFO of :class:`Outgoing` packets with explicit limits."""

    __slots__ = ("_keys", "_queue", "conflated", "dropped", "max_bytes", "max_packets", "size")

    def __init__(self, *, max_packets: int, max_bytes: int) -> None:
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self._queue: deque[Outgoing | _Slot] | tuple[()] = _NO_QUEUE
        self._keys: dict[str, _Slot] | Mapping[str, _Slot] = _NO_KEYS
        self.size = 0  # bytes queued
        self.dropped = 0
        self.conflated = 0

    def __len__(self) -> int:
        return len(self._queue)

    def __bool__(self) -> bool:
        return bool(self._queue)

    def has_room(self, size: int) -> bool:
        """Whether a reliable packet of ``size`` bytes fits. The limit holds for the first
        packet too: the hub refuses larger packets at emit time (``check_size``)."""
        return len(self._queue) < self.max_packets and self.size + size <= self.max_bytes

    def push(self, item: Outgoing) -> PushResult:
        """Queue ``item`` by its policy; ``FULL`` means a reliable packet did not fit."""
        key = item.key
        if key is not None:
            slot = self._keys.get(key)
            if slot is not None:
                self.size += item.size - slot.item.size
                slot.item = item
                self.conflated += 1
                return PushResult.CONFLATED
            if self.size + item.size > self.max_bytes:
                self.dropped += 1
                return PushResult.DROPPED
            slot = _Slot(item)
            keys = self._keys
            if not isinstance(keys, dict):
                keys = self._keys = {}
            keys[key] = slot
            self._queued().append(slot)
            self.size += item.size
            return PushResult.QUEUED
        if item.volatile:
            self.dropped += 1
            return PushResult.DROPPED
        if not self.has_room(item.size):
            return PushResult.FULL
        self._queued().append(item)
        self.size += item.size
        return PushResult.QUEUED

    def push_control(self, item: Outgoing) -> None:
        """Queue regardless of policy and limits: control packets (ping, noop, close) and
        volatile packets for a polling client that is writable right now."""
        self._queued().append(item)
        self.size += item.size

    def _queued(self) -> deque[Outgoing | _Slot]:
        """The queue, made on the first packet that waits."""
        queue = self._queue
        if isinstance(queue, deque):
            return queue
        self._queue = queue = deque()
        return queue

    def pop(self) -> Outgoing:
        entry = self._queued().popleft()
        if isinstance(entry, _Slot):
            item = entry.item
            keys = self._keys
            if item.key is not None and keys.get(item.key) is entry:
                assert isinstance(keys, dict)
                del keys[item.key]
        else:
            item = entry
        self.size -= item.size
        return item

    def drain(self, budget: int | None = None, max_messages: int | None = None) -> list[Outgoing]:
        """Take packets from the front, up to about ``budget`` bytes and ``max_messages``
        Engine.IO messages (a packet counts 1 + its attachments); always at least one."""
        items: list[Outgoing] = []
        total = messages = 0
        while self._queue:
            head = self._peek()
            if items and (
                (budget is not None and total + head.size > budget)
                or (
                    max_messages is not None and messages + 1 + len(head.attachments) > max_messages
                )
            ):
                break
            item = self.pop()
            items.append(item)
            total += item.size
            messages += 1 + len(item.attachments)
        return items

    def take_all(self) -> list[Outgoing | _Slot]:
        """Everything queued, at once (O(1) work here; :func:`unwrap` the entries later,
        outside any lock): the kernel link's consumer empties its buffer this way."""
        entries = list(self._queue)
        self._forget()
        return entries

    def _peek(self) -> Outgoing:
        entry = self._queued()[0]
        return entry.item if isinstance(entry, _Slot) else entry

    def clear(self) -> int:
        """Drop everything (the connection closed); returns how many packets were lost."""
        count = len(self._queue)
        self._forget()
        return count

    def _forget(self) -> None:
        if self._queue:
            self._queue = _NO_QUEUE
        if self._keys:
            self._keys = _NO_KEYS
        self.size = 0


def unwrap(entries: list[Outgoing | _Slot]) -> list[Outgoing]:
    """The packets of :meth:`Outbox.take_all` entries (a conflated slot holds the newest)."""
    return [e.item if isinstance(e, _Slot) else e for e in entries]
