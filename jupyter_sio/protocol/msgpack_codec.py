"""The msgpack parser: Socket.IO packets as ``socket.io-msgpack-parser`` (npm) and
python-socketio's msgpack serializer write them.

Each packet is one binary Engine.IO message holding a msgpack map ``{"type": int, "nsp":
str, "data": ..., "id": int?}``; binary values are msgpack ``bin`` in place, so there are
no placeholders and no attachment messages (types BINARY_EVENT/BINARY_ACK are not used).
Needs the ``msgpack`` package (``pip install "jupyter_sio[msgpack]"``).

The decoder keeps the default parser's guarantees: only RemoteProtocolError or
PayloadTooLarge whatever the input, the same payload shapes, ``max_depth`` nesting, and
sizes bounded before unpacking.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import PayloadTooLarge, RemoteProtocolError
from .sio_codec import MAX_DEPTH, SocketPacket, SocketPacketType, check_payload

try:  # optional: only hubs with parser="msgpack" need it
    import msgpack  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - exercised where msgpack is missing
    msgpack = None

_TYPES = {int(t): t for t in SocketPacketType}
_PLAIN = {SocketPacketType.BINARY_EVENT: SocketPacketType.EVENT,
          SocketPacketType.BINARY_ACK: SocketPacketType.ACK}


def require_msgpack() -> None:
    if msgpack is None:
        raise ImportError('parser="msgpack" needs the msgpack package: '
                          'pip install "jupyter_sio[msgpack]"')


def encode(packet: SocketPacket) -> bytes:
    """One packet as msgpack bytes; TypeError for data msgpack cannot carry."""
    body: dict[str, Any] = {"type": int(packet.type), "data": packet.data, "nsp": packet.namespace}
    if packet.data is None:
        del body["data"]
    if packet.id is not None:
        body["id"] = packet.id
    _check_depth(packet.data, TypeError)
    try:
        return msgpack.packb(body, use_bin_type=True)  # type: ignore[no-any-return, union-attr]
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"cannot send this data with the msgpack parser: {exc}") from None


def encode_event(namespace: str, data: list[Any] | tuple[Any, ...], ack_id: int | None = None
                 ) -> bytes:
    return encode(SocketPacket(SocketPacketType.EVENT, namespace, list(data), ack_id))


def _check_depth(data: Any, error: type[Exception]) -> None:
    """Iteratively: no recursion, whatever the nesting."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (list, tuple, dict)):
            if depth > MAX_DEPTH:
                raise error(f"data nests deeper than MAX_DEPTH ({MAX_DEPTH}) arrays/maps")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)


def decode(data: bytes) -> SocketPacket:
    """One packet this side encoded (trusted: no size limit)."""
    return MsgpackDecoder(max_bytes=max(len(data), 1)).feed(data)


def _ext(code: int, data: bytes) -> None:
    """notepack.io (the npm parser's msgpack) writes JavaScript's ``undefined`` as ext 0."""
    if code == 0:
        return None
    raise ValueError(f"msgpack extension type {code} is not Socket.IO data")


class MsgpackDecoder:
    """Binary Engine.IO messages to Socket.IO packets (the msgpack parser's decoder).

    A text message means the client uses the default parser: RemoteProtocolError with
    ``text_from_default_parser`` set, so the hub can say so in the client's terms.
    """

    __slots__ = ("max_bytes",)

    waiting = False  # no packet ever waits for attachments

    def __init__(self, *, max_bytes: int = 1_000_000, **_: Any) -> None:
        require_msgpack()
        self.max_bytes = max_bytes

    def feed(self, message: str | bytes) -> SocketPacket:
        if isinstance(message, str):
            raise RemoteProtocolError("a text message: the client uses the default Socket.IO "
                                      "parser, this hub the msgpack parser")
        if len(message) > self.max_bytes:
            raise PayloadTooLarge(f"packet of {len(message)} bytes exceeds {self.max_bytes}")
        try:
            body = msgpack.unpackb(  # type: ignore[union-attr]
                message, raw=False, strict_map_key=True, use_list=True,
                max_str_len=self.max_bytes, max_bin_len=self.max_bytes,
                max_array_len=self.max_bytes, max_map_len=self.max_bytes, max_ext_len=8,
                ext_hook=_ext,
            )
        except Exception:  # msgpack raises several kinds (ValueError, ExtraData, StackError…)
            raise RemoteProtocolError("invalid msgpack Socket.IO packet") from None
        if not isinstance(body, dict):
            raise RemoteProtocolError("a msgpack Socket.IO packet is a map")
        ptype = _TYPES.get(body.get("type"))  # type: ignore[arg-type]
        namespace = body.get("nsp", "/")
        ack_id = body.get("id")
        data = body.get("data")
        if ptype is None or type(body.get("type")) is not int:
            raise RemoteProtocolError("invalid Socket.IO packet type")
        if not isinstance(namespace, str) or not namespace.startswith("/"):
            raise RemoteProtocolError("invalid namespace in a msgpack packet")
        if ack_id is not None and (type(ack_id) is not int or not 0 <= ack_id < 10**15):
            raise RemoteProtocolError("invalid ack id in a msgpack packet")
        _check_depth(data, RemoteProtocolError)
        check_payload(ptype, data)
        return SocketPacket(_PLAIN.get(ptype, ptype), namespace, data, ack_id)

    def feed_whole(self, text: str, attachments: tuple[bytes, ...] | list[bytes] = ()
                   ) -> SocketPacket:
        raise RemoteProtocolError("kernel link frames use the default parser")
