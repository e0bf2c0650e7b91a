"""Engine.IO v4 packets and long-polling payloads.

Spec: https://socket.io/docs/v4/engine-io-protocol/ . A packet is one type digit followed by
its data. Over WebSocket a text packet is one text frame and a binary packet is one binary
frame holding the raw bytes (v4 dropped v3's type byte). Over HTTP long-polling packets are
joined with the record separator ``\\x1e`` and binary packets are written ``b<base64>``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import IntEnum

from ..exceptions import RemoteProtocolError

RECORD_SEPARATOR = "\x1e"
PROTOCOL_VERSION = "4"


class EnginePacketType(IntEnum):
    """Engine.IO packet types with their wire numbers."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPE_BY_CHAR = {str(int(t)): t for t in EnginePacketType}


@dataclass(frozen=True, slots=True)
class EnginePacket:
    """One Engine.IO packet; ``data`` is ``bytes`` only for binary MESSAGE packets."""

    type: EnginePacketType
    data: str | bytes = ""

    def encode(self) -> str | bytes:
        """Wire form for WebSocket: text, or the raw bytes of a binary message."""
        if isinstance(self.data, bytes):
            return self.data
        return f"{int(self.type)}{self.data}"


def decode_packet(message: str | bytes) -> EnginePacket:
    """Parse one WebSocket message (text or binary frame) into a packet."""
    if isinstance(message, bytes):
        return EnginePacket(EnginePacketType.MESSAGE, message)
    if not message:
        raise RemoteProtocolError("empty Engine.IO packet")
    packet_type = _TYPE_BY_CHAR.get(message[0])
    if packet_type is None:
        raise RemoteProtocolError(f"unknown Engine.IO packet type {message[0]!r}")
    return EnginePacket(packet_type, message[1:])


def decode_payload(body: str, *, max_packets: int = 10_000) -> list[EnginePacket]:
    """Split a long-polling request body into packets (``b`` prefix means base64 binary).

    Linear in the body; any body raises only RemoteProtocolError. The packet count is
    checked before anything is split (a body of separators costs no list of a million).
    """
    if not body:
        raise RemoteProtocolError("empty polling payload")
    if body.count(RECORD_SEPARATOR) >= max_packets:
        raise RemoteProtocolError(f"polling payload holds more than {max_packets} packets")
    parts = body.split(RECORD_SEPARATOR)
    packets = []
    for part in parts:
        if part[:1] == "b":
            try:
                data = base64.b64decode(part[1:], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise RemoteProtocolError(f"invalid base64 in polling payload: {exc}") from None
            packets.append(EnginePacket(EnginePacketType.MESSAGE, data))
        else:
            packets.append(decode_packet(part))
    return packets


def encode_payload_part(message: str | bytes) -> str:
    """One already-encoded packet in its long-polling form."""
    if isinstance(message, bytes):
        return "b" + base64.b64encode(message).decode("ascii")
    return message


def encode_payload(messages: list[str | bytes]) -> str:
    """Join encoded packets (text, or raw bytes for binary) into one polling payload."""
    return RECORD_SEPARATOR.join(encode_payload_part(m) for m in messages)
