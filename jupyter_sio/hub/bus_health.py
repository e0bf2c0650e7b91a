"""The health of a hub's link to a message bus (Redis) as data: states, transitions, backoff.

Sans-IO: no asyncio, no clock, no randomness of its own. The I/O layer
(:mod:`.redis_bus`) reports what happened (:meth:`BusHealth.connected`, ``failed``,
``closed``) with the current time and gets back a :class:`StateChange` only when the state
really changed, so it logs one line per change and never one per failed attempt or message.
It asks :meth:`BusHealth.next_delay` how long to wait before the next attempt.

::

    CONNECTING ──connected──► CONNECTED ──failed──► RECONNECTING ──connected──► CONNECTED
        │                                             ▲      │
        └─────────────failed──────────────────────────┘      └─ failed: stays, attempts += 1
    any state but CLOSED ──closed──► CLOSED (final; a restarted bus starts a new BusHealth)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..exceptions import ConfigError, LocalProtocolError


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays between reconnect attempts: ``initial`` seconds, doubling up to ``maximum``.

    Each delay is shortened by a random fraction of up to ``jitter``, so the nodes that all
    lost the same Redis at the same moment do not all knock again at the same moment.
    """

    initial: float = 0.1
    maximum: float = 3.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ConfigError(
                f"backoff needs 0 < initial <= maximum, got initial={self.initial!r}, "
                f"maximum={self.maximum!r}"
            )
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"backoff jitter must be in [0, 1), got {self.jitter!r}")

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds to wait before retry number ``attempt`` (1, 2, ...); ``rand`` in [0, 1)."""
        base = min(self.maximum, self.initial * 2.0 ** min(max(attempt - 1, 0), 60))
        return base * (1.0 - self.jitter * rand)


class BusState(Enum):
    CONNECTING = "connecting"  # started, the first connection is not made yet
    CONNECTED = "connected"  # subscribed and publishing
    RECONNECTING = "reconnecting"  # degraded: lost (or never made), retrying with backoff
    CLOSED = "closed"


class BusEvent(Enum):
    CONNECTED = "connected"
    FAILED = "failed"
    CLOSED = "closed"


S, E = BusState, BusEvent
#: every allowed (state, event) and where it leads; anything else is a bug of the I/O layer
TRANSITIONS: dict[BusState, dict[BusEvent, BusState]] = {
    S.CONNECTING: {E.CONNECTED: S.CONNECTED, E.FAILED: S.RECONNECTING, E.CLOSED: S.CLOSED},
    S.CONNECTED: {E.FAILED: S.RECONNECTING, E.CLOSED: S.CLOSED},
    S.RECONNECTING: {E.CONNECTED: S.CONNECTED, E.FAILED: S.RECONNECTING, E.CLOSED: S.CLOSED},
    S.CLOSED: {},
}


@dataclass(frozen=True, slots=True)
class StateChange:
    """The state moved: what the I/O layer logs (once) and reports.

    ``outage`` is the seconds spent degraded, on the way back to CONNECTED after a loss.
    """

    old: BusState
    new: BusState
    at: float
    error: str | None = None
    outage: float | None = None

    @property
    def degraded(self) -> bool:
        return self.new is BusState.RECONNECTING

    @property
    def recovered(self) -> bool:
        return self.new is BusState.CONNECTED and self.old is BusState.RECONNECTING


class BusHealth:
    """Current state, since when, and the counters an inspector shows."""

    __slots__ = ("attempts", "backoff", "last_error", "reconnects", "since", "state")

    def __init__(self, backoff: Backoff, now: float) -> None:
        self.backoff = backoff
        self.state = BusState.CONNECTING
        self.since = now
        self.reconnects = 0  # times CONNECTED was reached from RECONNECTING
        self.attempts = 0  # failed attempts in a row (drives the backoff)
        self.last_error: str | None = None

    def connected(self, now: float) -> StateChange | None:
        change = self._move(BusEvent.CONNECTED, now)
        if change is not None and change.recovered:
            self.reconnects += 1
        self.attempts = 0
        return change

    def failed(self, now: float, error: str) -> StateChange | None:
        """An attempt failed or the connection was lost; None while already degraded."""
        self.last_error = error
        self.attempts += 1
        return self._move(BusEvent.FAILED, now, error)

    def closed(self, now: float) -> StateChange | None:
        if self.state is BusState.CLOSED:
            return None  # closing twice is harmless
        return self._move(BusEvent.CLOSED, now)

    def next_delay(self, rand: float) -> float:
        """Seconds before the next attempt, after :meth:`failed`."""
        return self.backoff.delay(self.attempts, rand)

    def _move(self, event: BusEvent, now: float, error: str | None = None) -> StateChange | None:
        new = TRANSITIONS[self.state].get(event)
        if new is None:
            raise LocalProtocolError(f"bus event {event.value!r} in state {self.state.value!r}")
        if new is self.state:
            return None
        outage = now - self.since if self.state is BusState.RECONNECTING else None
        change = StateChange(self.state, new, now, error, outage)
        self.state, self.since = new, now
        return change

    def status(self) -> dict[str, Any]:
        """JSON-ready, for ``Hub.stats()["adapter"]``."""
        return {
            "state": self.state.value,
            "since": self.since,
            "reconnects": self.reconnects,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }
