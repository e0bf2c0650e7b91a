"""What an emit returns: an awaitable that is usually already complete.

Emits do their work synchronously (encode once, write to every recipient that has room), so
a plain call from a sync handler or another callback sends the packet at once. The returned
object is awaitable for backpressure: awaiting it waits until every reliable packet that
found a full buffer was queued, or raises :class:`~jupyter_sio.exceptions.BufferFull`.
In the common case nothing waits and awaiting costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any


class Done:
    """An awaitable that is already complete (the fast path of every emit)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # makes this a generator; unreachable

    def done(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "<delivered>"


DONE = Done()
Delivery = Done | asyncio.Future[None]
