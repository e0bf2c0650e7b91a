"""HTTP/1.1 requests, server side, sans-IO: bytes in, events out (RFC 9112).

Feed what the socket gave (:meth:`RequestParser.feed`), then take events until
:data:`NEED_DATA`: a :class:`RequestHead`, its body as :class:`Data` (Content-Length or
chunked, already de-chunked), then :data:`END`. The next request of a kept-alive (or
pipelined) connection follows in the same way. Nothing here reads a clock or touches a
socket: timeouts and writes belong to the I/O layer.

The parser never raises into the I/O layer: a request it will not take is a
:class:`Malformed` event carrying the status to answer with (then the connection must be
closed; the parser stays in that state). It refuses what lets two parsers disagree about
where a request ends (request smuggling, RFC 9112 §6.3 and §11.2): Transfer-Encoding
together with Content-Length, conflicting or malformed Content-Lengths, a transfer coding
other than ``chunked``, Transfer-Encoding in HTTP/1.0, obsolete line folding, bare CR/LF,
whitespace before a header's colon, and more than one Host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final
from urllib.parse import unquote_plus

__all__ = [
    "END",
    "NEED_DATA",
    "Data",
    "Event",
    "Malformed",
    "RequestHead",
    "RequestParser",
    "parse_query",
    "split_target",
]

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_REQUEST_LINE = re.compile(rf"({_TOKEN}) ([^\x00-\x20\x7f]+) HTTP/([0-9])\.([0-9])")
# RFC 9110 §5.5: field-value is visible characters, SP, HTAB and obs-text; OWS around it.
_FIELD = re.compile(rf"({_TOKEN}):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*")
# The whole header block at once (each line CRLF-terminated): one regex call validates
# every field as _FIELD would (a value cannot hold CR or LF, so no match crosses a line).
_FIELDS = re.compile(rf"(?:{_TOKEN}:[ \t]*[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?")
_MAX_CHUNK_LINE = 4096
_MAX_RECENT = 4  # heads remembered per connection: a polling client alternates GET and POST
_MAX_RECENT_HEAD = 2048


@dataclass(frozen=True, slots=True)
class RequestHead:
    """A request line and its headers.

    ``headers`` maps lower-case names to values (repeated fields joined with ``", "``, as
    RFC 9110 §5.3 allows); ``fields`` keeps each line's name as sent, in order. A parser
    gives the same object again for a head repeated byte for byte: treat ``headers`` as
    read-only.
    """

    method: str
    target: str
    http11: bool
    headers: dict[str, str]
    fields: tuple[tuple[str, str], ...]
    keep_alive: bool
    expect_continue: bool
    content_length: int | None
    chunked: bool

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)


@dataclass(frozen=True, slots=True)
class Data:
    """Some of the request body."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Malformed:
    """A request the parser refuses: answer ``status`` and close the connection."""

    status: int
    reason: str


class _Marker(Enum):
    NEED_DATA = "need data"
    END = "end of request"


#: No complete event in what was fed so far.
NEED_DATA: Final = _Marker.NEED_DATA
#: The request (its body included) is complete.
END: Final = _Marker.END

Event = RequestHead | Data | Malformed | _Marker


class _State(Enum):
    HEAD = 0  # waiting for (the rest of) a request head
    BODY = 1  # Content-Length body
    CHUNK_SIZE = 2
    CHUNK_DATA = 3
    CHUNK_END = 4  # the CRLF after a chunk's data
    TRAILERS = 5
    ERROR = 6


class RequestParser:
    """Parses the requests of one connection, in order.

    Limits: ``max_line`` bytes for the request line (414 past it), ``max_head`` bytes and
    ``max_fields`` lines for the headers (431 past either). Body sizes are not limited here:
    the layer above knows what it accepts and answers 413 itself.
    """

    __slots__ = (
        "_buf",
        "_error",
        "_pos",
        "_recent",
        "_remaining",
        "_scan",
        "_state",
        "max_fields",
        "max_head",
        "max_line",
    )

    def __init__(
        self, *, max_line: int = 8192, max_head: int = 65536, max_fields: int = 100
    ) -> None:
        self.max_line = max_line
        self.max_head = max_head
        self.max_fields = max_fields
        self._buf = b""
        self._pos = 0
        self._scan = 0  # where to resume looking for the end of the head
        self._state = _State.HEAD
        self._remaining = 0  # body or chunk bytes still to come
        self._error: Malformed | None = None
        #: The last few heads taken, by their bytes (the limits above must not change).
        self._recent: dict[bytes, RequestHead] = {}

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self._pos >= len(self._buf):
            self._buf, self._pos, self._scan = data, 0, 0
        else:
            self._buf = self._buf[self._pos :] + data
            self._scan -= self._pos
            self._pos = 0

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet handed out as events."""
        return len(self._buf) - self._pos

    @property
    def in_head(self) -> bool:
        """Part of a request head has arrived (not just the gap between requests)."""
        return self._state is _State.HEAD and self._pos < len(self._buf)

    @property
    def in_body(self) -> bool:
        return self._state in _BODY_STATES

    def take_rest(self) -> bytes:
        """Everything fed and not parsed (what follows a request that switched protocols)."""
        rest = self._buf[self._pos :]
        self._buf, self._pos, self._scan = b"", 0, 0
        return rest

    # -- output --------------------------------------------------------------------------
    def next_event(self) -> Event:
        state = self._state
        if state is _State.HEAD:
            return self._head()
        if state is _State.BODY:
            return self._body()
        if state is _State.ERROR:
            assert self._error is not None
            return self._error
        return self._chunked()

    def _fail(self, status: int, reason: str) -> Malformed:
        self._state = _State.ERROR
        self._error = Malformed(status, reason)
        self._buf, self._pos = b"", 0
        return self._error

    def _head(self) -> Event:
        buf, pos = self._buf, self._pos
        if pos == len(buf):
            return NEED_DATA  # (between requests, the usual case)
        # RFC 9112 §2.2: empty lines before a request line are ignored.
        while buf.startswith(b"\r\n", pos):
            pos += 2
        self._pos = pos
        end = buf.find(b"\r\n\r\n", max(pos, self._scan))
        if end < 0:
            self._scan = max(pos, len(buf) - 3)
            size = len(buf) - pos
            if size > self.max_line and buf.find(b"\r\n", pos, pos + self.max_line + 2) < 0:
                return self._fail(414, "request line too long")
            if size > self.max_head:
                return self._fail(431, "request headers too large")
            return NEED_DATA
        if end - pos > self.max_head:
            return self._fail(431, "request headers too large")
        self._pos = self._scan = end + 4
        raw = buf[pos:end]
        head = self._recent.get(raw)
        if head is not None:
            # Byte for byte a head this parser took before (a polling client repeats its
            # requests): the same checks would give the same answer.
            self._enter_body(head)
            return head
        text = buf[pos : end + 2].decode("latin-1")
        first = text.find("\r\n")
        if first > self.max_line:
            return self._fail(414, "request line too long")
        if text.count("\r\n") - 1 > self.max_fields:
            return self._fail(431, f"more than {self.max_fields} header fields")
        event = self._parse_head(text[:first], text[first + 2 :])
        if type(event) is RequestHead and len(raw) <= _MAX_RECENT_HEAD:
            recent = self._recent
            if len(recent) >= _MAX_RECENT:
                del recent[next(iter(recent))]  # the oldest
            recent[raw] = event
        return event

    def _parse_head(self, request_line: str, block: str) -> Event:
        """``block``: the header lines, each ending with CRLF."""
        match = _REQUEST_LINE.fullmatch(request_line)
        if match is None:
            return self._fail(400, "malformed request line")
        method, target, major, minor = match.groups()
        if major != "1":
            return self._fail(505, "HTTP version not supported")
        if not (target[0] == "/" or target.startswith(("http://", "https://")) or target == "*"):
            return self._fail(400, "malformed request target")
        http11 = minor != "0"
        headers: dict[str, str] = {}
        fields = []
        hosts = lengths = 0
        if _FIELDS.fullmatch(block) is None:
            return self._fail(400, "malformed header field")  # obs-fold, bare CR/LF...
        for line in block.split("\r\n")[:-1]:
            name, _, value = line.partition(":")
            value = value.strip(" \t")
            fields.append((name, value))
            key = name.lower()
            if key in headers:
                headers[key] = f"{headers[key]}, {value}"
            else:
                headers[key] = value
            if key == "host":
                hosts += 1
            elif key == "content-length":
                lengths += 1
        if hosts > 1 or (http11 and not hosts):
            return self._fail(400, "a request needs exactly one Host")  # RFC 9112 §3.2
        content_length = None
        chunked = False
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if lengths or not http11:
                return self._fail(400, "Transfer-Encoding with Content-Length, or in HTTP/1.0")
            if coding.strip().lower() != "chunked":
                return self._fail(501, f"transfer coding {coding!r} not supported")
            chunked = True
        elif lengths:
            value = headers["content-length"]
            if lengths == 1 and value.isdigit() and value.isascii() and len(value) <= 18:
                content_length = int(value)  # (the usual case: one plain number)
            else:
                parsed = self._content_length(value)
                if isinstance(parsed, Malformed):
                    return parsed
                content_length = parsed
        connection = headers.get("connection", "").lower()
        if connection == "keep-alive":  # (what most clients send: no token split)
            keep_alive = True
        elif http11:
            keep_alive = "close" not in _tokens(connection)
        else:
            keep_alive = "keep-alive" in _tokens(connection)
        expect = http11 and "expect" in headers and headers["expect"].lower() == "100-continue"
        head = RequestHead(
            method,
            target,
            http11,
            headers,
            tuple(fields),
            keep_alive,
            expect,
            content_length,
            chunked,
        )
        self._enter_body(head)
        return head

    def _enter_body(self, head: RequestHead) -> None:
        if head.chunked:
            self._state = _State.CHUNK_SIZE
        else:  # (a request without a body gives END at once)
            self._state, self._remaining = _State.BODY, head.content_length or 0

    def _content_length(self, value: str) -> int | Malformed:
        """A Content-Length list (``5, 5``: repeated fields): its one number, else fail."""
        values = {v.strip() for v in value.split(",")}
        if len(values) != 1:
            return self._fail(400, "conflicting Content-Length")
        (value,) = values
        if not (value.isdigit() and value.isascii() and len(value) <= 18):
            return self._fail(400, "malformed Content-Length")
        return int(value)

    def _body(self) -> Event:
        if self._remaining == 0:
            self._state = _State.HEAD
            return END
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available == 0:
            return NEED_DATA
        take = min(available, self._remaining)
        self._remaining -= take
        self._pos = pos + take
        self._scan = self._pos
        if pos == 0 and take == len(buf):
            return Data(buf)  # the whole buffer: no copy
        return Data(buf[pos : pos + take])

    def _chunked(self) -> Event:
        while True:
            state = self._state
            buf, pos = self._buf, self._pos
            if state is _State.CHUNK_DATA:
                if self._remaining == 0:
                    self._state = _State.CHUNK_END
                    continue
                available = len(buf) - pos
                if available == 0:
                    return NEED_DATA
                take = min(available, self._remaining)
                self._remaining -= take
                self._pos = self._scan = pos + take
                return Data(buf[pos : pos + take])
            if state is _State.CHUNK_END:
                if len(buf) - pos < 2:
                    return NEED_DATA
                if not buf.startswith(b"\r\n", pos):
                    return self._fail(400, "chunk data not followed by CRLF")
                self._pos = self._scan = pos + 2
                self._state = _State.CHUNK_SIZE
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                limit = _MAX_CHUNK_LINE if state is _State.CHUNK_SIZE else self.max_head
                if len(buf) - pos > limit:
                    return self._fail(400, "chunk size line or trailers too long")
                return NEED_DATA
            line = buf[pos:end]
            self._pos = self._scan = end + 2
            if state is _State.TRAILERS:
                if not line:
                    self._state = _State.HEAD
                    return END
                if _FIELD.fullmatch(line.decode("latin-1")) is None:
                    return self._fail(400, "malformed trailer field")
                continue
            size = _CHUNK_SIZE.fullmatch(line)
            if size is None or end - pos > _MAX_CHUNK_LINE:
                return self._fail(400, "malformed chunk size")
            self._remaining = int(size.group(1), 16)
            self._state = _State.CHUNK_DATA if self._remaining else _State.TRAILERS


_BODY_STATES = frozenset(
    {_State.BODY, _State.CHUNK_SIZE, _State.CHUNK_DATA, _State.CHUNK_END, _State.TRAILERS}
)


def _tokens(value: str) -> set[str]:
    return {token.strip() for token in value.split(",")}


def split_target(target: str) -> tuple[str, str]:
    """A request target's path and query (an absolute-form target loses its authority)."""
    if target[0] != "/" and "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        target = rest[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    return path, query


def parse_query(query: str) -> dict[str, str]:
    """``a=1&b=2`` as ``{"a": "1", "b": "2"}``; the last of repeated names wins. Only parts
    with ``%`` or ``+`` are decoded (Engine.IO's own arguments have neither)."""
    result: dict[str, str] = {}
    if not query:
        return result
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if "%" in part or "+" in part:
            name, value = unquote_plus(name), unquote_plus(value)
        result[name] = value
    return result
