"""What an emit returns, and the one packet a full connection may hold back.

Emits do their work synchronously (encode once, write to every recipient that has room), so
a plain call from a sync handler or another callback sends the packet at once. The returned
object is awaitable for backpressure. In the common case it is :data:`DONE` and awaiting
costs nothing; when a recipient's buffer is full it is a :class:`Pending` (one recipient)
or :class:`AllPending` (a broadcast), both plain objects around the futures that the
recipients' connections already hold: no Task, no future per emit.

Memory stays bounded under any client behaviour because a connection holds at most one
:class:`Stall`: the first reliable packet that found its outbox full, one timer and one
future shared by every emitter that awaits it. A reliable packet that finds the outbox full
while a stall is pending, or a stall that lasts ``send_timeout``, means the client is not
reading: the connection closes it (one log line), and awaiting emitters get ``BufferFull``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from typing import Any

from ..exceptions import BufferFull, Disconnected, PayloadTooLarge
from ..protocol.frames import Outgoing


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


def _observe(future: asyncio.Future[None]) -> None:
    """Mark a stall's outcome as seen: nobody has to await an emit (no "never retrieved")."""
    if not future.cancelled():
        future.exception()


class Pending:
    """An emit to one socket whose packet waits in that connection's :class:`Stall`.

    Awaiting it shields the shared future, so one awaiter's cancellation never cancels the
    wait for the others; it raises ``BufferFull`` or ``Disconnected`` if the packet could
    not be queued.
    """

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future

    def __await__(self) -> Generator[Any, None, None]:
        return asyncio.shield(self.future).__await__()

    def done(self) -> bool:
        return self.future.done()

    def add_done_callback(self, callback: Callable[[asyncio.Future[None]], Any]) -> None:
        self.future.add_done_callback(callback)

    @classmethod
    def failed(cls, error: BaseException) -> Pending:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_exception(error)
        _observe(future)
        return cls(future)

    def __repr__(self) -> str:
        return f"<pending {self.future!r}>"


class AllPending:
    """A broadcast some recipients could not take at once.

    Awaiting it waits until each of them queued the packet or was dropped as stuck; a stuck
    recipient never makes a broadcast raise (its connection is closed and logged instead).
    """

    __slots__ = ("futures",)

    def __init__(self, futures: list[asyncio.Future[None]]) -> None:
        self.futures = futures

    def __await__(self) -> Generator[Any, None, None]:
        for future in self.futures:
            if future.done():
                continue
            with contextlib.suppress(BufferFull, Disconnected):
                yield from asyncio.shield(future).__await__()

    def done(self) -> bool:
        return all(f.done() for f in self.futures)


Delivery = Done | Pending | AllPending


def all_delivered(waits: list[Pending]) -> Delivery:
    """The delivery of a broadcast, given the recipients that held it back."""
    if not waits:
        return DONE
    futures = [w.future for w in waits if not w.future.done()]
    return AllPending(futures) if futures else DONE


def check_size(packet: Outgoing, max_bytes: int) -> None:
    """Refuse, before any recipient sees it, a packet no outbox could ever hold."""
    if packet.size > max_bytes:
        raise PayloadTooLarge(
            f"packet of {packet.size} bytes exceeds max_buffer_bytes={max_bytes}: it could "
            f"never be queued for a client that is behind"
        )


class Stall:
    """The one reliable packet a connection holds while its outbox is full.

    ``expired`` runs once after ``timeout`` unless :meth:`release` or :meth:`fail` ran
    first. The future settles with the outcome and is observed, so no emitter has to await.
    """

    __slots__ = ("future", "packet", "timer")

    def __init__(self, packet: Outgoing, timeout: float, expired: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self.packet = packet
        self.future: asyncio.Future[None] = loop.create_future()
        self.future.add_done_callback(_observe)
        self.timer = loop.call_later(timeout, expired)

    @property
    def delivery(self) -> Pending:
        return Pending(self.future)

    def release(self) -> None:
        """The packet was queued."""
        self.timer.cancel()
        if not self.future.done():
            self.future.set_result(None)

    def fail(self, error: BaseException) -> None:
        self.timer.cancel()
        if not self.future.done():
            self.future.set_exception(error)
