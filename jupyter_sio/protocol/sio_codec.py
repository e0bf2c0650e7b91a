"""Socket.IO v5 packets, binary placeholders and attachment assembly.

Spec: https://socket.io/docs/v4/socket-io-protocol/ . Text form::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]

Binary values anywhere in the data (``bytes``, ``bytearray``, ``memoryview``) are replaced
by ``{"_placeholder": true, "num": i}`` and sent as separate binary Engine.IO messages right
after the text packet (types BINARY_EVENT / BINARY_ACK). The receiving side collects exactly
that many attachments before it has a packet; :class:`PacketDecoder` caps how many it will
wait for (socket.io-parser added the same cap as a security fix, see socket.io#5504).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ..exceptions import LocalProtocolError, PayloadTooLarge, RemoteProtocolError


class SocketPacketType(IntEnum):
    """Socket.IO packet types with their wire numbers."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


#: Event names a peer may not use: they name the library's own lifecycle events.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

_BINARY_OF = {
    SocketPacketType.EVENT: SocketPacketType.BINARY_EVENT,
    SocketPacketType.ACK: SocketPacketType.BINARY_ACK,
}
_PLAIN_OF = {v: k for k, v in _BINARY_OF.items()}
_BINARY_TYPES = (bytes, bytearray, memoryview)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_loads = json.loads


@dataclass(frozen=True, slots=True)
class SocketPacket:
    """A decoded Socket.IO packet, binary attachments already put back in place.

    ``type`` is always EVENT/ACK for binary packets: whether a packet needs the BINARY_*
    framing is an encoding detail decided by :func:`encode_packet`.
    """

    type: SocketPacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None


def dumps(data: Any) -> str:
    """Compact JSON as JavaScript's ``JSON.stringify`` writes it (UTF-8, no spaces)."""
    try:
        return _dumps(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot send this data as JSON: {exc}") from None


def encode_event_packet(
    namespace: str, data: list[Any] | tuple[Any, ...], ack_id: int | None = None
) -> tuple[str, list[bytes]]:
    """An EVENT packet ``[event, *args]``, the hot path of every emit (no packet object).

    The C JSON encoder refuses bytes with a TypeError, so it runs first; the data is
    walked for binary attachments only when it has to be.
    """
    attachments: list[bytes] = []
    try:
        body = _dumps(data)
        prefix = "2"
    except (TypeError, ValueError):
        body = dumps(deconstruct(data, attachments))
        prefix = f"5{len(attachments)}-" if attachments else "2"
    if namespace != "/":
        prefix += namespace + ","
    if ack_id is not None:
        prefix += str(ack_id)
    return prefix + body, attachments


def encode_packet(packet: SocketPacket) -> tuple[str, list[bytes]]:
    """Encode a packet into its text part and the list of binary attachments."""
    data = packet.data
    attachments: list[bytes] = []
    body = None
    if data is not None:
        # Fast path: most data holds no binary value, and the C encoder refuses bytes with
        # a TypeError, so try it first and walk the data for attachments only then.
        try:
            body = _dumps(data)
        except (TypeError, ValueError):
            body = dumps(deconstruct(data, attachments))
    ptype = packet.type
    if attachments:
        ptype = _BINARY_OF.get(ptype, ptype)
        if ptype not in _PLAIN_OF:
            raise LocalProtocolError(f"{packet.type.name} packets cannot carry binary data")
    parts = [str(int(ptype))]
    if attachments:
        parts.append(f"{len(attachments)}-")
    if packet.namespace != "/":
        parts.append(packet.namespace + ",")
    if packet.id is not None:
        parts.append(str(packet.id))
    if body is not None:
        parts.append(body)
    return "".join(parts), attachments


def deconstruct(data: Any, attachments: list[bytes]) -> Any:
    """Replace binary values with placeholders, appending them to ``attachments``.

    Returns ``data`` itself (no copy) when it holds no binary value, the common case.
    """
    if isinstance(data, _BINARY_TYPES):
        attachments.append(bytes(data))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(data, (list, tuple)):
        out = [deconstruct(item, attachments) for item in data]
        if isinstance(data, list) and all(a is b for a, b in zip(out, data, strict=True)):
            return data
        return out
    if isinstance(data, dict):
        new = {key: deconstruct(value, attachments) for key, value in data.items()}
        if all(new[key] is value for key, value in data.items()):
            return data
        return new
    return data


def reconstruct(data: Any, attachments: list[bytes]) -> Any:
    """Put attachments back where their placeholders are."""
    if isinstance(data, list):
        return [reconstruct(item, attachments) for item in data]
    if isinstance(data, dict):
        if data.get("_placeholder") is True and "num" in data:
            num = data["num"]
            if type(num) is not int or not 0 <= num < len(attachments):
                raise RemoteProtocolError(f"binary placeholder {num!r} has no attachment")
            return attachments[num]
        return {key: reconstruct(value, attachments) for key, value in data.items()}
    return data


_TYPE_OF_CHAR = {str(int(t)): t for t in SocketPacketType}
_ASCII_DIGITS = frozenset("0123456789")  # str.isdigit() also accepts "²" and "٣"
MAX_ACK_ID_DIGITS = 15


def _decode_text(text: str) -> tuple[SocketPacket, int]:
    """Parse the text part of a packet; returns the packet and its attachment count."""
    ptype = _TYPE_OF_CHAR.get(text[:1])
    if ptype is None:
        raise RemoteProtocolError(f"invalid Socket.IO packet type in {text[:16]!r}")
    pos, end = 1, len(text)
    attachments = 0
    if ptype in _PLAIN_OF:
        dash = text.find("-", pos, pos + 7)  # at most 6 digits
        count = text[pos:dash]
        if dash < 0 or not count or not _ASCII_DIGITS.issuperset(count):
            raise RemoteProtocolError("binary packet without a valid attachment count")
        attachments, pos = int(count), dash + 1
    namespace = "/"
    if pos < end and text[pos] == "/":
        comma = text.find(",", pos)
        if comma < 0:
            namespace, pos = text[pos:], end
        else:
            namespace, pos = text[pos:comma], comma + 1
    start = pos
    while pos < end and text[pos] in _ASCII_DIGITS:
        pos += 1
        if pos - start > MAX_ACK_ID_DIGITS:
            raise RemoteProtocolError("ack id too long")
    ack_id = int(text[start:pos]) if pos > start else None
    data = None
    if pos < end:
        try:
            data = _loads(text[pos:])
        except (ValueError, RecursionError):
            raise RemoteProtocolError("invalid JSON in Socket.IO packet") from None
    _check_payload(ptype, data)
    ptype = _PLAIN_OF.get(ptype, ptype)
    return SocketPacket(ptype, namespace, data, ack_id), attachments


def _check_payload(ptype: SocketPacketType, data: Any) -> None:
    """The payload shapes socket.io-parser accepts, per packet type."""
    if ptype is SocketPacketType.CONNECT:
        ok = data is None or isinstance(data, dict)
    elif ptype is SocketPacketType.DISCONNECT:
        ok = data is None
    elif ptype is SocketPacketType.CONNECT_ERROR:
        ok = isinstance(data, (str, dict))
    elif ptype in (SocketPacketType.EVENT, SocketPacketType.BINARY_EVENT):
        ok = (
            isinstance(data, list)
            and len(data) > 0
            and (
                (isinstance(data[0], str) and data[0] not in RESERVED_EVENTS)
                or (isinstance(data[0], int) and not isinstance(data[0], bool))
            )
        )
    else:
        ok = isinstance(data, list)
    if not ok:
        raise RemoteProtocolError(f"invalid payload for a {ptype.name} packet")


class PacketDecoder:
    """Turns Engine.IO messages into Socket.IO packets, assembling binary attachments.

    Feed every inbound Engine.IO MESSAGE (text or bytes) to :meth:`feed`; it returns a
    packet once one is complete, else ``None``. Limits: ``max_attachments`` per packet and
    ``max_bytes`` of attachments buffered for one packet.
    """

    __slots__ = ("_attachments", "_expected", "_pending", "_size", "max_attachments", "max_bytes")

    def __init__(self, *, max_attachments: int = 10, max_bytes: int = 1_000_000) -> None:
        self.max_attachments = max_attachments
        self.max_bytes = max_bytes
        self._pending: SocketPacket | None = None
        self._attachments: list[bytes] = []
        self._expected = 0
        self._size = 0

    @property
    def waiting(self) -> bool:
        """Whether a binary packet is waiting for more attachments."""
        return self._pending is not None

    def feed_whole(self, text: str, attachments: tuple[bytes, ...] | list[bytes] = ()
                   ) -> SocketPacket:
        """A packet that arrived whole (a kernel link frame carries its attachments):
        raises RemoteProtocolError if the attachments do not complete it."""
        packet = self.feed(text)
        for blob in attachments:
            if packet is not None:
                raise RemoteProtocolError("more attachments than the packet announces")
            packet = self.feed(blob)
        if packet is None:
            self._pending, self._attachments, self._size = None, [], 0
            raise RemoteProtocolError("fewer attachments than the packet announces")
        return packet

    def feed(self, message: str | bytes) -> SocketPacket | None:
        if isinstance(message, str):
            if self._pending is not None:
                raise RemoteProtocolError("text packet received while binary attachments were due")
            packet, count = _decode_text(message)
            if count == 0:
                return packet
            if count > self.max_attachments:
                raise PayloadTooLarge(
                    f"packet announces {count} binary attachments; max_attachments is "
                    f"{self.max_attachments}"
                )
            self._pending, self._expected = packet, count
            self._attachments, self._size = [], 0
            return None
        if self._pending is None:
            raise RemoteProtocolError("binary data received without a binary packet header")
        self._size += len(message)
        if self._size > self.max_bytes:
            raise PayloadTooLarge(f"binary attachments exceed {self.max_bytes} bytes (max_payload)")
        self._attachments.append(message)
        if len(self._attachments) < self._expected:
            return None
        packet, attachments = self._pending, self._attachments
        self._pending, self._attachments, self._size = None, [], 0
        return SocketPacket(
            packet.type, packet.namespace, reconstruct(packet.data, attachments), packet.id
        )
