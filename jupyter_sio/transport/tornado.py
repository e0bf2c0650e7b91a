"""Tornado request handler: Engine.IO long-polling (GET/POST) and WebSocket on one route.

The handler only moves bytes: the rules of a polling request (query, errors, Origin/CORS,
``max_payload``, GET and POST) live in :mod:`jupyter_sio.transport.eio_http`, shared with
the native server; the handler is their :class:`~jupyter_sio.transport.eio_http.Exchange`,
with hooks the Jupyter extension overrides (authentication, Origin policy, checks before
the body). Every error is an Engine.IO JSON error, never an HTML page.

A polling body is read as it arrives and kept up to ``max_payload`` bytes; a larger one is
answered with 413 at once and closes its session. A WebSocket upgrade is answered here and
the socket then handed to a :class:`~jupyter_sio.transport.ws_stream.WebSocketStream`
(:mod:`jupyter_sio.transport.ws_tornado`), which parses frames and writes broadcasts.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Awaitable, Callable
from http.client import responses
from typing import Any

from tornado import web
from tornado.websocket import WebSocketHandler, WebSocketProtocol

from ..hub.sio_connection import Handshake, Identity
from ..protocol.eio_session import Transport
from . import eio_http
from .eio_connection import EngineConnection, EngineServer, open_websocket
from .eio_http import (  # re-exported (see __all__): the names subclasses and tests import
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    ERROR_MESSAGES,
    FORBIDDEN,
    STANDALONE,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    UNSUPPORTED_PROTOCOL_VERSION,
    EngineError,
    Exchange,
    PollingBody,
    Reply,
    declared_length,
    error_body,
    error_status,
)
from .ws_tornado import StreamTakeover

__all__ = [
    "BAD_HANDSHAKE_METHOD",
    "BAD_REQUEST",
    "ERROR_MESSAGES",
    "FORBIDDEN",
    "STANDALONE",
    "UNKNOWN_SID",
    "UNKNOWN_TRANSPORT",
    "UNSUPPORTED_PROTOCOL_VERSION",
    "EngineError",
    "EngineIOHandler",
    "PollingBody",
    "access_log",
    "declared_length",
    "engineio_route",
    "error_body",
    "error_status",
    "websocket_protocol",
]

log = logging.getLogger("jupyter_sio.transport")


def access_log(handler: web.RequestHandler) -> None:
    """Tornado's ``log_function`` for our servers: requests at debug level. At INFO (Tornado's
    default) the access log was a tenth of a polling server's CPU, and in a kernel it would
    print every refused request into whichever cell's output is current."""
    if eio_http.access.isEnabledFor(logging.DEBUG):
        request = handler.request
        eio_http.access.debug(
            "%d %s %s (%s)", handler.get_status(), request.method, request.uri, request.remote_ip
        )


def websocket_protocol(handler: WebSocketHandler, max_message: int) -> WebSocketProtocol:
    """The protocol answering ``handler``'s upgrade: a :class:`StreamTakeover`, which
    refuses a bad handshake (426 for a version other than 13) by the rules of
    :func:`~jupyter_sio.protocol.ws_codec.check_upgrade`, as the native server does."""
    return StreamTakeover(handler, max_message=max_message)


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
    polling: EngineConnection | None

    def initialize(  # type: ignore[override]
        self, server: EngineServer, authenticate: Callable[[Exchange], Identity] | None = None
    ) -> None:
        self.server = server
        self.polling = None
        self._authenticator = authenticate
        self._user: Identity = STANDALONE
        self._body: PollingBody | None = None
        self._early = False  # answering before the whole body has been read
        self._answered = False  # that answer is written; the response ends with the body

    # -- hooks -----------------------------------------------------------------------------
    def authenticate(self) -> Identity:
        """Who is connecting. The standalone hub accepts everyone as an anonymous user
        with full powers over its own app (it is the app's server; add middleware to
        restrict), unless the route was given an ``authenticate`` function; the Jupyter
        extension overrides this with Jupyter's auth."""
        if self._authenticator is not None:
            return self._authenticator(self)
        return STANDALONE

    def origin_allowed(self, origin: str) -> bool:
        """Same-origin and non-browser requests always; others from ``cors_allowed_origins``."""
        return eio_http.default_origin_allowed(
            self.server, origin, self.request.headers.get("Host", "")
        )

    # -- the request as eio_http sees it (an Exchange) -------------------------------------
    def header(self, name: str) -> str:
        return self.request.headers.get(name, "")  # type: ignore[no-any-return]

    def argument(self, name: str) -> str | None:
        values = self.request.query_arguments.get(name)
        return values[-1].decode("utf-8", "replace") if values else None

    def handshake(self, user: Identity) -> Handshake:
        request = self.request
        return Handshake(
            headers=dict(request.headers),
            query={k: v[-1].decode("utf-8", "replace") for k, v in request.query_arguments.items()},
            address=request.remote_ip or "",
            url=request.uri or "",
            secure=request.protocol == "https",
            time=time.time(),
            user=user,
        )

    def disconnected(self) -> bool:
        return bool(self.request.connection.stream.closed())  # type: ignore[union-attr]

    # -- HTTP ------------------------------------------------------------------------------
    def set_default_headers(self) -> None:
        pass

    def compute_etag(self) -> str | None:
        return None  # a poll's answer is never cached (and hashing each one costs)

    async def check_request(self) -> None:
        """Checks to run once the headers are in, before any of the body is read (raise
        ``tornado.web.HTTPError`` or finish the response to refuse). The Jupyter extension
        runs Jupyter's own ``prepare`` here: Host, identity, XSRF."""

    async def prepare(self) -> None:
        request = self.request
        if request.method == "POST":
            limit = self.server.config.max_payload
            self._body = PollingBody(limit, declared_length(request.headers.get("Content-Length")))
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
        self._reply(eio_http.serve_options(self.server, self))

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            try:
                transport = eio_http.check_query(self.server, self)
                self._user = self.authenticate()
                if transport is not Transport.WEBSOCKET:
                    raise EngineError(BAD_REQUEST)
            except EngineError as exc:
                self._engine_error(exc)
                return
            await super().get(*args, **kwargs)
            return
        reply = await eio_http.serve_get(self.server, self)
        if reply is not None:
            self._reply(reply)

    async def post(self, *args: Any, **kwargs: Any) -> None:
        if self._answered:
            return  # answered early; the body has now been read and the response ends
        self._reply(eio_http.serve_post(self.server, self, self._body))

    def on_connection_close(self) -> None:
        conn = self.polling
        if conn is not None:
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
        return websocket_protocol(self, self.server.config.max_payload)

    def open(self, *args: Any, **kwargs: Any) -> None:
        """Start the stream: from here on the connection (not this handler) is its app,
        and this handler, its request and HTTP connection are released."""
        protocol = self.ws_connection
        assert isinstance(protocol, StreamTakeover)
        server, sid, handshake = self.server, self.get_query_argument("sid", None), self._handshake
        protocol.start(lambda ws: open_websocket(server, ws, sid, handshake))

    # -- helpers ---------------------------------------------------------------------------
    def _handshake(self) -> Handshake:
        return self.handshake(self._user)

    def _engine_error(self, exc: EngineError) -> None:
        self._reply(eio_http.error_reply(self.server, self, exc))

    def _reply(self, reply: Reply) -> None:
        if self._finished or self._answered:
            return
        if reply.status >= 400:
            self.clear()
        self.set_status(reply.status)
        for name, value in reply.headers:
            self.set_header(name, value)
        if (
            reply.status >= 400
            and self._early
            and (self.request.headers.get("Expect", "").lower() != "100-continue")
        ):
            # Answer now, end the response once the body has been read (post() runs again).
            # (A client that waits for "100 Continue" sends no body after a final answer.)
            self.set_header("Content-Length", str(len(reply.body)))
            self.write(reply.body)
            self.flush()
            self._answered = True
            return
        self.finish(reply.body or None)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Uncaught errors (and Tornado's own 4xx) answer in Engine.IO's JSON shape too."""
        status, code = error_status(status_code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        detail = None if status != status_code else responses.get(status_code, "Error")
        self.finish(error_body(code, detail))


def engineio_route(
    path: str, server: EngineServer, handler: type[EngineIOHandler] = EngineIOHandler
) -> tuple[str, type[web.RequestHandler], dict[str, Any]]:
    """The Tornado URL spec serving ``server`` at ``path`` (e.g. ``/socket.io/``)."""
    pattern = path.rstrip("/") + "/?"
    return (pattern, handler, {"server": server})
