"""Tornado request handler: Engine.IO long-polling (GET/POST) and WebSocket on one route.

The handler only moves bytes: it validates the query, authenticates (a hook that the
Jupyter extension overrides), and hands payloads to the :class:`EngineConnection`. Every
error is an Engine.IO JSON error (``{"code": n, "message": ...}``), never an HTML page.
"""

from __future__ import annotations

import asyncio
import logging
import time
from http.client import responses
from typing import Any
from urllib.parse import urlparse

from tornado import iostream, web
from tornado.websocket import WebSocketHandler

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


class EngineIOHandler(WebSocketHandler):
    """Serves one Engine.IO endpoint (``/socket.io/`` by default) for one hub.

    Subclasses hook in authentication with :meth:`authenticate` (return a user object or
    raise :class:`EngineError` with code FORBIDDEN) and may tighten :meth:`origin_allowed`.
    """

    server: EngineServer
    _conn: EngineConnection | None
    _peer: TornadoPeer | None

    def initialize(self, server: EngineServer) -> None:  # type: ignore[override]
        self.server = server
        self._conn = None
        self._peer = None
        self._user: Identity = STANDALONE

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

    def prepare(self) -> None:
        # Polling bodies above max_payload are refused before Tornado buffers them whole.
        connection: Any = self.request.connection
        if self.request.method == "POST" and hasattr(connection, "set_max_body_size"):
            connection.set_max_body_size(self.server.config.max_payload + 1)

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
            if len(self.request.body) > self.server.config.max_payload:
                conn.close("parse error")
                raise EngineError(BAD_REQUEST, 413, "payload larger than max_payload")
            try:
                body = self.request.body.decode("utf-8")
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
        super().on_connection_close()

    # -- WebSocket -------------------------------------------------------------------------
    def check_origin(self, origin: str) -> bool:
        return self.origin_allowed(origin)

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # per-recipient compression defeats encode-once broadcast

    @property
    def max_message_size(self) -> int:
        return self.server.config.max_payload

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
        if self._finished:
            return
        self.clear()
        self.set_status(exc.status)
        self._cors_headers()
        self.set_header("Content-Type", "application/json")
        self.finish({"code": exc.code, "message": ERROR_MESSAGES[exc.code]})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Uncaught errors (and Tornado's own 4xx) answer in Engine.IO's JSON shape too."""
        self.set_header("Content-Type", "application/json")
        code = FORBIDDEN if status_code == 403 else BAD_REQUEST
        reason = responses.get(status_code, "Error")
        self.finish({"code": code, "message": ERROR_MESSAGES[code], "detail": reason})


def engineio_route(
    path: str, server: EngineServer, handler: type[EngineIOHandler] = EngineIOHandler
) -> tuple[str, type[web.RequestHandler], dict[str, Any]]:
    """The Tornado URL spec serving ``server`` at ``path`` (e.g. ``/socket.io/``)."""
    pattern = path.rstrip("/") + "/?"
    return (pattern, handler, {"server": server})
