"""One timer for the heartbeats of every connection of an Engine.IO server (issue 11).

A ``loop.call_at`` per connection costs a TimerHandle, a copied context and a bound method
each (~300 bytes), and a cancelled one stays in the loop's heap until asyncio purges it.
:class:`Heartbeats` keeps instead one heap of ``(deadline, seq, connection)`` entries and
arms a single loop timer for the earliest. A connection records the deadline it is
scheduled for (its ``_timer`` slot); an entry whose deadline is no longer its
connection's is stale and skipped, and the heap is rebuilt without stale entries once they
are more than half of it (asyncio's own rule for cancelled timers).

Deadlines and the callback are the connection's: :meth:`schedule` is ``call_at`` for a
connection's ``_on_timer``, with at most one pending deadline per connection.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from typing import Protocol

log = logging.getLogger("jupyter_sio.transport")

#: below this many entries stale ones are only dropped when they come due
_MIN_PURGE = 100


class Beating(Protocol):
    """A connection as :class:`Heartbeats` sees it."""

    #: the deadline it is scheduled for (``None``: not scheduled)
    _timer: float | None

    def _on_timer(self) -> None: ...


class Heartbeats:
    """Schedules each connection's ``_on_timer`` at its deadline, with one loop timer."""

    __slots__ = ("_armed", "_handle", "_heap", "_seq", "_stale")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Beating]] = []
        self._seq = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed: float | None = None  # when the loop timer fires
        self._stale = 0

    def __len__(self) -> int:
        """Entries in the heap, stale ones included (for tests and inspectors)."""
        return len(self._heap)

    def schedule(self, conn: Beating, when: float) -> None:
        """Call ``conn._on_timer()`` at loop time ``when`` (replacing its previous deadline)."""
        if conn._timer is not None:
            self._stale += 1
        conn._timer = when
        heapq.heappush(self._heap, (when, next(self._seq), conn))
        if self._armed is None or when < self._armed:
            self._arm(when)
        elif self._stale > _MIN_PURGE and self._stale * 2 > len(self._heap):
            self._purge()

    def cancel(self, conn: Beating) -> None:
        """Forget ``conn``'s deadline (it closed)."""
        if conn._timer is not None:
            conn._timer = None
            self._stale += 1

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = when
        self._handle = asyncio.get_running_loop().call_at(when, self._fire)

    def _purge(self) -> None:
        self._heap = [entry for entry in self._heap if entry[2]._timer == entry[0]]
        heapq.heapify(self._heap)
        self._stale = 0

    def _fire(self) -> None:
        self._handle = None
        self._armed = float("-inf")  # what the callbacks schedule waits for the end of this
        loop = asyncio.get_running_loop()
        # (like the loop's own timers: due within one clock resolution counts as due)
        end = loop.time() + getattr(loop, "_clock_resolution", 1e-6)
        try:
            while self._heap and self._heap[0][0] <= end:
                when, _, conn = heapq.heappop(self._heap)
                if conn._timer != when:
                    self._stale -= 1
                    continue
                conn._timer = None
                try:
                    conn._on_timer()
                except Exception:
                    log.exception("heartbeat of %r failed", conn)
            heap = self._heap
            while heap and heap[0][2]._timer != heap[0][0]:  # arm for a live deadline only
                heapq.heappop(heap)
                self._stale -= 1
        finally:
            self._armed = None
            if self._heap:
                self._arm(self._heap[0][0])
