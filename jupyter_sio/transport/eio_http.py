"""Engine.IO over HTTP (long-polling), free of any web framework.

One implementation of the rules for a polling request, shared by the Tornado handler
(:mod:`jupyter_sio.transport.tornado`, also mounted in Jupyter) and the native server
(:mod:`jupyter_sio.transport.http_server`): the query check, Engine.IO's JSON errors with
Node's exact bodies and statuses, the Origin policy and CORS headers, the preflight, the
``max_payload`` limit (413, session closed), the UTF-8 check, a GET held through
:meth:`EngineConnection.start_poll` (:func:`start_get`, then :func:`finish_get` once its
future is done: a front end needs no coroutine per GET) and a POST through
:meth:`EngineConnection.receive_payload`.

A front end describes its request as an :class:`Exchange` and writes the :class:`Reply`
it gets back; how bytes move, and when, stays with the front end.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlparse

from ..exceptions import RemoteProtocolError
from ..hub.sio_connection import Handshake, Identity
from ..protocol.eio_codec import PROTOCOL_VERSION
from ..protocol.eio_session import Transport
from .eio_connection import EngineConnection, EngineServer

log = logging.getLogger("jupyter_sio.transport")
access = logging.getLogger("jupyter_sio.access")

STANDALONE = Identity(name="anonymous", powers=False)

# Engine.IO error codes (engine.io Server.errors)
UNKNOWN_TRANSPORT = 0
UNKNOWN_SID = 1
BAD_HANDSHAKE_METHOD = 2
BAD_REQUEST = 3
FORBIDDEN = 4
UNSUPPORTED_PROTOCOL_VERSION = 5
ERROR_MESSAGES = {
    UNKNOWN_TRANSPORT: "Transport unknown",
    UNKNOWN_SID: "Session ID unknown",
    BAD_HANDSHAKE_METHOD: "Bad handshake method",
    BAD_REQUEST: "Bad request",
    FORBIDDEN: "Forbidden",
    UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}
_HINT_CODES = {message: code for code, message in ERROR_MESSAGES.items()}

Headers = Sequence[tuple[str, str]]
_NO_HEADERS: Headers = ()


class EngineError(Exception):
    """Answer the request with an Engine.IO error response."""

    def __init__(self, code: int, status: int = 400, detail: str = "") -> None:
        super().__init__(detail or ERROR_MESSAGES[code])
        self.code = code
        self.status = status


@dataclass(slots=True)
class Reply:
    """An answer to write: status, headers (Content-Type among them) and body."""

    status: int
    headers: Headers
    body: bytes


class Exchange(Protocol):
    """One HTTP request as the Engine.IO rules see it, with the front end's policy hooks."""

    #: The connection whose GET this request holds (the front end fails it with
    #: :meth:`EngineConnection.abort_poll` if its client leaves).
    polling: EngineConnection | None

    def header(self, name: str) -> str:
        """The header's value, ``""`` when absent (``name`` is case-insensitive)."""

    def argument(self, name: str) -> str | None:
        """The query argument's last value."""

    def authenticate(self) -> Identity:
        """Who is asking; raise :class:`EngineError` (FORBIDDEN) to refuse."""

    def origin_allowed(self, origin: str) -> bool: ...

    def handshake(self, user: Identity) -> Handshake:
        """What a new session records about this request."""

    def disconnected(self) -> bool:
        """Whether the client has gone (nothing more can be written)."""


class PollingBody:
    """The body of one polling POST, kept as it arrives up to ``limit`` bytes.

    Past the limit nothing more is kept, only counted: the front end answers 413 and reads
    the rest to throw it away (so at most about ``limit`` bytes are ever held per request).
    """

    __slots__ = ("chunks", "dropped", "limit", "size", "too_large")

    def __init__(self, limit: int, declared: int | None) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.dropped = 0
        # A Content-Length above the limit is refused before any of the body is read.
        self.too_large = declared is not None and declared > limit

    def feed(self, chunk: bytes) -> bool:
        """Keep or count ``chunk``; ``True`` once, for the chunk that went over the limit."""
        if self.too_large:
            self.dropped += len(chunk)
            return False
        self.size += len(chunk)
        if self.size > self.limit:
            self.too_large = True
            self.dropped, self.size = self.size, 0
            self.chunks.clear()
            return True
        self.chunks.append(chunk)
        return False

    def data(self) -> bytes:
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def declared_length(value: str | None) -> int | None:
    """A Content-Length header's value as a number, or ``None`` (absent or malformed: the
    HTTP layer refuses malformed ones itself)."""
    if value is None:
        return None
    first = value.split(",")[0].strip()
    return int(first) if first.isdigit() and first.isascii() else None


# -- Origin policy ---------------------------------------------------------------------------
def same_origin(origin: str, host: str) -> bool:
    """Whether ``origin`` names ``host`` (the request's Host header)."""
    host = host.lower()
    origin = origin.lower()
    if origin in (f"http://{host}", f"https://{host}"):  # the common case, without parsing
        return True
    return urlparse(origin).netloc == host


def default_origin_allowed(server: EngineServer, origin: str, host: str) -> bool:
    """Same-origin and non-browser requests always; others from ``cors_allowed_origins``."""
    return not origin or same_origin(origin, host) or server.config.origin_allowed(origin)


def cors_headers(server: EngineServer, ex: Exchange) -> Headers:
    """CORS response headers for an allowed cross-origin request (none for others)."""
    origin = ex.header("Origin")
    if origin and server.config.cors_allowed_origins and ex.origin_allowed(origin):
        return (
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        )
    return _NO_HEADERS


def _checked_origin(server: EngineServer, ex: Exchange) -> Headers:
    """The CORS headers of an allowed request; FORBIDDEN for a refused origin."""
    origin = ex.header("Origin")
    if not origin:
        return _NO_HEADERS
    if not ex.origin_allowed(origin):
        log.warning("refusing polling request from origin %s (set cors_allowed_origins)", origin)
        raise EngineError(FORBIDDEN, 403)
    return cors_headers(server, ex)


# -- replies ---------------------------------------------------------------------------------
def error_status(status_code: int) -> tuple[int, int]:
    """The HTTP status and Engine.IO error code for an error the HTTP layer (or Jupyter)
    raised: a method other than GET/POST/OPTIONS (405) is 400 "Bad handshake method", as in
    Node's engine.io."""
    if status_code == 405:
        return 400, BAD_HANDSHAKE_METHOD
    return status_code, FORBIDDEN if status_code == 403 else BAD_REQUEST


def error_body(code: int, detail: str | None = None) -> bytes:
    """An Engine.IO error body, compact JSON as Node writes it."""
    body: dict[str, Any] = {"code": code, "message": ERROR_MESSAGES[code]}
    if detail is not None:
        body["detail"] = detail
    return json.dumps(body, separators=(",", ":")).encode()


def error_reply(server: EngineServer, ex: Exchange, exc: EngineError) -> Reply:
    headers = (*cors_headers(server, ex), ("Content-Type", "application/json"))
    return Reply(exc.status, headers, error_body(exc.code))


_PAYLOAD_HEADERS: Headers = (
    ("Content-Type", "text/plain; charset=UTF-8"),
    ("Cache-Control", "no-store"),
)


def _payload_reply(cors: Headers, payload: str) -> Reply:
    # (the same headers object each time: a front end may cache its encoding)
    headers = (*cors, *_PAYLOAD_HEADERS) if cors else _PAYLOAD_HEADERS
    return Reply(200, headers, payload.encode())


_OK_HEADERS: Headers = (("Content-Type", "text/html"),)


_TRANSPORTS = {transport.value: transport for transport in Transport}


# -- requests --------------------------------------------------------------------------------
def check_query(server: EngineServer, ex: Exchange) -> Transport:
    if ex.argument("EIO") != PROTOCOL_VERSION:
        raise EngineError(UNSUPPORTED_PROTOCOL_VERSION)
    name = ex.argument("transport")
    if name not in server.config.transports:
        raise EngineError(UNKNOWN_TRANSPORT)
    return _TRANSPORTS[name]  # (not Transport(name): an Enum call costs a microsecond)


def _connection(server: EngineServer, sid: str) -> EngineConnection:
    conn = server.connections.get(sid)
    if conn is None:
        raise EngineError(UNKNOWN_SID)
    return conn


def _protocol_error(exc: RemoteProtocolError) -> EngineError:
    return EngineError(_HINT_CODES.get(exc.hint, BAD_REQUEST), detail=str(exc))


@dataclass(slots=True)
class HeldGet:
    """A polling GET held until its connection has something to send: wait for ``poll``
    (a future: no task, no timer of its own), then :func:`finish_get`."""

    conn: EngineConnection
    poll: asyncio.Future[None]
    cors: Headers


def start_get(server: EngineServer, ex: Exchange) -> Reply | HeldGet:
    """A polling GET (not a WebSocket upgrade): a handshake, a poll answered at once, or
    one to hold (``ex.polling`` names its connection until :func:`finish_get`)."""
    try:
        transport = check_query(server, ex)
        user = ex.authenticate()
        if transport is not Transport.POLLING:
            raise EngineError(BAD_REQUEST, detail="WebSocket transport needs an Upgrade")
        cors = _checked_origin(server, ex)
        sid = ex.argument("sid")
        if sid is None:
            conn = server.open(Transport.POLLING, ex.handshake(user))
            return _payload_reply(cors, conn.session.open_packet())
        conn = _connection(server, sid)
        try:
            payload = conn.start_poll()
        except RemoteProtocolError as exc:
            raise _protocol_error(exc) from None
        if payload is None:
            ex.polling = conn
            return HeldGet(conn, conn.held_poll(), cors)
        return _payload_reply(cors, payload)
    except EngineError as exc:
        return error_reply(server, ex, exc)


def finish_get(server: EngineServer, ex: Exchange, held: HeldGet) -> Reply | None:
    """The answer to a GET :func:`start_get` held, once released; ``None`` if the client
    left meanwhile."""
    ex.polling = None
    payload = held.conn.finish_poll()
    if ex.disconnected():
        return None
    return _payload_reply(held.cors, payload)


async def serve_get(server: EngineServer, ex: Exchange) -> Reply | None:
    """A polling GET (not a WebSocket upgrade): a handshake, or a poll held until packets
    come. ``None`` if the client left while it was held."""
    reply = start_get(server, ex)
    if isinstance(reply, Reply):
        return reply
    try:
        await reply.poll
    except BaseException:
        ex.polling = None
        reply.conn.cancel_poll(reply.poll)  # cancelled while held: the session goes on
        raise
    return finish_get(server, ex, reply)


def serve_post(server: EngineServer, ex: Exchange, body: PollingBody | None) -> Reply:
    """A polling POST whose ``body`` has arrived, or is already known to be too large."""
    try:
        transport = check_query(server, ex)
        ex.authenticate()
        if transport is not Transport.POLLING:
            raise EngineError(BAD_REQUEST)
        cors = _checked_origin(server, ex)
        sid = ex.argument("sid")
        if sid is None:
            raise EngineError(BAD_HANDSHAKE_METHOD)
        conn = _connection(server, sid)
        if body is None or body.too_large:
            limit = server.config.max_payload
            log.info("closing %s: polling body larger than max_payload=%d", sid, limit)
            conn.close("parse error")
            raise EngineError(BAD_REQUEST, 413, f"body larger than max_payload={limit}")
        try:
            text = body.data().decode()
        except UnicodeDecodeError:
            conn.close("parse error")
            raise EngineError(BAD_REQUEST, detail="payload is not UTF-8") from None
        try:
            conn.receive_payload(text)
        except RemoteProtocolError as exc:
            raise _protocol_error(exc) from None
        return Reply(200, (*cors, *_OK_HEADERS) if cors else _OK_HEADERS, b"ok")
    except EngineError as exc:
        return error_reply(server, ex, exc)


def serve_options(server: EngineServer, ex: Exchange) -> Reply:
    """CORS preflight for cross-origin polling from allowed origins."""
    origin = ex.header("Origin")
    if not origin or not ex.origin_allowed(origin):
        return error_reply(server, ex, EngineError(FORBIDDEN, 403))
    headers = [*cors_headers(server, ex), ("Access-Control-Allow-Methods", "GET, POST, OPTIONS")]
    requested = ex.header("Access-Control-Request-Headers")
    if requested:
        headers.append(("Access-Control-Allow-Headers", requested))
    return Reply(204, headers, b"")
