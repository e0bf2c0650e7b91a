"""Socket.IO v5 packets, binary placeholders and attachment assembly.

Spec: https://socket.io/docs/v4/socket-io-protocol/ . Text form::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]

Binary values anywhere in the data (``bytes``, ``bytearray``, ``memoryview``) are replaced
by ``{"_placeholder": true, "num": i}`` and sent as separate binary Engine.IO messages right
after the text packet (types BINARY_EVENT / BINARY_ACK). The receiving side collects exactly
that many attachments before it has a packet; :class:`PacketDecoder` caps how many it will
wait for (socket.io-parser added the same cap as a security fix, see socket.io#5504).

Hostile input (the hardening issue, found by fuzzing): every JSON document a peer sends is
decoded strictly. ``NaN``/``Infinity`` are refused (``JSON.parse`` refuses them too, and a
reply holding them cannot be encoded); nesting deeper than :data:`MAX_DEPTH` is refused (it
raised ``RecursionError`` in the recursive walks); each binary attachment may be referenced
by one placeholder only (one 560 KB packet naming one attachment 2,000 times made a 1 GB
reply). All of it raises :class:`RemoteProtocolError`. The encoders refuse the same depth
with a ``TypeError``, so what we send our own decoders accept.

JSON encoding (issue 11): the packet encoders use a prebuilt C encoder (no per-call encoder
object, no circular-reference dict: circular data ends in RecursionError, told as too
deep), and ``orjson`` when it is installed (``pip install jupyter_sio[fast]``). orjson's
output is used only where it is the stdlib's byte for byte, up to the spelling of floats
(``1e-7`` for ``1e-07``, ``0.00006103515625`` for ``6.103515625e-05``: the same number, and
the protocol never compares numbers as text). Whatever orjson refuses (ints beyond 64
bits, non-str keys, subclasses of dict/list/str/int/float, bytes, dataclasses, dates, lone
surrogates, deep data) and any output holding ``null`` (orjson writes ``NaN``/``Infinity``
as ``null``; the stdlib refuses them) is encoded by the stdlib, with its result or error.
One difference remains: orjson sends plain ``Enum`` members and ``UUID`` values as their
value, where the stdlib raises ``TypeError``. :func:`use_orjson` switches it (tests run
both ways). Decoding stays with the stdlib scanner: orjson turns ints beyond 64 bits into
floats and refuses lone surrogate escapes, and saves ~0.1 µs on a typical packet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate
from typing import Any, NoReturn

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

#: Arrays/objects a packet's JSON may nest (the event array itself is one level). Real data
#: nests a handful of levels; 100 leaves room for deep documents and stays far below the
#: ~1,000 Python frames where the C JSON codec and the walks here raise RecursionError.
MAX_DEPTH = 100

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_TOO_DEEP = (
    f"cannot send this data as JSON: it nests deeper than MAX_DEPTH ({MAX_DEPTH}) "
    "arrays/objects (or is circular)"
)


def refuse_constant(name: str) -> NoReturn:
    """``parse_constant`` hook: ``NaN``/``Infinity`` are not JSON. The C scanner calls it only
    when such a token appears, so it costs nothing otherwise."""
    raise RemoteProtocolError(f"{name} is not valid JSON (JSON.parse refuses it)")


_decoder = json.JSONDecoder(parse_constant=refuse_constant)
_loads = _decoder.decode
#: the C scanner itself: one JSON value from a position of a text (no slice, no checks)
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def _make_stdlib_encode() -> Callable[[Any], str]:
    """``_dumps`` without its per-call cost: the C encoder built once, and no dict of the
    objects being encoded (circular data then ends in RecursionError: refused as too deep).
    Falls back to ``_dumps`` where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _dumps
    encoder = make(
        None,
        json.JSONEncoder().default,
        json.encoder.encode_basestring,
        None,
        ":",
        ",",
        False,
        False,
        False,
    )

    def encode(data: Any) -> str:
        return "".join(encoder(data, 0))

    return encode


_stdlib_encode = _make_stdlib_encode()

try:
    import orjson as _orjson
except ImportError:  # the [fast] extra is optional
    _orjson = None  # type: ignore[assignment]

#: what orjson must hand to the stdlib instead of encoding itself (see the module docstring)
_ORJSON_OPTIONS = (
    0
    if _orjson is None
    else _orjson.OPT_PASSTHROUGH_SUBCLASS
    | _orjson.OPT_PASSTHROUGH_DATACLASS
    | _orjson.OPT_PASSTHROUGH_DATETIME
)


def _orjson_encode(data: Any) -> str:
    raw = _orjson.dumps(data, option=_ORJSON_OPTIONS)
    if b"null" in raw:  # maybe a NaN or an Infinity, which orjson writes as null
        return _stdlib_encode(data)
    return raw.decode()


#: the packet encoders' JSON (see :func:`use_orjson`)
_encode_json: Callable[[Any], str] = _stdlib_encode


def use_orjson(enabled: bool = True) -> bool:
    """Encode packets' JSON with orjson (``enabled`` and installed) or the stdlib; returns
    whether orjson is now used. On by default when orjson is importable."""
    global _encode_json
    _encode_json = _orjson_encode if enabled and _orjson is not None else _stdlib_encode
    return _encode_json is _orjson_encode


use_orjson()

# The structure of a JSON text with strings taken out, at C speed on the UTF-8 bytes (no
# multi-byte sequence holds an ASCII byte): brackets become "(" / ")", quotes stay to find
# the strings, every other byte goes.
_MARKS = bytes.maketrans(b"[{]}", b"(())")
_NOT_MARKS = bytes(sorted(set(range(256)) - set(b'[]{}"')))
_STEP = tuple(1 if b == ord("(") else -1 if b == ord(")") else 0 for b in range(256))
_PEEL_PASSES = 8


def _marks(text: str) -> bytes:
    """The brackets and string quotes of valid JSON ``text``, escaped quotes dropped."""
    data = text.encode("utf-8", "surrogatepass")
    # (memchr for a backslash first: a two-byte search is ten times slower)
    if b"\\" in data and b'\\"' in data:  # else every quote delimits a string
        # "\\" pairs go first, so a backslash left starts an escape and "\"" is a quote
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    return data.translate(_MARKS, _NOT_MARKS)


def _depth_of_marks(marks: bytes) -> int:
    """Strings out (what lies between quotes), then each ``replace`` pass peels the innermost
    level; past a few passes (rare, deep data) a running sum measures the rest linearly."""
    marks = marks.replace(b'""', b"")
    if b'"' in marks:
        marks = b"".join(marks.split(b'"')[::2])
    depth = 0
    while marks and depth < _PEEL_PASSES:
        marks = marks.replace(b"()", b"")
        depth += 1
    if marks:
        depth += max(accumulate(map(_STEP.__getitem__, marks)))
    return depth


def json_depth(text: str) -> int:
    """How deep valid JSON ``text`` nests arrays/objects: linear, C speed, no recursion."""
    return _depth_of_marks(_marks(text))


def json_too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether valid JSON ``text`` nests deeper than ``limit``: one ``len()`` for short
    texts (depth d needs 2d characters), else the bracket count bounds it, and only texts
    with more than ``limit`` brackets are measured."""
    if len(text) <= 2 * limit:
        return False
    marks = _marks(text)
    return len(marks) - marks.count(b'"') > limit and _depth_of_marks(marks) > limit


def loads(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """JSON from a peer, strictly: RemoteProtocolError for invalid JSON, ``NaN``/``Infinity``
    or nesting deeper than ``max_depth``. The C scanner does the work; the depth check
    costs one ``len()`` for short texts."""
    try:
        data = _loads(text)
    except (ValueError, RecursionError):
        raise RemoteProtocolError("invalid JSON in Socket.IO packet") from None
    if json_too_deep(text, max_depth):
        raise RemoteProtocolError(f"JSON in Socket.IO packet nests deeper than {max_depth} levels")
    return data


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
    """Compact JSON as JavaScript's ``JSON.stringify`` writes it (UTF-8, no spaces).

    Raises TypeError for what JSON cannot hold, ``NaN``/``Infinity`` and data nested deeper
    than :data:`MAX_DEPTH` (never RecursionError): the emitter's bug, told at once.
    """
    try:
        text = _dumps(data)
    except RecursionError:
        raise TypeError(_TOO_DEEP) from None
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot send this data as JSON: {exc}") from None
    if json_too_deep(text):
        raise TypeError(_TOO_DEEP)
    return text


def _encode_body(data: Any, attachments: list[bytes]) -> str:
    """The JSON of a packet's data, binary values moved to ``attachments``.

    The JSON encoder refuses bytes with a TypeError, so it runs first; the data is walked
    for binary attachments only when it has to be.
    """
    try:
        text = _encode_json(data)
    except (TypeError, ValueError, RecursionError):
        return dumps(deconstruct(data, attachments))
    if json_too_deep(text):
        raise TypeError(_TOO_DEEP)
    return text


def encode_event_packet(
    namespace: str, data: list[Any] | tuple[Any, ...], ack_id: int | None = None
) -> tuple[str, list[bytes]]:
    """An EVENT packet ``[event, *args]``, the hot path of every emit (no packet object)."""
    attachments: list[bytes] = []
    body = _encode_body(data, attachments)
    prefix = f"5{len(attachments)}-" if attachments else "2"
    if namespace != "/":
        prefix += namespace + ","
    if ack_id is not None:
        prefix += str(ack_id)
    return prefix + body, attachments


def encode_ack_packet(
    namespace: str, data: list[Any] | tuple[Any, ...], ack_id: int, *, prefix: str = ""
) -> tuple[str, list[bytes]]:
    """An ACK packet carrying ``data`` (the answer to a client's ack), without a packet
    object: one JSON encode, one string built (after ``prefix``, e.g. Engine.IO's ``4``)."""
    attachments: list[bytes] = []
    body = _encode_body(data, attachments)
    if attachments:
        head = f"{prefix}6{len(attachments)}-"
        if namespace != "/":
            head += namespace + ","
        return f"{head}{ack_id}{body}", attachments
    if namespace == "/":
        return f"{prefix}3{ack_id}{body}", attachments
    return f"{prefix}3{namespace},{ack_id}{body}", attachments


def encode_packet(packet: SocketPacket) -> tuple[str, list[bytes]]:
    """Encode a packet into its text part and the list of binary attachments."""
    data = packet.data
    attachments: list[bytes] = []
    body = None if data is None else _encode_body(data, attachments)
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
    Raises TypeError past :data:`MAX_DEPTH` levels (a placeholder is one), so deep or
    circular data never recurses without bound.
    """
    try:
        return _deconstruct(data, attachments, MAX_DEPTH)
    except RecursionError:  # only if the caller's own stack is nearly full
        raise TypeError(_TOO_DEEP) from None


def _deconstruct(data: Any, attachments: list[bytes], room: int) -> Any:
    """:func:`deconstruct` with ``room`` levels of nesting left."""
    if isinstance(data, _BINARY_TYPES):
        if not room:
            raise TypeError(_TOO_DEEP)
        attachments.append(bytes(data))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(data, (list, tuple)):
        if not room:
            raise TypeError(_TOO_DEEP)
        out = [_deconstruct(item, attachments, room - 1) for item in data]
        if isinstance(data, list) and all(a is b for a, b in zip(out, data, strict=True)):
            return data
        return out
    if isinstance(data, dict):
        if not room:
            raise TypeError(_TOO_DEEP)
        new = {key: _deconstruct(value, attachments, room - 1) for key, value in data.items()}
        if all(new[key] is value for key, value in data.items()):
            return data
        return new
    return data


def reconstruct(data: Any, attachments: list[bytes], *, max_depth: int = MAX_DEPTH) -> Any:
    """Put attachments back where their placeholders are.

    Placeholders are checked as socket.io-parser does, and more strictly: exactly
    ``{"_placeholder": true, "num": <index>}``, each attachment named at most once (clients
    give every binary value its own index), nesting at most ``max_depth`` levels.
    """
    try:
        return _reconstruct(data, attachments, set(), max_depth)
    except RecursionError:  # only if the caller's own stack is nearly full
        raise RemoteProtocolError(f"binary packet nests deeper than {max_depth} levels") from None


def _reconstruct(data: Any, attachments: list[bytes], used: set[int], room: int) -> Any:
    """:func:`reconstruct` with ``room`` levels left and the attachment indexes ``used``."""
    if isinstance(data, list):
        if not room:
            raise RemoteProtocolError("binary packet nests too deep")
        return [_reconstruct(item, attachments, used, room - 1) for item in data]
    if isinstance(data, dict):
        if not room:
            raise RemoteProtocolError("binary packet nests too deep")
        if data.get("_placeholder") is True:
            return _attachment(data, attachments, used)
        return {
            key: _reconstruct(value, attachments, used, room - 1) for key, value in data.items()
        }
    return data


def _attachment(placeholder: dict[str, Any], attachments: list[bytes], used: set[int]) -> bytes:
    """The attachment a placeholder names; RemoteProtocolError unless it is one unused index."""
    num = placeholder.get("num")
    if type(num) is not int or len(placeholder) != 2:
        raise RemoteProtocolError(
            f"invalid binary placeholder: keys {sorted(placeholder)[:4]}, num of type "
            f"{type(num).__name__}"
        )
    if not 0 <= num < len(attachments):
        raise RemoteProtocolError(f"binary placeholder {num} has no attachment")
    if num in used:
        raise RemoteProtocolError(f"binary placeholder {num} is referenced twice")
    used.add(num)
    return attachments[num]


_TYPE_OF_CHAR = {str(int(t)): t for t in SocketPacketType}
_ASCII_DIGITS = frozenset("0123456789")  # str.isdigit() also accepts "²" and "٣"
MAX_ACK_ID_DIGITS = 15


_EVENT, _ACK = SocketPacketType.EVENT, SocketPacketType.ACK


def decode_plain(
    text: str, max_depth: int = MAX_DEPTH
) -> tuple[SocketPacketType, str, Any, int | None] | None:
    """The common case at C speed: a valid EVENT or ACK text packet without attachments, as
    ``(type, namespace, data, ack id)``; ``None`` for anything else (then the general
    :func:`_decode_text` decides, and raises if it is invalid). Same result as that one:
    the JSON is scanned in place, the ack id must be plain ASCII digits."""
    head = text[:1]
    if head == "2":
        ptype = _EVENT
    elif head == "3":
        ptype = _ACK
    else:
        return None
    namespace = "/"
    pos = 1
    if text[1:2] == "/":
        pos = text.find(",", 1) + 1
        if not pos:
            return None
        namespace = text[1 : pos - 1]
    start = text.find("[", pos)  # EVENT and ACK data are arrays
    if start < 0:
        return None
    ack_id = None
    if start > pos:
        digits = text[pos:start]
        if len(digits) > MAX_ACK_ID_DIGITS or not (digits.isascii() and digits.isdigit()):
            return None
        ack_id = int(digits)
    try:
        data, end = _scan(text, start)
    except (ValueError, StopIteration, RecursionError, RemoteProtocolError):
        return None
    if end != len(text) or (
        len(text) - start > 2 * max_depth and json_too_deep(text[start:], max_depth)
    ):
        return None
    if ptype is _EVENT:
        if not data:
            return None
        name = data[0]
        kind = type(name)
        if not ((kind is str and name not in RESERVED_EVENTS) or kind is int):
            return None
    return ptype, namespace, data, ack_id


def _decode_text(text: str, max_depth: int = MAX_DEPTH) -> tuple[SocketPacket, int]:
    """Parse the text part of a packet; returns the packet and its attachment count."""
    plain = decode_plain(text, max_depth)
    if plain is not None:
        return SocketPacket(*plain), 0
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
    data = None if pos == end else loads(text[pos:], max_depth=max_depth)
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
    packet once one is complete, else ``None``. Limits: ``max_attachments`` per packet,
    ``max_bytes`` of attachments buffered for one packet, ``max_depth`` levels of JSON
    nesting (keep it at most :data:`MAX_DEPTH`, or decoded data may not encode again).
    Whatever the input, :meth:`feed` raises only RemoteProtocolError or PayloadTooLarge.
    """

    __slots__ = (
        "_attachments",
        "_expected",
        "_pending",
        "_size",
        "max_attachments",
        "max_bytes",
        "max_depth",
    )

    def __init__(
        self, *, max_attachments: int = 10, max_bytes: int = 1_000_000, max_depth: int = MAX_DEPTH
    ) -> None:
        self.max_attachments = max_attachments
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._pending: SocketPacket | None = None
        self._attachments: list[bytes] = []
        self._expected = 0
        self._size = 0

    @property
    def waiting(self) -> bool:
        """Whether a binary packet is waiting for more attachments."""
        return self._pending is not None

    def feed_whole(
        self, text: str, attachments: tuple[bytes, ...] | list[bytes] = ()
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

    def feed_plain(self, text: str) -> tuple[SocketPacketType, str, Any, int | None] | None:
        """:func:`decode_plain` of a text message when no binary packet is waiting: the
        hub's hot path; ``None`` means :meth:`feed` it."""
        if self._pending is not None:
            return None
        return decode_plain(text, self.max_depth)

    def feed(self, message: str | bytes) -> SocketPacket | None:
        if isinstance(message, str):
            if self._pending is not None:
                raise RemoteProtocolError("text packet received while binary attachments were due")
            packet, count = _decode_text(message, self.max_depth)
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
        data = reconstruct(packet.data, attachments, max_depth=self.max_depth)
        return SocketPacket(packet.type, packet.namespace, data, packet.id)


#: The payload shapes socket.io-parser accepts per packet type (the msgpack parser too).
check_payload = _check_payload
