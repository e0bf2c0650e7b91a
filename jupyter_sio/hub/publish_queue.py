"""Commands waiting for the bus writer, bounded by count and by bytes.

Publishing never waits: an emit runs on the event loop and must not stall because Redis is
slow or down. So the queue has a hard bound, and when a new command does not fit the oldest
ones are dropped to make room (and counted): after an outage the newest publications, which
dashboards care about, are the ones still waiting. A single command larger than the whole
byte bound is dropped at once. Sans-IO: no asyncio; the writer that drains it lives in
:mod:`.redis_bus`.
"""

from __future__ import annotations

from collections import deque

from ..exceptions import ConfigError

#: a Redis command and its arguments, e.g. ``(b"PUBLISH", channel, payload)``
Command = tuple[bytes, ...]


class PublishQueue:
    __slots__ = ("_items", "dropped", "max_bytes", "max_count", "nbytes")

    def __init__(self, max_count: int, max_bytes: int) -> None:
        if max_count <= 0 or max_bytes <= 0:
            raise ConfigError(
                f"max_pending and max_pending_bytes must be positive, got {max_count!r} "
                f"and {max_bytes!r}"
            )
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._items: deque[tuple[Command, int]] = deque()
        self.nbytes = 0
        self.dropped = 0  # commands dropped for room, refused, or lost in a failed write

    def __len__(self) -> int:
        return len(self._items)

    def push(self, command: Command) -> None:
        size = sum(len(part) for part in command)
        if size > self.max_bytes:
            self.dropped += 1
            return
        items = self._items
        while items and (len(items) >= self.max_count or self.nbytes + size > self.max_bytes):
            _, old = items.popleft()
            self.nbytes -= old
            self.dropped += 1
        items.append((command, size))
        self.nbytes += size

    def take(self, limit: int) -> list[Command]:
        """Up to ``limit`` of the oldest commands, removed from the queue."""
        items = self._items
        batch = []
        for _ in range(min(limit, len(items))):
            command, size = items.popleft()
            self.nbytes -= size
            batch.append(command)
        return batch

    def refuse(self) -> None:
        """Count a command that was not even queued (a volatile one while the bus is down)."""
        self.dropped += 1

    def lost(self, count: int) -> None:
        """Count commands taken for a write that failed (they may or may not have arrived)."""
        self.dropped += count

    def clear(self) -> None:
        """Forget everything still waiting (closing while Redis is down); counted as dropped."""
        self.dropped += len(self._items)
        self._items.clear()
        self.nbytes = 0
