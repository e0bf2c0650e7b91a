"""Settings of a hub, as one frozen dataclass validated on construction.

A misspelled option raises ``TypeError`` (dataclass constructor), an impossible value raises
:class:`~jupyter_sio.exceptions.ConfigError` naming the setting. The Jupyter extension maps
its traitlets onto these fields; nothing else reads configuration.

Times are in seconds (Socket.IO's own options are in milliseconds; the handshake converts).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from .exceptions import ConfigError

TRANSPORTS = ("polling", "websocket")
PARSERS = ("default", "msgpack")


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Every limit and timing of the Engine.IO/Socket.IO server.

    Attributes:
        ping_interval: seconds between server pings (Engine.IO ``pingInterval``). Keep it
            under the idle timeout of proxies in front of the server (often 60 s).
        ping_timeout: seconds a client has to answer a ping before it is dropped.
        max_payload: largest Engine.IO packet or polling request body, in bytes
            (``maxHttpBufferSize``); larger input closes that client with a protocol error.
        transports: allowed transports, any of ``"polling"`` and ``"websocket"``.
        allow_upgrades: whether polling clients may upgrade to WebSocket.
        upgrade_timeout: seconds an upgrade probe may take before the WebSocket is dropped.
        cors_allowed_origins: origins allowed for cross-origin polling; empty means no CORS
            headers at all (same-origin only), ``("*",)`` allows any origin.
        max_buffer_packets: outbound packets queued per connection before reliable emits wait.
        max_buffer_bytes: outbound bytes queued per connection before reliable emits wait.
        write_high_water: bytes the WebSocket stream may hold unsent before the connection
            counts as congested and new packets go through the bounded outbound buffer.
        send_timeout: seconds a reliable emit waits for room before it fails with
            :class:`~jupyter_sio.exceptions.BufferFull` (single socket) or disconnects the
            slow client (broadcast).
        ack_timeout: default seconds to wait for an acknowledgement.
        max_attachments: binary attachments accepted in one inbound packet.
        connect_timeout: seconds a new Engine.IO connection may stay without joining a namespace.
        polling_timeout: seconds a long-poll GET is held open when there is nothing to send
            (default: until the next heartbeat ping, as Node's engine.io does).
        in_order: run one socket's handlers one after another (Socket.IO's default);
            ``False`` lets async handlers of one socket overlap.
        answer_unhandled: when a client asks for an ack on an event nobody handles, answer
            ``{"error": "unhandled", ...}`` at once instead of letting the client time out.
        max_retained: retained values kept per room (oldest key evicted first).
        recovery_window: seconds a disconnected socket's session (id, rooms, data and the
            packets it misses) is kept for the client to recover it (Socket.IO's
            connection-state recovery, ``maxDisconnectionDuration``); 0 turns it off.
        recovery_max_packets: packets a namespace keeps for recovering clients.
        recovery_max_bytes: bytes of packets a namespace keeps for recovering clients.
        parser: the Socket.IO parser of every client: ``"default"`` (JSON text, binary
            attachments) or ``"msgpack"`` (``socket.io-msgpack-parser``; needs the
            ``msgpack`` package). A client with the other parser is told so and closed.
        max_history: the longest history of one retained key (``retain=N``).
        max_rooms: rooms one browser socket may subscribe to (``sio:subscribe``); the hub's
            own code and kernels are not limited.
        max_room_name: characters in a room name a browser subscribes to.
        link_max_message: largest WebSocket message a kernel link accepts (a batch of
            frames, or one binary attachment), in bytes.
        max_poll_packets: Engine.IO messages per long-polling response. The python-engineio
            client refuses payloads of more than 16 (python-engineio#142), so that is the
            default; the rest goes out with the next GET.
    """

    ping_interval: float = 25.0
    ping_timeout: float = 20.0
    max_payload: int = 1_000_000
    transports: tuple[str, ...] = TRANSPORTS
    allow_upgrades: bool = True
    upgrade_timeout: float = 10.0
    cors_allowed_origins: tuple[str, ...] = ()
    max_buffer_packets: int = 1024
    max_buffer_bytes: int = 16 * 1024 * 1024
    write_high_water: int = 1024 * 1024
    send_timeout: float = 10.0
    ack_timeout: float = 30.0
    max_attachments: int = 10
    connect_timeout: float = 45.0
    polling_timeout: float | None = None
    in_order: bool = True
    answer_unhandled: bool = True
    max_retained: int = 1000
    max_history: int = 10_000
    recovery_window: float = 0.0
    parser: str = "default"
    recovery_max_packets: int = 10_000
    recovery_max_bytes: int = 16 * 1024 * 1024
    max_rooms: int = 500
    max_room_name: int = 256
    max_poll_packets: int = 16
    link_max_message: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        positive = (
            "ping_interval",
            "ping_timeout",
            "upgrade_timeout",
            "send_timeout",
            "ack_timeout",
            "connect_timeout",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < math.inf):
                raise ConfigError(f"{name} must be a finite number of seconds > 0, got {value!r}")
        for name in (
            "max_payload",
            "max_buffer_packets",
            "max_buffer_bytes",
            "write_high_water",
            "max_retained",
            "max_history",
            "recovery_max_packets",
            "recovery_max_bytes",
            "max_rooms",
            "max_room_name",
            "link_max_message",
        ):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) > 0):
                raise ConfigError(f"{name} must be a positive int, got {getattr(self, name)!r}")
        if self.parser not in PARSERS:
            raise ConfigError(f"parser must be one of {PARSERS}, got {self.parser!r}")
        if self.parser == "msgpack":
            from .protocol.msgpack_codec import require_msgpack

            try:
                require_msgpack()
            except ImportError as exc:
                raise ConfigError(str(exc)) from None
        window = self.recovery_window
        if not (isinstance(window, (int, float)) and 0 <= window < math.inf):
            raise ConfigError(f"recovery_window must be a finite number of seconds >= 0, "
                              f"got {window!r}")
        if self.max_attachments < 0:
            raise ConfigError(f"max_attachments must be >= 0, got {self.max_attachments!r}")
        transports = tuple(self.transports)
        unknown = [t for t in transports if t not in TRANSPORTS]
        if unknown or not transports:
            raise ConfigError(
                f"transports must be a non-empty subset of {TRANSPORTS}, got {self.transports!r}"
            )
        object.__setattr__(self, "transports", transports)
        object.__setattr__(self, "cors_allowed_origins", tuple(self.cors_allowed_origins))

    def replace(self, **changes: Any) -> HubConfig:
        """A copy with some settings changed (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    def origin_allowed(self, origin: str) -> bool:
        """Whether a cross-origin polling request from ``origin`` gets CORS headers."""
        allowed = self.cors_allowed_origins
        return "*" in allowed or origin in allowed
