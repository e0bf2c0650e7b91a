"""The bounded buffer between cells (any thread) and the kernel link's I/O thread.

Cells hand frames here and return at once; the I/O thread takes them in batches, one
WebSocket message per batch. The hub's delivery policies apply on this hop too (the box is
:class:`~jupyter_sio.protocol.outbox.Outbox`), also while the hub is unreachable (then
nothing drains and this is the offline buffer):

- reliable frames wait for room: the emitting thread blocks until the I/O thread took the
  waiting frames (it takes all of them once the socket has room again: the socket's
  ``write_high_water`` is the low-water mark of this hop), for at most ``send_timeout``,
  then gets :class:`~jupyter_sio.exceptions.BufferFull` (never a silent drop);
- volatile frames are dropped past the high-water mark (counted in ``dropped``);
- keyed frames replace the queued frame with the same key (counted in ``conflated``);
- commands and answers (``push_control``) always go in: there is one per cell call or per
  received event, so the hub's own limits bound them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..exceptions import BufferFull
from ..protocol.frames import Outgoing
from ..protocol.outbox import Outbox, PushResult, unwrap


class LinkBuffer:
    """Thread-safe :class:`Outbox` with water marks and a wake-up for the I/O thread."""

    def __init__(
        self,
        *,
        max_packets: int,
        max_bytes: int,
        send_timeout: float,
        wake: Callable[[bool], None],
        io_thread: Callable[[], bool],
    ) -> None:
        self._box = Outbox(max_packets=max_packets, max_bytes=max_bytes)
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._wake = wake
        self._on_io_thread = io_thread
        self._woken = False
        self._urgent = False
        self.send_timeout = send_timeout
        self.blocked = 0  # how many pushes had to wait for room
        self.full = 0  # how many raised BufferFull

    # -- producers (any thread) ------------------------------------------------------------
    def push(self, item: Outgoing) -> None:
        """Queue a frame by its policy; reliable ones wait for room (see module doc)."""
        box = self._box
        with self._lock:
            if item.volatile and item.key is None:
                if len(box) >= box.max_packets or box.size + item.size > box.max_bytes:
                    box.dropped += 1
                    return
                box.push_control(item)
            elif box.push(item) is PushResult.FULL:
                self._wait_for_room(item)
            self._kick()

    def push_control(self, item: Outgoing, *, flush: bool = True) -> None:
        """Commands and answers: no limits, and sent at once (someone waits for them).
        ``flush=False`` leaves the wake-up to a later :meth:`flush` (a burst of answers)."""
        with self._lock:
            self._box.push_control(item)
            if flush:
                self._flush_locked()

    def flush(self) -> None:
        """Send what waits now (the handler thread, after a burst of answers)."""
        with self._lock:
            if self._box:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._urgent:
            self._urgent = self._woken = True
            self._wake(True)

    def _wait_for_room(self, item: Outgoing) -> None:
        box = self._box
        if self._on_io_thread():  # the drain runs on this thread: waiting would deadlock
            self.full += 1
            raise BufferFull(self._full_message(0))
        self.blocked += 1
        deadline = time.monotonic() + self.send_timeout
        self._kick()
        while box.push(item) is PushResult.FULL:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.full += 1
                raise BufferFull(self._full_message(self.send_timeout))
            self._room.wait(remaining)

    def _full_message(self, waited: float) -> str:
        box = self._box
        return (
            f"the kernel's link buffer stayed full for {waited:g} s ({len(box)} frames, "
            f"{box.size} bytes waiting for the hub): a subscriber is not reading or the hub is "
            "unreachable. Emit with volatile=True (drop when congested) or key=... (keep the "
            "newest), or raise send_timeout / buffer limits (sio.configure)"
        )

    def _kick(self) -> None:
        if not self._woken:
            self._woken = True
            self._wake(False)

    # -- the consumer (I/O thread) ---------------------------------------------------------
    def take(self) -> list[Outgoing]:
        """Every waiting frame, in order. The lock is held for a moment only, so cells that
        emit in a loop do not contend with the I/O thread for it (and for the GIL)."""
        with self._lock:
            entries = self._box.take_all()
            self._woken = self._urgent = False
            self._room.notify_all()
        return unwrap(entries)

    def rearm(self) -> None:
        """The consumer could not drain now (offline): the next push wakes it again."""
        with self._lock:
            self._woken = self._urgent = False

    def stats(self) -> dict[str, int]:
        box = self._box
        with self._lock:
            return {
                "queued": len(box),
                "queued_bytes": box.size,
                "dropped": box.dropped,
                "conflated": box.conflated,
                "blocked": self.blocked,
                "buffer_full": self.full,
            }

    def clear(self) -> int:
        with self._lock:
            lost = self._box.clear()
            self._room.notify_all()
            return lost
