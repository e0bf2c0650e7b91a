"""The kernel link's two sessions as state machines: what each side may receive when,
heartbeat deadlines, and request ids. Time is passed in; nothing here does I/O.

::

    kernel (LinkClientSession)                 hub (LinkServerSession)
    CONNECTING --hello-->                      AWAITING_HELLO
               <--welcome--  OPEN              OPEN
    ... frames both ways; the hub pings every ping_interval, the kernel answers pong ...
    CLOSED  (either side: close(), a ping timeout, a protocol error)

The hub closes a link whose kernel sent nothing for ``ping_interval + ping_timeout``; the
kernel treats a hub that sent nothing (not even a ping) for as long as dead and reconnects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..exceptions import RemoteProtocolError
from .link_codec import LINK_VERSION, LinkFrame, LinkKind


class LinkState(Enum):
    AWAITING_HELLO = "awaiting hello"  # hub side, before the kernel said hello
    CONNECTING = "connecting"  # kernel side, hello sent, no welcome yet
    OPEN = "open"
    CLOSED = "closed"


class LinkHeartbeat(Enum):
    NOTHING = "nothing"
    SEND_PING = "send ping"
    TIMED_OUT = "timed out"


@dataclass(frozen=True, slots=True)
class Welcome:
    """What the hub tells a kernel once it said hello."""

    sid: str
    max_payload: int
    max_message: int
    ping_interval: float
    ping_timeout: float
    rooms: tuple[tuple[str, str], ...] = ()
    #: link recovery (hubs with ``recovery_window``): how many ``emit`` frames of this
    #: link the hub has processed (None: the hub keeps no count, resend nothing), and
    #: whether it resumed the link's earlier session (else the count starts again at 0)
    emits: int | None = None
    resumed: bool = False

    def header(self) -> dict[str, Any]:
        header: dict[str, Any] = {
            "sid": self.sid,
            "max_payload": self.max_payload,
            "max_message": self.max_message,
            "ping_interval": self.ping_interval,
            "ping_timeout": self.ping_timeout,
            "rooms": [list(r) for r in self.rooms],
        }
        if self.emits is not None:
            header["emits"] = self.emits
            header["resumed"] = self.resumed
        return header

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> Welcome:
        """The welcome a hub sent; RemoteProtocolError unless every field has its type (a
        ``"nan"`` interval would disable the heartbeat, ``1e999`` overflow ``int()``)."""
        try:
            rooms = header.get("rooms", [])
            if not isinstance(rooms, list):
                raise TypeError("rooms is not a list")
            return cls(
                sid=_text(header["sid"]),
                max_payload=_size(header["max_payload"]),
                max_message=_size(header["max_message"]),
                ping_interval=_seconds(header["ping_interval"]),
                ping_timeout=_seconds(header["ping_timeout"]),
                rooms=tuple((_text(ns), _text(room)) for ns, room in rooms),
                emits=_count(header["emits"]) if "emits" in header else None,
                resumed=header.get("resumed") is True,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteProtocolError(f"invalid welcome frame: {exc!r}"[:200]) from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _size(value: Any) -> int:
    if type(value) is not int or value <= 0:
        raise ValueError(f"expected a positive integer, got {type(value).__name__}")
    return value


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"expected a count >= 0, got {type(value).__name__}")
    return value


def emits_acked(header: dict[str, Any]) -> int | None:
    """The ``emits`` count a hub's ``ping`` carries (link recovery), or None."""
    value = header.get("emits")
    return value if type(value) is int and value >= 0 else None


def _seconds(value: Any) -> float:
    if type(value) not in (int, float) or not 0 < value < math.inf:
        raise ValueError(f"expected a positive finite number of seconds, got {value!r:.40}")
    return float(value)


class _Session:
    """What both sides share: the state, the last time something arrived, request ids."""

    __slots__ = ("_next_id", "close_reason", "last_received", "state")

    def __init__(self, state: LinkState, now: float) -> None:
        self.state = state
        self.last_received = now
        self.close_reason: str | None = None
        self._next_id = 0

    @property
    def open(self) -> bool:
        return self.state is LinkState.OPEN

    def next_id(self) -> int:
        """A fresh id for a request (``call``, ``sockets``, ... / a routed ``event``)."""
        self._next_id += 1
        return self._next_id

    def close(self, reason: str) -> None:
        if self.state is not LinkState.CLOSED:
            self.state = LinkState.CLOSED
            self.close_reason = reason


class LinkServerSession(_Session):
    """The hub's side of one kernel link."""

    __slots__ = ("last_ping", "ping_interval", "ping_timeout")

    def __init__(self, ping_interval: float, ping_timeout: float, now: float) -> None:
        super().__init__(LinkState.AWAITING_HELLO, now)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.last_ping = now

    def receive(self, frame: LinkFrame, now: float) -> None:
        """Check ``frame`` against the state; raises RemoteProtocolError if out of place."""
        self.last_received = now
        if self.state is LinkState.CLOSED:
            raise RemoteProtocolError("link closed")
        if frame.kind is LinkKind.HELLO:
            if self.state is not LinkState.AWAITING_HELLO:
                raise RemoteProtocolError("hello on an open link")
            version = frame.header.get("v")
            if type(version) is not int or version != LINK_VERSION:  # not True, not 1.0
                raise RemoteProtocolError(
                    f"kernel link version {version!r} unsupported (this hub speaks {LINK_VERSION})"
                )
        elif self.state is LinkState.AWAITING_HELLO:
            raise RemoteProtocolError(f"{frame.kind.value} before hello")

    def welcomed(self) -> None:
        if self.state is LinkState.AWAITING_HELLO:
            self.state = LinkState.OPEN

    @property
    def deadline(self) -> float:
        """When :meth:`tick` has something to do next."""
        return min(
            self.last_ping + self.ping_interval,
            self.last_received + self.ping_interval + self.ping_timeout,
        )

    def tick(self, now: float) -> LinkHeartbeat:
        if self.state is LinkState.CLOSED:
            return LinkHeartbeat.NOTHING
        if now >= self.last_received + self.ping_interval + self.ping_timeout:
            self.close("ping timeout")
            return LinkHeartbeat.TIMED_OUT
        if now >= self.last_ping + self.ping_interval:
            self.last_ping = now
            return LinkHeartbeat.SEND_PING
        return LinkHeartbeat.NOTHING


class LinkClientSession(_Session):
    """The kernel's side of one link (a new session for every reconnect)."""

    __slots__ = ("welcome",)

    def __init__(self, now: float) -> None:
        super().__init__(LinkState.CONNECTING, now)
        self.welcome: Welcome | None = None

    def receive(self, frame: LinkFrame, now: float) -> Welcome | None:
        """Check ``frame``; returns the :class:`Welcome` when it opens the link."""
        self.last_received = now
        if self.state is LinkState.CLOSED:
            raise RemoteProtocolError("link closed")
        if frame.kind is LinkKind.WELCOME:
            if self.state is not LinkState.CONNECTING:
                raise RemoteProtocolError("welcome on an open link")
            self.welcome = Welcome.from_header(frame.header)
            self.state = LinkState.OPEN
            return self.welcome
        if self.state is LinkState.CONNECTING and frame.kind is not LinkKind.NOTICE:
            raise RemoteProtocolError(f"{frame.kind.value} before welcome")
        return None

    def timed_out(self, now: float) -> bool:
        """Whether the hub has been silent too long (no frame, not even a ping)."""
        welcome = self.welcome
        if welcome is None or self.state is not LinkState.OPEN:
            return False
        return now >= self.last_received + welcome.ping_interval + welcome.ping_timeout

    @property
    def deadline(self) -> float | None:
        welcome = self.welcome
        if welcome is None:
            return None
        return self.last_received + welcome.ping_interval + welcome.ping_timeout
