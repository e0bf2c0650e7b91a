"""The Engine.IO v4 session state machine: handshake, heartbeat, upgrade, close.

Two rules, after h11's ``_state.py``: every state transition lives in this file, and this
file never does I/O or reads a clock (``now`` is passed in). The I/O layer feeds it packets
and timer ticks and carries out the events it returns.

States::

    OPEN ──(WebSocket probe opened, polling session)──► UPGRADING
    UPGRADING ──("5" upgrade on the probe)──► OPEN (transport = websocket)
    UPGRADING ──(probe closed / timed out)──► OPEN (still polling)
    any ──(close packet, ping timeout, protocol error, server close)──► CLOSED

Heartbeat (server-initiated in v4): every ``ping_interval`` the server sends ``2``; the
client must answer ``3`` within ``ping_timeout`` or the session closes with
``"ping timeout"``. The next ping is due ``ping_interval`` after the pong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

from ..config import HubConfig
from ..exceptions import RemoteProtocolError
from .eio_codec import EnginePacket, EnginePacketType


class Transport(str, Enum):
    POLLING = "polling"
    WEBSOCKET = "websocket"


class SessionState(Enum):
    #: Handshake sent; packets flow on ``transport``.
    OPEN = "open"
    #: A polling session has a WebSocket probe in progress.
    UPGRADING = "upgrading"
    #: Closed for good; ``close_reason`` says why.
    CLOSED = "closed"


class CloseReason(str, Enum):
    """Why a session closed, in the words Socket.IO servers use for ``disconnect``."""

    TRANSPORT_CLOSE = "transport close"
    TRANSPORT_ERROR = "transport error"
    PING_TIMEOUT = "ping timeout"
    PARSE_ERROR = "parse error"
    FORCED_CLOSE = "forced close"
    SERVER_SHUTDOWN = "server shutting down"


class Heartbeat(Enum):
    NOTHING = 0
    SEND_PING = 1
    TIMED_OUT = 2


# Events the I/O layer carries out. Messages are not wrapped in events: the hot path hands
# MESSAGE data straight to the Socket.IO layer (see transport.eio_connection).
@dataclass(frozen=True, slots=True)
class ProbeReply:
    """Answer ``3probe`` on the probe WebSocket and release any pending poll with a noop."""


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The session now runs on the probe WebSocket; flush the outbox there."""


@dataclass(frozen=True, slots=True)
class Closed:
    reason: CloseReason


Event = ProbeReply | Upgraded | Closed
_PROBE = "probe"


class EngineSession:
    """Protocol state of one Engine.IO connection (one client, both transports)."""

    __slots__ = (
        "close_reason",
        "config",
        "next_ping_at",
        "polling_active",
        "pong_deadline",
        "probe_answered",
        "probe_deadline",
        "sid",
        "state",
        "transport",
    )

    def __init__(self, sid: str, config: HubConfig, transport: Transport, now: float) -> None:
        self.sid = sid
        self.config = config
        self.transport = transport
        self.state = SessionState.OPEN
        self.close_reason: CloseReason | None = None
        self.next_ping_at = now + config.ping_interval
        self.pong_deadline: float | None = None
        self.probe_deadline: float | None = None
        #: "3probe" went out: the client pauses polling, a GET meanwhile is not held
        self.probe_answered = False
        self.polling_active = False

    # -- handshake -------------------------------------------------------------------------
    def open_packet(self) -> str:
        """The OPEN packet: ``0{"sid":…,"upgrades":…,"pingInterval":…,…}`` (times in ms)."""
        upgrades = (
            ["websocket"]
            if self.transport is Transport.POLLING
            and self.config.allow_upgrades
            and "websocket" in self.config.transports
            else []
        )
        body = {
            "sid": self.sid,
            "upgrades": upgrades,
            "pingInterval": round(self.config.ping_interval * 1000),
            "pingTimeout": round(self.config.ping_timeout * 1000),
            "maxPayload": self.config.max_payload,
        }
        return "0" + json.dumps(body, separators=(",", ":"))

    # -- heartbeat -------------------------------------------------------------------------
    @property
    def deadline(self) -> float:
        """When :meth:`tick` next has something to do."""
        times = [self.pong_deadline if self.pong_deadline is not None else self.next_ping_at]
        if self.probe_deadline is not None:
            times.append(self.probe_deadline)
        return min(times)

    def tick(self, now: float) -> Heartbeat:
        """Advance timers; ``SEND_PING`` means queue a ping, ``TIMED_OUT`` means close."""
        if self.state is SessionState.CLOSED:
            return Heartbeat.NOTHING
        if self.pong_deadline is not None:
            if now >= self.pong_deadline:
                self._close(CloseReason.PING_TIMEOUT)
                return Heartbeat.TIMED_OUT
            return Heartbeat.NOTHING
        if now >= self.next_ping_at:
            self.pong_deadline = now + self.config.ping_timeout
            return Heartbeat.SEND_PING
        return Heartbeat.NOTHING

    def probe_expired(self, now: float) -> bool:
        """Whether an upgrade probe ran past ``upgrade_timeout`` (the probe is then dropped)."""
        if self.probe_deadline is not None and now >= self.probe_deadline:
            self.abort_probe()
            return True
        return False

    # -- long-polling ----------------------------------------------------------------------
    def begin_poll(self) -> None:
        """A GET arrived. Two concurrent GETs are a protocol error (the session closes)."""
        if self.state is SessionState.CLOSED:
            raise RemoteProtocolError("session closed", hint="Session ID unknown")
        if self.transport is not Transport.POLLING:
            raise RemoteProtocolError("polling request on an upgraded session", hint="Bad request")
        if self.polling_active:
            self._close(CloseReason.TRANSPORT_ERROR)
            raise RemoteProtocolError("overlapping GET poll", hint="Bad request")
        self.polling_active = True

    def end_poll(self) -> None:
        self.polling_active = False

    # -- upgrade ---------------------------------------------------------------------------
    def begin_probe(self, now: float) -> None:
        """A WebSocket arrived with this session's sid: start the upgrade."""
        if (
            self.state is not SessionState.OPEN
            or self.transport is not Transport.POLLING
            or not self.config.allow_upgrades
            or "websocket" not in self.config.transports
        ):
            raise RemoteProtocolError("upgrade not possible for this session", hint="Bad request")
        self.state = SessionState.UPGRADING
        self.probe_deadline = now + self.config.upgrade_timeout

    def abort_probe(self) -> None:
        """The probe WebSocket closed or timed out before ``5``: keep polling."""
        if self.state is SessionState.UPGRADING:
            self.state = SessionState.OPEN
        self.probe_deadline = None
        self.probe_answered = False

    def receive_probe(self, packet: EnginePacket) -> Event:
        """A packet on the probe WebSocket: ``2probe`` then ``5``; anything else aborts."""
        if self.state is SessionState.UPGRADING:
            if packet.type is EnginePacketType.PING and packet.data == _PROBE:
                self.probe_answered = True
                return ProbeReply()
            if packet.type is EnginePacketType.UPGRADE:
                self.state = SessionState.OPEN
                self.transport = Transport.WEBSOCKET
                self.probe_deadline = None
                self.probe_answered = False
                return Upgraded()
        self.abort_probe()
        raise RemoteProtocolError(
            f"unexpected {packet.type.name} packet during upgrade", hint="Bad request"
        )

    # -- inbound control packets -----------------------------------------------------------
    def receive_control(self, packet: EnginePacket, now: float) -> Closed | None:
        """A non-MESSAGE packet on the session's transport."""
        ptype = packet.type
        if ptype is EnginePacketType.PONG:
            if self.pong_deadline is not None:
                self.pong_deadline = None
                self.next_ping_at = now + self.config.ping_interval
            return None
        if ptype is EnginePacketType.CLOSE:
            return self._close(CloseReason.TRANSPORT_CLOSE)
        if ptype is EnginePacketType.NOOP:
            return None
        raise RemoteProtocolError(f"unexpected {ptype.name} packet from client")

    # -- close -----------------------------------------------------------------------------
    def close(self, reason: CloseReason) -> Closed | None:
        """Close from our side; returns the event once, ``None`` if already closed."""
        return self._close(reason)

    def _close(self, reason: CloseReason) -> Closed | None:
        if self.state is SessionState.CLOSED:
            return None
        self.state = SessionState.CLOSED
        self.close_reason = reason
        self.pong_deadline = self.probe_deadline = None
        return Closed(reason)

    @property
    def closed(self) -> bool:
        return self.state is SessionState.CLOSED
