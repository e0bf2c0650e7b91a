"""Who is watching a room: the browser pages whose widgets subscribed to it.

``Run All`` reaches the cell after a widget before the browser has drawn that widget and
connected it to the hub, so an event emitted at once goes to nobody. Retained values
(``key=..., retain=N``) are the first answer: the hub keeps them for widgets that subscribe
later (and for pages that reload). For live events that are not worth keeping (broadcast
outputs), :func:`wait_for_viewers` waits, bounded, until a browser shows the room, and says
what it found::

    Feed("class")                      # cell 1
    wait_for_viewers(sio, "class")     # cell 2: "1 browser shows 'class': Anonymous Io"

Only ``sio.sockets(room=...)`` is used (any object with that method works; tests use a
fake). Browser sockets are those without a ``kernel``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Viewers", "display_name", "wait_for_viewers"]


def display_name(socket: dict[str, Any]) -> str:
    """How listings name a socket: the name it chose, else the Jupyter display name, else
    the login name (a hex id under token auth: the last resort, never the first)."""
    for field in ("name", "display_name", "user"):
        value = socket.get(field)
        if isinstance(value, str) and value:
            return value
    return "anonymous"


@dataclass(frozen=True, slots=True)
class Viewers:
    """The browser sockets found in ``room`` (``sio.sockets()`` entries), and how long the
    search waited. Its repr is one line for the notebook."""

    room: str
    sockets: tuple[dict[str, Any], ...]
    waited: float

    def __len__(self) -> int:
        return len(self.sockets)

    @property
    def names(self) -> list[str]:
        """Display names, one per person (several pages of one person count once)."""
        seen: list[str] = []
        for socket in self.sockets:
            name = display_name(socket)
            if name not in seen:
                seen.append(name)
        return seen

    def __repr__(self) -> str:
        n = len(self.sockets)
        if n == 0:
            return (f"no browser shows {self.room!r} yet (waited {self.waited:.0f} s): "
                    "widgets connect once a browser displays them")
        pages = "1 browser shows" if n == 1 else f"{n} browsers show"
        return f"{pages} {self.room!r}: {', '.join(self.names)}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def browsers(sockets: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The entries of a listing that are browser sockets (kernels have a ``kernel`` id)."""
    return tuple(s for s in sockets if isinstance(s, dict) and not s.get("kernel"))


def wait_for_viewers(
    sio: Any,
    room: str,
    *,
    count: int = 1,
    timeout: float = 10.0,
    interval: float = 0.2,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Viewers:
    """Wait until at least ``count`` browser sockets are in ``room``, at most ``timeout``
    seconds; return the ones found (possibly fewer: it never raises for too few).

    Blocks the cell (a handful of listings through the hub, ``interval`` apart): use it
    before an emit that widgets displayed just above should see.
    """
    if count < 1:
        raise ValueError(f"count is at least 1, got {count}")
    start = clock()
    while True:
        found = browsers(sio.sockets(room=room))
        waited = clock() - start
        if len(found) >= count or waited >= timeout:
            return Viewers(room, found, waited)
        sleep(min(interval, max(0.0, timeout - waited)))
