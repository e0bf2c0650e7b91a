"""Tornado request handler: Engine.IO long-polling (GET/POST) and WebSocket on one route.

The handler only moves bytes: it validates the query, authenticates (a hook that the
Jupyter extension overrides), and hands payloads to the :class:`EngineConnection`. Every
error is an Engine.IO JSON error (``{"code": n, "message": ...}``), never an HTML page.

Input limits live here too: a polling body is read as it arrives and kept up to
``max_payload`` bytes (:class:`PollingBody`); a larger one is answered with 413 at once and
closes its session. WebSocket frames from a client must be masked (:class:`MaskedFramesOnly`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable
from http.client import responses
from typing import Any
from urllib.parse import urlparse

from tornado import httputil, iostream, web
from tornado.websocket import WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

from ..exceptions import RemoteProtocolError
from ..hub.sio_connection import Handshake, Identity
from ..protocol.eio_codec import PROTOCOL_VERSION
from ..protocol.eio_session import Transport
from .eio_connection import EngineConnection, EngineServer

log = logging.getLogger("jupyter_sio.transport")

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


class EngineError(Exception):
    """Answer the request with an Engine.IO error response."""

    def __init__(self, code: int, status: int = 400, detail: str = "") -> None:
        super().__init__(detail or ERROR_MESSAGES[code])
        self.code = code
        self.status = status


class PollingBody:
    """The body of one polling POST, kept as it arrives up to ``limit`` bytes.

    Past the limit nothing more is kept, only counted: the handler answers 413 and reads the
    rest to throw it away (so at most about ``limit`` bytes are ever held per request).
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
        return b"".join(self.chunks)


_DIGITS = re.compile(r"[0-9]+")


def declared_length(headers: httputil.HTTPHeaders) -> int | None:
    """The request's Content-Length, or ``None`` (absent, chunked, or malformed: Tornado
    refuses malformed ones itself once the headers have been handled)."""
    value = headers.get("Content-Length")
    if value is None:
        return None
    first = value.split(",")[0].strip()
    return int(first) if _DIGITS.fullmatch(first) else None


def masked_frames_only(
    handler: WebSocketHandler, protocol: WebSocketProtocol | None
) -> WebSocketProtocol | None:
    """``protocol`` (Tornado's choice for this request) refusing unmasked client frames."""
    if type(protocol) is not WebSocketProtocol13:
        return protocol
    return MaskedFramesOnly(handler, False, protocol.params)


class MaskedFramesOnly(WebSocketProtocol13):
    """Tornado's RFC 6455 protocol, refusing unmasked frames from the client.

    RFC 6455 §5.1: "The server MUST close the connection upon receiving a frame that is not
    masked", optionally with close code 1002 (protocol error). Tornado unmasks a masked frame
    and takes an unmasked one as it is. It has no public per-frame hook, so this wraps two
    private methods: ``_receive_frame`` (called once per frame) begins by reading the 2-byte
    frame header through ``_read_bytes``, whose mask bit is checked there.
    ``tests/transport/test_masking.py`` checks the result on the wire, so a Tornado upgrade
    that changes either method fails loudly there.
    """

    _at_frame_start = False

    async def _receive_frame(self) -> None:
        self._at_frame_start = True
        await super()._receive_frame()

    async def _read_bytes(self, n: int) -> bytes:
        data = await super()._read_bytes(n)
        if self._at_frame_start:
            self._at_frame_start = False
            if len(data) >= 2 and not data[1] & 0x80:
                await self._refuse_unmasked()
        return data

    async def _refuse_unmasked(self) -> None:
        """Send close 1002, then drop whatever else comes until the connection ends."""
        # close() also makes Tornado abort the connection if the client has not closed it
        # within 5 s. Until then the rest is read and thrown away, never parsed ("after
        # sending a Close frame ... discards any further data", RFC 6455 §1.4): closing a
        # socket with unread input resets it, and the client could lose the close frame.
        self.close(1002, "client frames must be masked")
        while True:
            await self.stream.read_bytes(65536, partial=True)  # StreamClosedError ends it


class TornadoPeer:
    """Adapts a Tornado WebSocket to :class:`~jupyter_sio.transport.eio_connection.WebSocketPeer`.

    ``write_frame`` writes pre-built frame bytes. When nothing is pending in Tornado's
    stream it tries the socket directly (plain TCP only): a broadcast then costs one system
    call per recipient. Whatever the kernel does not take goes through the IOStream, which
    keeps order and reports when it drained.
    """

    __slots__ = ("handler", "raw", "stream")

    def __init__(self, handler: WebSocketHandler) -> None:
        self.handler = handler
        conn = handler.ws_connection
        stream = getattr(conn, "stream", None)
        compressor = getattr(conn, "_compressor", None)
        self.stream: iostream.IOStream | None = stream if compressor is None else None
        plain = type(stream) is iostream.IOStream and hasattr(stream, "_total_write_index")
        self.raw = stream.socket if plain and stream is not None and compressor is None else None

    def write_frame(self, frame: bytes) -> asyncio.Future[None] | None:
        stream = self.stream
        if stream is None:  # compression negotiated: let Tornado frame each message
            self._write_messages(frame)
            return None
        raw = self.raw
        if raw is not None and stream._total_write_index == stream._total_write_done_index:
            try:
                sent = raw.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent == len(frame):
                return None
            return stream.write(memoryview(frame)[sent:])
        return stream.write(frame)

    def _write_messages(self, frames: bytes) -> None:
        # Only used when a subclass enabled permessage-deflate: re-parse our own frames.
        pos = 0
        while pos < len(frames):
            opcode, length = frames[pos] & 0x0F, frames[pos + 1] & 0x7F
            pos += 2
            if length == 126:
                length, pos = int.from_bytes(frames[pos : pos + 2], "big"), pos + 2
            elif length == 127:
                length, pos = int.from_bytes(frames[pos : pos + 8], "big"), pos + 8
            payload = frames[pos : pos + length]
            pos += length
            self.handler.write_message(
                payload if opcode == 2 else payload.decode(), binary=opcode == 2
            )

    def write_text(self, text: str) -> None:
        self.handler.write_message(text)

    def pending_bytes(self) -> int:
        stream = self.stream
        if stream is None:
            return 0
        return stream._total_write_index - stream._total_write_done_index

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.handler.close(code, reason)


@web.stream_request_body
class EngineIOHandler(WebSocketHandler):
    """Serves one Engine.IO endpoint (``/socket.io/`` by default) for one hub.

    Subclasses hook in authentication with :meth:`authenticate` (return a user object or
    raise :class:`EngineError` with code FORBIDDEN), may tighten :meth:`origin_allowed`, and
    run checks that must come before a request body is read in :meth:`check_request`.

    Request bodies are streamed (:func:`tornado.web.stream_request_body`): :meth:`prepare`
    runs once the headers are in, :meth:`data_received` keeps a polling body up to
    ``max_payload`` bytes. A body known to be larger (from its Content-Length, or once that
    many bytes came) is answered at once: :meth:`post` runs early, so the refusal passes the
    same checks as any POST, answers 413 and closes the session. The rest of the body is
    then read and dropped, up to :attr:`max_discard` bytes, because closing a connection the
    client is still writing to resets it, and the client may lose the answer (RFC 9112 §9.6).
    """

    #: Bytes of an oversized polling body read and dropped after the 413; past them (or
    #: past the server's body timeout) the connection is closed.
    max_discard = 64 * 1024 * 1024

    server: EngineServer
    _conn: EngineConnection | None
    _peer: TornadoPeer | None

    def initialize(self, server: EngineServer) -> None:  # type: ignore[override]
        self.server = server
        self._conn = None
        self._peer = None
        self._user: Identity = STANDALONE
        self._body: PollingBody | None = None
        self._early = False  # answering before the whole body has been read
        self._answered = False  # that answer is written; the response ends with the body

    # -- hooks -----------------------------------------------------------------------------
    def authenticate(self) -> Identity:
        """Who is connecting. The standalone hub accepts everyone as an anonymous user
        with full powers over its own app (it is the app's server; add middleware to
        restrict); the Jupyter extension overrides this with Jupyter's auth."""
        return STANDALONE

    def origin_allowed(self, origin: str) -> bool:
        """Same-origin and non-browser requests always; others from ``cors_allowed_origins``."""
        if not origin:
            return True
        host = self.request.headers.get("Host", "")
        if urlparse(origin).netloc.lower() == host.lower():
            return True
        return self.server.config.origin_allowed(origin)

    # -- HTTP ------------------------------------------------------------------------------
    def set_default_headers(self) -> None:
        pass

    async def check_request(self) -> None:
        """Checks to run once the headers are in, before any of the body is read (raise
        ``tornado.web.HTTPError`` or finish the response to refuse). The Jupyter extension
        runs Jupyter's own ``prepare`` here: Host, identity, XSRF."""

    async def prepare(self) -> None:
        request = self.request
        if request.method == "POST":
            limit = self.server.config.max_payload
            self._body = PollingBody(limit, declared_length(request.headers))
            connection: Any = request.connection
            if hasattr(connection, "set_max_body_size"):
                # data_received enforces max_payload. Tornado's own limit would drop the
                # connection without an answer and leave the session open.
                connection.set_max_body_size(sys.maxsize)
        await self.check_request()
        if self._body is not None and self._body.too_large and not self._finished:
            await self._answer_early()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        body = self._body
        if body is None:
            return None  # Engine.IO sends no body with GET or OPTIONS: drop it
        if body.feed(chunk):
            return self._answer_early()
        if body.too_large and body.dropped > self.max_discard and not self._finished:
            self.finish()  # the 413 is out; ending the response closes the connection
        return None

    async def _answer_early(self) -> None:
        """Answer an oversized POST before its body ends, through :meth:`post` (and so
        through every check a subclass wraps around it)."""
        self._early = True
        try:
            await self.post(*self.path_args, **self.path_kwargs)
        except Exception as exc:
            # Tornado turns exceptions from prepare into responses, not those from data_received.
            self.log_exception(*sys.exc_info())
            if not self._finished and not self._answered:
                status = exc.status_code if isinstance(exc, web.HTTPError) else 500
                self.send_error(status, exc_info=sys.exc_info())

    def options(self, *args: Any) -> None:
        """CORS preflight for cross-origin polling from allowed origins."""
        origin = self.request.headers.get("Origin", "")
        if not origin or not self.origin_allowed(origin):
            self._engine_error(EngineError(FORBIDDEN, 403))
            return
        self._cors_headers()
        self.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        requested = self.request.headers.get("Access-Control-Request-Headers")
        if requested:
            self.set_header("Access-Control-Allow-Headers", requested)
        self.set_status(204)
        self.finish()

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            transport = self._check_query()
            self._user = self.authenticate()
            if self.request.headers.get("Upgrade", "").lower() == "websocket":
                if transport is not Transport.WEBSOCKET:
                    raise EngineError(BAD_REQUEST)
                await super().get(*args, **kwargs)
                return
            if transport is not Transport.POLLING:
                raise EngineError(BAD_REQUEST, detail="WebSocket transport needs an Upgrade")
            self._check_origin_http()
            sid = self.get_query_argument("sid", None)
            if sid is None:
                conn = self.server.open(Transport.POLLING, self._handshake())
                self._write_payload(conn.session.open_packet())
                return
            conn = self._connection(sid)
            self._conn = conn
            try:
                payload = await conn.poll()
            except RemoteProtocolError as exc:
                raise EngineError(_HINT_CODES.get(exc.hint, BAD_REQUEST), detail=str(exc)) from None
            finally:
                self._conn = None
            if self.request.connection.stream.closed():  # type: ignore[union-attr]
                return
            self._write_payload(payload)
        except EngineError as exc:
            self._engine_error(exc)

    async def post(self, *args: Any, **kwargs: Any) -> None:
        if self._answered:
            return  # answered early; the body has now been read and the response ends
        try:
            transport = self._check_query()
            self._user = self.authenticate()
            if transport is not Transport.POLLING:
                raise EngineError(BAD_REQUEST)
            self._check_origin_http()
            sid = self.get_query_argument("sid", None)
            if sid is None:
                raise EngineError(BAD_HANDSHAKE_METHOD)
            conn = self._connection(sid)
            received = self._body
            if received is None or received.too_large:
                limit = self.server.config.max_payload
                log.info("closing %s: polling body larger than max_payload=%d", sid, limit)
                conn.close("parse error")
                raise EngineError(BAD_REQUEST, 413, f"body larger than max_payload={limit}")
            try:
                body = received.data().decode("utf-8")
            except UnicodeDecodeError:
                conn.close("parse error")
                raise EngineError(BAD_REQUEST, detail="payload is not UTF-8") from None
            try:
                conn.receive_payload(body)
            except RemoteProtocolError as exc:
                raise EngineError(_HINT_CODES.get(exc.hint, BAD_REQUEST), detail=str(exc)) from None
            self._cors_headers()
            self.set_header("Content-Type", "text/html")
            self.finish("ok")
        except EngineError as exc:
            self._engine_error(exc)

    def on_connection_close(self) -> None:
        conn = self._conn
        if conn is not None and self.ws_connection is None:
            conn.abort_poll()  # the client dropped a held GET
        # WebSocketHandler's override skips RequestHandler's, which fails a streamed body's
        # future: without it a POST whose client left mid-body would wait for ever.
        web.RequestHandler.on_connection_close(self)
        super().on_connection_close()

    # -- WebSocket -------------------------------------------------------------------------
    def check_origin(self, origin: str) -> bool:
        return self.origin_allowed(origin)

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # per-recipient compression defeats encode-once broadcast

    @property
    def max_message_size(self) -> int:
        return self.server.config.max_payload

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        return masked_frames_only(self, super().get_websocket_protocol())

    def open(self, *args: Any, **kwargs: Any) -> None:
        self._peer = peer = TornadoPeer(self)
        self.set_nodelay(True)
        sid = self.get_query_argument("sid", None)
        if sid is None:
            conn = self.server.open(Transport.WEBSOCKET, self._handshake())
            self._conn = conn
            conn.attach_websocket(peer)
            return
        probed = self.server.get(sid)
        try:
            if probed is None:
                raise RemoteProtocolError("unknown sid")
            probed.attach_probe(peer)
        except RemoteProtocolError as exc:
            log.info("refusing WebSocket for sid %s: %s", sid, exc)
            self.close(1008, "bad upgrade")
            return
        self._conn = probed

    def on_message(self, message: str | bytes) -> None:
        conn = self._conn
        if conn is not None and self._peer is not None:
            conn.receive_ws(self._peer, message)

    def on_close(self) -> None:
        conn, peer = self._conn, self._peer
        if conn is not None and peer is not None:
            conn.websocket_closed(peer)

    # -- helpers ---------------------------------------------------------------------------
    def _check_query(self) -> Transport:
        if self.get_query_argument("EIO", None) != PROTOCOL_VERSION:
            raise EngineError(UNSUPPORTED_PROTOCOL_VERSION)
        name = self.get_query_argument("transport", None)
        if name not in self.server.config.transports:
            raise EngineError(UNKNOWN_TRANSPORT)
        return Transport(name)

    def _check_origin_http(self) -> None:
        origin = self.request.headers.get("Origin", "")
        if not self.origin_allowed(origin):
            log.warning(
                "refusing polling request from origin %s (set cors_allowed_origins)", origin
            )
            raise EngineError(FORBIDDEN, 403)

    def _connection(self, sid: str) -> EngineConnection:
        conn = self.server.get(sid)
        if conn is None:
            raise EngineError(UNKNOWN_SID)
        return conn

    def _handshake(self) -> Handshake:
        request = self.request
        return Handshake(
            headers=dict(request.headers),
            query={k: v[-1].decode("utf-8", "replace") for k, v in request.query_arguments.items()},
            address=request.remote_ip or "",
            url=request.uri or "",
            secure=request.protocol == "https",
            time=time.time(),
            user=self._user,
        )

    def _cors_headers(self) -> None:
        origin = self.request.headers.get("Origin", "")
        if origin and self.server.config.cors_allowed_origins and self.origin_allowed(origin):
            self.set_header("Access-Control-Allow-Origin", origin)
            self.set_header("Access-Control-Allow-Credentials", "true")
            self.set_header("Vary", "Origin")

    def _write_payload(self, payload: str) -> None:
        self._cors_headers()
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(payload.encode("utf-8"))

    def _engine_error(self, exc: EngineError) -> None:
        if self._finished or self._answered:
            return
        self.clear()
        self.set_status(exc.status)
        self._cors_headers()
        self.set_header("Content-Type", "application/json")
        payload = error_body(exc.code)
        if not self._early or self.request.headers.get("Expect", "").lower() == "100-continue":
            # (A client that waits for "100 Continue" sends no body after a final answer.)
            self.finish(payload)
            return
        # Answer now, end the response once the body has been read (post() runs again).
        self.set_header("Content-Length", str(len(payload)))
        self.write(payload)
        self.flush()
        self._answered = True

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Uncaught errors (and Tornado's own 4xx) answer in Engine.IO's JSON shape too."""
        status, code = error_status(status_code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        detail = None if status != status_code else responses.get(status_code, "Error")
        self.finish(error_body(code, detail))


def error_status(status_code: int) -> tuple[int, int]:
    """The HTTP status and Engine.IO error code for an error Tornado or Jupyter raised: a
    method other than GET/POST/OPTIONS (Tornado's 405) is 400 "Bad handshake method", as in
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


def engineio_route(
    path: str, server: EngineServer, handler: type[EngineIOHandler] = EngineIOHandler
) -> tuple[str, type[web.RequestHandler], dict[str, Any]]:
    """The Tornado URL spec serving ``server`` at ``path`` (e.g. ``/socket.io/``)."""
    pattern = path.rstrip("/") + "/?"
    return (pattern, handler, {"server": server})
