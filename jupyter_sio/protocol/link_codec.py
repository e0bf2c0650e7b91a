"""The kernel link's wire format: small frames, batched, with Socket.IO packets inside.

Kernels are server-side peers of the hub, not Socket.IO clients of it, so they speak a
protocol of their own over their authenticated WebSocket (``<base_url>jupyter-sio/kernel``).
Every WebSocket **text message** holds one or more frames separated by ``"\\n"``::

    <kind> TAB <header: compact JSON object> [TAB <payload>]

and every **binary message** is an attachment of the last frame of the text message before
it (its header says how many, ``"n"``). The payload is text that never holds a raw newline:
a Socket.IO packet as :func:`~jupyter_sio.protocol.sio_codec.encode_packet` writes it (the
JSON is escaped; namespaces with control characters are refused), or a JSON array.

Why this shape: an emit travels as the Socket.IO packet the kernel already encoded, so the
hub reads only the header (a few bytes, cached when it repeats, as it does in a loop) and
writes the packet to each recipient without decoding its arguments; a loop of emits is one
WebSocket message. Frames (kernel → hub / hub → kernel):

===============  ===========================================================================
``hello``        ``{v, kernel?, rooms: [[ns, room]...], handlers: [[ns, event, rooms?]...]}``
``emit``         ``{ns, to?, ex?, v?, k?, r?, self?, n?}`` + EVENT packet: broadcast
``call``         ``{id, ns, sid, at, timeout?, n?}`` + EVENT packet without its ack id (the hub
                 inserts one at offset ``at``): emit with ack to one socket
``send``         ``{n?}`` + any packet, from the kernel's own socket as a client would send it
                 (``sio.request``: hub handlers and other kernels answer)
``join`` /       ``{ns, rooms, sids?}``: the kernel's own socket, or the sockets ``sids``
``leave``
``sockets``      ``{id, ns, room?}``: who is there
``disconnect``   ``{ns, sids, close?}``
``handle`` /     ``{ns, events, rooms?}`` / ``{ns, events?}``: route client events here
``unhandle``
``clear``        ``{ns, room?, key?}``: forget retained values
``status``       ``{id, detail?}``
``resolve``      ``{id, ns}``: does the namespace exist (emits to it are then safe)
``answer``       ``{id, n?, error?}`` + JSON array of ack arguments: the kernel's answer to
                 an ``event``
``pong``         ``{}``
``welcome``      ``{sid, max_payload, max_message, ping_interval, ping_timeout, rooms}``
``result``       ``{id, error?: {type, message}, ...}`` [+ JSON array]: a command's outcome
``event``        ``{ns, sid, user, display_name, id?, n?}`` + JSON ``[event, *args]``: a client
                 event this kernel handles (``id``: the client wants an answer)
``deliver``      ``{n?}`` + packet: a packet for the kernel's own socket (room broadcast, ack)
``notice``       ``{type, message}``: a failure of a command that had no id
``ping``         ``{}``
===============  ===========================================================================
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..exceptions import LocalProtocolError, PayloadTooLarge, RemoteProtocolError
from .sio_codec import MAX_DEPTH, json_too_deep, refuse_constant

#: Version of the link protocol, checked in ``hello``.
LINK_VERSION = 1

#: Headers of the link's WebSocket handshake: the kernel secret (never in the URL, which
#: proxies log), the kernel id and the notebook session name.
TOKEN_HEADER = "X-Jupyter-Sio-Token"
KERNEL_HEADER = "X-Jupyter-Sio-Kernel"
SESSION_HEADER = "X-Jupyter-Sio-Session"

FRAME_SEPARATOR = "\n"
FIELD_SEPARATOR = "\t"


class LinkKind(str, Enum):
    """Frame kinds with their wire names."""

    HELLO = "hello"
    EMIT = "emit"
    CALL = "call"
    SEND = "send"
    JOIN = "join"
    LEAVE = "leave"
    SOCKETS = "sockets"
    DISCONNECT = "disconnect"
    HANDLE = "handle"
    UNHANDLE = "unhandle"
    CLEAR = "clear"
    STATUS = "status"
    RESOLVE = "resolve"
    ANSWER = "answer"
    PONG = "pong"
    BYE = "bye"  # the kernel closes on purpose: the hub keeps no session for it
    WELCOME = "welcome"
    RESULT = "result"
    EVENT = "event"
    DELIVER = "deliver"
    NOTICE = "notice"
    PING = "ping"


#: Frames each side may send (the other side refuses the rest).
FROM_KERNEL = frozenset(
    {
        LinkKind.HELLO,
        LinkKind.EMIT,
        LinkKind.CALL,
        LinkKind.SEND,
        LinkKind.JOIN,
        LinkKind.LEAVE,
        LinkKind.SOCKETS,
        LinkKind.DISCONNECT,
        LinkKind.HANDLE,
        LinkKind.UNHANDLE,
        LinkKind.CLEAR,
        LinkKind.STATUS,
        LinkKind.RESOLVE,
        LinkKind.ANSWER,
        LinkKind.PONG,
        LinkKind.BYE,
    }
)
FROM_HUB = frozenset(
    {
        LinkKind.WELCOME,
        LinkKind.RESULT,
        LinkKind.EVENT,
        LinkKind.DELIVER,
        LinkKind.NOTICE,
        LinkKind.PING,
    }
)

_KINDS = {k.value: k for k in LinkKind}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

#: Headers longer than this are parsed every time, never cached (bounds the cache's memory).
MAX_CACHED_HEADER = 1024
_INT64 = range(-(2**63), 2**63)


def _header_float(text: str) -> float:
    """``1e999`` parses as infinity, which ``int()`` in a handler turns into OverflowError."""
    value = float(text)
    if not math.isfinite(value):
        raise RemoteProtocolError(f"link header number {text[:40]} is out of range")
    return value


def _header_int(text: str) -> int:
    """Header integers are ids, counts and offsets: 64 bits (``float()`` of more overflows)."""
    value = int(text)
    if value not in _INT64:
        raise RemoteProtocolError(f"link header integer {text[:40]} is out of range")
    return value


# Only small numbers parse through these hooks: headers are a few fields, and cached.
_parse_header = json.JSONDecoder(
    parse_constant=refuse_constant, parse_float=_header_float, parse_int=_header_int
).decode


@dataclass(frozen=True, slots=True)
class LinkFrame:
    """One decoded frame. ``header`` is shared by frames with the same header text: read it,
    never change it."""

    kind: LinkKind
    header: dict[str, Any]
    payload: str | None = None
    attachments: tuple[bytes, ...] = field(default=())
    #: the header as it was on the wire (a cache key for routes built from it)
    raw_header: str = ""


def encode_header(header: dict[str, Any]) -> str:
    """Compact JSON of a header (raises TypeError for what JSON cannot hold, or for nesting
    the other side's decoder refuses)."""
    try:
        text = _dumps(header)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"link header cannot be encoded: {exc}") from None
    if json_too_deep(text):
        raise TypeError(f"link header nests deeper than MAX_DEPTH ({MAX_DEPTH}) levels")
    return text


def encode_frame(kind: LinkKind, header: str | dict[str, Any], payload: str | None = None) -> str:
    """One frame as text (no separator). ``header`` may be already encoded (cached)."""
    text = header if isinstance(header, str) else encode_header(header)
    if payload is None:
        return f"{kind.value}\t{text}"
    if FRAME_SEPARATOR in payload:
        raise LocalProtocolError("a link payload cannot hold a raw newline")
    return f"{kind.value}\t{text}\t{payload}"


def join_frames(frames: list[str]) -> str:
    """The text message carrying ``frames`` in order."""
    return FRAME_SEPARATOR.join(frames)


def parse_header(text: str) -> dict[str, Any]:
    """A frame header, strictly: a JSON object without ``NaN``/``Infinity``, numbers that
    fit 64 bits / a float, nesting at most :data:`MAX_DEPTH`; else RemoteProtocolError."""
    try:
        header = _parse_header(text)
    except (ValueError, RecursionError):
        raise RemoteProtocolError(f"link frame header is not JSON: {text[:40]!r}") from None
    if not isinstance(header, dict):
        raise RemoteProtocolError("link frame header must be a JSON object")
    if json_too_deep(text):
        raise RemoteProtocolError(f"link frame header nests deeper than {MAX_DEPTH} levels")
    return header


class HeaderCache:
    """Parsed headers by their text: a loop of emits repeats one header, parsed once.

    Bounded: past ``size`` entries it starts again, and only headers up to
    :data:`MAX_CACHED_HEADER` characters are kept (a peer sending ever-new or huge headers
    costs one parse each, never unbounded memory)."""

    __slots__ = ("_parsed", "size")

    def __init__(self, size: int = 512) -> None:
        self._parsed: dict[str, dict[str, Any]] = {}
        self.size = size

    def parse(self, text: str) -> dict[str, Any]:
        header = self._parsed.get(text)
        if header is None:
            header = parse_header(text)
            # a request's header is never seen again
            if len(text) <= MAX_CACHED_HEADER and '"id":' not in text:
                if len(self._parsed) >= self.size:
                    self._parsed.clear()
                self._parsed[text] = header
        return header


class LinkDecoder:
    """Turns WebSocket messages into frames, attaching binary messages to their frame.

    Limits, each a clean :class:`RemoteProtocolError` / :class:`PayloadTooLarge`:
    ``max_frames`` per text message, ``max_attachments`` per frame, ``max_bytes`` of
    attachments buffered for one frame. ``accept`` is the set of kinds this side takes.
    """

    __slots__ = (
        "_attachments",
        "_cache",
        "_expected",
        "_pending",
        "_size",
        "accept",
        "max_attachments",
        "max_bytes",
        "max_frames",
    )

    def __init__(
        self,
        accept: frozenset[LinkKind],
        *,
        max_frames: int = 10_000,
        max_attachments: int = 1000,
        max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.accept = accept
        self.max_frames = max_frames
        self.max_attachments = max_attachments
        self.max_bytes = max_bytes
        self._cache = HeaderCache()
        self._pending: LinkFrame | None = None
        self._attachments: list[bytes] = []
        self._expected = 0
        self._size = 0

    @property
    def waiting(self) -> bool:
        """Whether a frame still waits for binary attachments."""
        return self._pending is not None

    def feed(self, message: str | bytes) -> list[LinkFrame]:
        """Complete frames from one WebSocket message, in order."""
        if isinstance(message, str):
            if self._pending is not None:
                raise RemoteProtocolError("link text message while binary attachments were due")
            return self._feed_text(message)
        if self._pending is None:
            raise RemoteProtocolError("link binary message without a frame announcing it")
        self._size += len(message)
        if self._size > self.max_bytes:
            raise PayloadTooLarge(f"link attachments exceed {self.max_bytes} bytes")
        self._attachments.append(bytes(message))
        if len(self._attachments) < self._expected:
            return []
        frame, attachments = self._pending, tuple(self._attachments)
        self._pending, self._attachments, self._size = None, [], 0
        return [
            LinkFrame(frame.kind, frame.header, frame.payload, attachments, frame.raw_header)
        ]

    def _feed_text(self, message: str) -> list[LinkFrame]:
        count = message.count(FRAME_SEPARATOR) + 1  # counted before anything is allocated
        if count > self.max_frames:
            raise PayloadTooLarge(f"link message holds {count} frames; at most {self.max_frames}")
        lines = message.split(FRAME_SEPARATOR)
        frames: list[LinkFrame] = []
        last = len(lines) - 1
        parse = self._cache.parse
        for index, line in enumerate(lines):
            name, _, rest = line.partition(FIELD_SEPARATOR)
            kind = _KINDS.get(name)
            if kind is None or kind not in self.accept:
                raise RemoteProtocolError(f"unexpected link frame kind {name[:20]!r}")
            raw, sep, payload = rest.partition(FIELD_SEPARATOR)
            header = parse(raw)
            frame = LinkFrame(kind, header, payload if sep else None, (), raw)
            count = header.get("n", 0)
            if count:
                if type(count) is not int or count < 0:
                    raise RemoteProtocolError(f"invalid attachment count {count!r}")
                if count > self.max_attachments:
                    raise PayloadTooLarge(
                        f"link frame announces {count} attachments; at most {self.max_attachments}"
                    )
                if index != last:
                    raise RemoteProtocolError("only the last frame of a message has attachments")
                self._pending, self._expected = frame, count
                self._attachments, self._size = [], 0
                break
            frames.append(frame)
        return frames


def ack_insert_offset(packet_text: str) -> int:
    """Where the ack id goes in an EVENT packet encoded without one (after type,
    attachment count and namespace): the hub splices its own id there."""
    pos = 1
    if packet_text[:1] == "5":
        pos = packet_text.index("-") + 1
    if packet_text[pos : pos + 1] == "/":
        pos = packet_text.index(",", pos) + 1
    return pos


def error_header(exc: BaseException) -> dict[str, str]:
    """How an exception crosses the link: its class name and message."""
    return {"type": type(exc).__name__, "message": str(exc)}
