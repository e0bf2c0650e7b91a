"""What a kernel misses while its link is down, kept for its return (issue 10).

With ``recovery_window`` set, a kernel link that drops for a reason after which the kernel
comes back (transport close or error, ping timeout; not the kernel's own ``bye``) is
*parked* for the window instead of closed: its sockets stay in their rooms, its handlers
stay registered, and what would have been written to it goes into a :class:`Backlog`:

- packets for its own sockets (room broadcasts, ``deliver`` frames), reliable ones in
  order, keyed ones as their newest value only, volatile ones dropped (as for browsers);
- client events the router gives it (``event`` frames); their acks are answered by the
  kernel once it is back.

The kernel's next ``hello`` presents the same link token (random, per kernel process) and
takes the parked session over: the backlog is written right after the ``welcome``, before
anything new. Its bounds are ``recovery_max_packets`` and ``recovery_max_bytes`` (per
kernel); past them, or once the window passed, the session is dropped whole (events
waiting for an answer get a ``Disconnected`` error), never replayed in part.

The other direction: the hub counts the ``emit`` frames it processed on a link and tells
the kernel (``ping`` and ``welcome`` carry ``emits``), so the kernel resends the emits it
wrote that the hub never read (see :mod:`jupyter_sio.kernel.link_client`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .namespace_socket import Socket


@dataclass(slots=True)
class Frame:
    """A frame for the kernel, encoded (a ``deliver``)."""

    line: str
    attachments: tuple[bytes, ...]
    key: str | None = None


@dataclass(slots=True)
class Routed:
    """A client event the router gave the kernel (routed again once it is back)."""

    socket: Socket
    data: list[Any]
    ack_id: int | None


Entry = Frame | Routed


class Backlog:
    """Bounded, ordered; a keyed frame replaces the older one with its key."""

    def __init__(self, max_packets: int, max_bytes: int) -> None:
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self.entries: list[Entry | None] = []
        self.size = 0
        self.count = 0
        self._keys: dict[str, int] = {}

    def add(self, entry: Entry) -> bool:
        """Keep ``entry``; False once the bounds are exceeded (the session is dropped)."""
        if isinstance(entry, Frame):
            if entry.key is not None:
                previous = self._keys.get(entry.key)
                if previous is not None:
                    old = self.entries[previous]
                    assert isinstance(old, Frame)
                    self.entries[previous] = None
                    self.size -= _size(old)
                    self.count -= 1
                self._keys[entry.key] = len(self.entries)
            self.size += _size(entry)
        else:
            self.size += 64  # a reference to data already held by the hub
        self.entries.append(entry)
        self.count += 1
        return self.count <= self.max_packets and self.size <= self.max_bytes

    def take(self) -> list[Entry]:
        entries = [e for e in self.entries if e is not None]
        self.entries, self.size, self.count, self._keys = [], 0, 0, {}
        return entries

    def events(self) -> list[Routed]:
        return [e for e in self.entries if isinstance(e, Routed)]


def _size(frame: Frame) -> int:
    return len(frame.line) + sum(len(a) for a in frame.attachments)
