"""The native HTTP/1.1 front end of the standalone and embedded hubs, on asyncio.

Why not Tornado here: under long-polling ~85 % of a Tornado hub's CPU went to Tornado's
HTTP machinery (message reading, routing, ``RequestHandler`` life cycle, IOStream
churn) and only ~5 % to the hub (issue 11). This serves the few routes a hub needs with an
:class:`asyncio.Protocol` per connection, the sans-IO parser of
:mod:`jupyter_sio.protocol.http1` and the shared Engine.IO rules of
:mod:`jupyter_sio.transport.eio_http`, so an Engine.IO client sees the same answers as
from the Tornado handler (which stays, for Jupyter and for extra Tornado routes).

Routes (:class:`Site`): the Engine.IO path (polling GET/POST/OPTIONS and the WebSocket
upgrade), optionally the kernel link (``/kernel/``, WebSocket, the kernel secret) and the
demo page's static files.

Connections: one request at a time, in order (pipelined requests wait in the parser's
buffer; past :data:`MAX_PIPELINED` bytes reading pauses). Timeouts, against clients that
send slowly (slowloris): ``header_timeout`` from the first byte of a request head (from
the connection's start for its first request) to its end, ``body_timeout`` for a whole
body, ``idle_timeout`` between requests of a kept-alive connection. A held GET and a
WebSocket have none. Past one the connection is closed without an answer, as Tornado does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..hub.hub import Hub
from ..hub.sio_connection import Handshake, Identity
from ..protocol import http1
from ..protocol.eio_session import Transport
from ..protocol.link_codec import TOKEN_HEADER
from ..protocol.ws_codec import UpgradeRefusal, accept_key, check_upgrade
from . import eio_http
from .eio_connection import EngineConnection, EngineServer, open_websocket
from .eio_http import (
    BAD_HANDSHAKE_METHOD,
    BAD_REQUEST,
    STANDALONE,
    EngineError,
    PollingBody,
    Reply,
)
from .link_endpoint import KernelLink, kernel_identity
from .ws_stream import Opener, WebSocketApp, WebSocketStream, start_websocket

log = logging.getLogger("jupyter_sio.transport")
access = eio_http.access

#: Bytes of pipelined requests buffered while one is being answered (then reading pauses).
MAX_PIPELINED = 64 * 1024
READ_BUFFER = 64 * 1024
_REASONS = {status.value: status.phrase for status in HTTPStatus}
_HEADS: dict[tuple[int, eio_http.Headers], bytes] = {}
_MAX_HEADS = 64  # (CORS headers carry the Origin: a bounded cache)


def _status_and_headers(status: int, headers: eio_http.Headers) -> bytes:
    """A response's status line and header lines; those of 200s encoded once (the polling
    answers repeat a handful of them)."""
    key = (status, headers)
    try:
        return _HEADS[key]
    except (KeyError, TypeError):  # (TypeError: a list of headers, not cached)
        pass
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    head = "".join(lines).encode("latin-1")
    if status == 200 and type(headers) is tuple and len(_HEADS) < _MAX_HEADS:
        _HEADS[key] = head
    return head


@dataclass(frozen=True, slots=True)
class Limits:
    """Timeouts (seconds) and sizes of the native front end (see the module docstring)."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    idle_timeout: float = 10.0
    max_line: int = 8192
    max_head: int = 65536
    max_fields: int = 100


class Site:
    """What one server serves: an Engine.IO endpoint, and optionally the kernel link and
    static files.

    ``authenticate`` (called with the request's :class:`~eio_http.Exchange`) says who a
    polling or WebSocket client is; without it everyone is the standalone hub's anonymous
    user, as with :class:`~jupyter_sio.transport.tornado.EngineIOHandler`.
    """

    def __init__(
        self,
        engine: EngineServer,
        path: str = "/socket.io/",
        *,
        authenticate: Callable[[eio_http.Exchange], Identity] | None = None,
        kernel_secret: str | None = None,
        kernel_path: str = "/kernel/",
        static: Path | None = None,
    ) -> None:
        self.engine = engine
        base = path.rstrip("/")
        self.engine_paths = frozenset({base, base + "/"})
        self.authenticate = authenticate
        self.kernel_secret = kernel_secret
        base = kernel_path.rstrip("/")
        self.kernel_paths = frozenset({base, base + "/"}) if kernel_secret else frozenset()
        self.static = static.resolve() if static is not None else None
        #: Bytes of a refused (413) polling body read and dropped before hanging up
        #: (closing a connection the client still writes to resets it, and it may lose the
        #: answer); :attr:`EngineIOHandler.max_discard` in Tornado.
        self.max_discard = 64 * 1024 * 1024


# -- one request ------------------------------------------------------------------------------
class Request:
    """A request to the Engine.IO path, as :mod:`eio_http` sees it (an ``Exchange``)."""

    __slots__ = ("connection", "head", "polling", "query", "site")

    def __init__(self, connection: Connection, head: http1.RequestHead, query: str) -> None:
        self.connection = connection
        self.site = connection.server.site
        self.head = head
        self.query = _parsed_query(query)
        self.polling: EngineConnection | None = None

    def header(self, name: str) -> str:
        return self.head.headers.get(name.lower(), "")

    def argument(self, name: str) -> str | None:
        return self.query.get(name)

    def authenticate(self) -> Identity:
        authenticate = self.site.authenticate
        return STANDALONE if authenticate is None else authenticate(self)

    def origin_allowed(self, origin: str) -> bool:
        host = self.head.headers.get("host", "")
        return eio_http.default_origin_allowed(self.site.engine, origin, host)

    def handshake(self, user: Identity) -> Handshake:
        return Handshake(
            headers=handshake_headers(self.head),
            query=dict(self.query),
            address=self.connection.address,
            url=self.head.target,
            secure=False,
            time=time.time(),
            user=user,
        )

    def disconnected(self) -> bool:
        return self.connection.closed


_QUERIES: dict[str, dict[str, str]] = {}
_MAX_QUERIES = 4096


def _parsed_query(query: str) -> dict[str, str]:
    """:func:`http1.parse_query`, cached: a polling client sends the same query with each
    request (``EIO``, ``transport``, ``sid``). Callers must not change the dict."""
    parsed = _QUERIES.get(query)
    if parsed is None:
        parsed = http1.parse_query(query)
        if len(query) > 512:
            return parsed
        if len(_QUERIES) >= _MAX_QUERIES:
            _QUERIES.clear()  # (sids come and go: start again rather than grow)
        _QUERIES[query] = parsed
    return parsed


def handshake_headers(head: http1.RequestHead, *, without: str = "") -> dict[str, str]:
    """The request's headers as the Tornado handler records them (``Content-Type`` names,
    repeated fields joined with ``,``)."""
    headers: dict[str, str] = {}
    for name, value in head.fields:
        key = "-".join(word.capitalize() for word in name.split("-"))
        if key == without:
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


class _HeaderView:
    """Case-insensitive ``get`` over a head's headers (what ``kernel_identity`` reads)."""

    __slots__ = ("headers",)

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def get(self, name: str, default: Any = None) -> Any:
        return self.headers.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.headers


def _json_reply(status: int, code: int, detail: str | None = None) -> Reply:
    return Reply(status, (("Content-Type", "application/json"),), eio_http.error_body(code, detail))


# Tornado's answer to a method its handler does not have (405), in Engine.IO's JSON shape.
_BAD_METHOD = _json_reply(400, BAD_HANDSHAKE_METHOD)
_NOT_FOUND = Reply(404, (("Content-Type", "text/plain"),), b"Not Found")


# -- one connection ---------------------------------------------------------------------------
class Connection(asyncio.BufferedProtocol):
    """One HTTP/1.1 connection: parse, answer each request in order, switch to WebSocket.

    A buffered protocol: asyncio's plain one reads with ``recv(256 KiB)``, and allocating
    (and shrinking) that much per read cost ~20 µs here, more than parsing the request;
    reads go into the server's one buffer instead and are copied out at their size.
    """

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        limits = server.limits
        self.limits = limits
        self.parser = http1.RequestParser(
            max_line=limits.max_line, max_head=limits.max_head, max_fields=limits.max_fields
        )
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self.closed = False
        self._closing = False
        self.loop = asyncio.get_running_loop()
        self._busy = False  # a request is being answered (a GET held, say)
        self._upgraded = False
        self._head: http1.RequestHead | None = None
        self._request: Request | None = None
        self._body: PollingBody | None = None
        self._discarding = False  # the early 413 is out; dropping the rest of its body
        self._continued = False  # "100 Continue" was sent for this request
        self._keep_alive = True
        self._head_started = True  # the first request's clock runs from the connection
        self._reading_paused = False
        self._writing_paused = False
        self._held: eio_http.HeldGet | None = None  # the GET waiting for packets
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    @property
    def request_head(self) -> http1.RequestHead | None:
        """The head of the request being read or answered."""
        return self._head

    # -- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # (uvloop's is no subclass)
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) else ""
        self.server.connections.add(self)
        self._expire_in(self.limits.header_timeout)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self.server.read_buffer[:nbytes]))

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        parser.feed(data)
        if self._busy or self._writing_paused:
            if parser.buffered > MAX_PIPELINED:
                self._pause_reading()
            return
        if not self._head_started:
            self._head_started = True
            self._expire_in(self.limits.header_timeout)
        self._process()

    def eof_received(self) -> bool | None:
        return None  # close: a client that half-closes is gone for HTTP/1.1 purposes

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self._closing = True
        self.server.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        request = self._request
        if request is not None and request.polling is not None:
            request.polling.abort_poll()  # the client dropped a held GET

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._resume_reading()
        if not self._busy:
            self._process()

    # -- requests ------------------------------------------------------------------------
    def _process(self) -> None:
        """Hand out the parser's events until it needs data or a request is being answered."""
        parser = self.parser
        while not (self._busy or self._closing or self._upgraded or self._writing_paused):
            event = parser.next_event()
            if event is http1.NEED_DATA:
                if self._head is None and not self._head_started and parser.in_head:
                    self._head_started = True
                    self._expire_in(self.limits.header_timeout)
                return
            if type(event) is http1.Data:
                self._data(event.data)
            elif event is http1.END:
                self._end()
            elif type(event) is http1.RequestHead:
                self._begin(event)
            else:
                assert isinstance(event, http1.Malformed)
                self._malformed(event)
                return

    def _begin(self, head: http1.RequestHead) -> None:
        self._head = head
        self._keep_alive = head.keep_alive
        self._expire_in(self.limits.body_timeout if head.has_body else None)
        if head.method != "POST":
            return
        path, query = http1.split_target(head.target)
        if path not in self.server.site.engine_paths:
            return
        self._request = request = Request(self, head, query)
        self._body = body = PollingBody(
            self.server.site.engine.config.max_payload, head.content_length
        )
        if body.too_large:
            self._answer_early(request, body)
        elif head.expect_continue:
            self._continued = True
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _data(self, data: bytes) -> None:
        body = self._body
        if body is None:
            return  # a body nobody reads (Engine.IO sends none with GET or OPTIONS): dropped
        if body.feed(data):
            assert self._request is not None
            self._answer_early(self._request, body)
        elif self._discarding and body.dropped > self.server.site.max_discard:
            self._close()

    def _answer_early(self, request: Request, body: PollingBody) -> None:
        """Answer an oversized POST before its body ends (413, session closed)."""
        reply = eio_http.serve_post(self.server.site.engine, request, body)
        head = self._head
        assert head is not None
        if head.expect_continue and not self._continued:
            # A client that waits for "100 Continue" sends no body after a final answer.
            self._keep_alive = False
            self._respond(reply)
            self._close()
            return
        self._respond(reply)
        self._discarding = True

    def _end(self) -> None:
        head = self._head
        assert head is not None
        self._expire_in(None)
        if self._discarding:
            self._discarding = False
            self._finished()
            return
        path, query = http1.split_target(head.target)
        site = self.server.site
        method = head.method
        if path in site.engine_paths:
            request = self._request or Request(self, head, query)
            self._request = request
            if method == "GET":
                if "websocket" in head.headers.get("upgrade", "").lower():
                    self._upgrade_engine(request)
                    return
                self._serve_get(request)
                return
            if method == "POST":
                self._respond(eio_http.serve_post(site.engine, request, self._body))
            elif method == "OPTIONS":
                self._respond(eio_http.serve_options(site.engine, request))
            else:
                self._respond(_BAD_METHOD)
        elif path in site.kernel_paths:
            self._kernel_link(head)
            return
        elif site.static is not None and method in ("GET", "HEAD"):
            self._respond(static_reply(site.static, path, query), head_only=method == "HEAD")
        else:
            self._respond(_NOT_FOUND)
        self._finished()

    def _serve_get(self, request: Request) -> None:
        """Answer a polling GET now if it can be, else hold it (no coroutine either way)."""
        try:
            reply = eio_http.start_get(self.server.site.engine, request)
        except Exception:
            log.exception("polling GET failed")
            reply = _json_reply(500, BAD_REQUEST, "Internal Server Error")
        if type(reply) is eio_http.HeldGet:
            self._busy = True
            self._held = reply
            reply.poll.add_done_callback(self._released)
            return
        assert isinstance(reply, Reply)
        self._respond(reply)
        self._finished()

    def _released(self, _: object) -> None:
        """The held GET can be answered (packets, a ping, a close, or its client left)."""
        held, self._held = self._held, None
        request = self._request
        assert held is not None and request is not None
        try:
            reply = eio_http.finish_get(self.server.site.engine, request, held)
        except Exception:
            log.exception("polling GET failed")
            reply = _json_reply(500, BAD_REQUEST, "Internal Server Error")
        self._busy = False
        if reply is None or self.closed:
            return
        self._respond(reply)
        self._finished()
        self._resume_reading()
        self._process()

    def _finished(self) -> None:
        """The response is out: next request, or close."""
        self._head = None
        self._request = None
        self._body = None
        self._continued = False
        if not self._keep_alive:
            self._close()
            return
        if not self.closed:
            self._head_started = False
            self._expire_in(self.limits.idle_timeout)

    def _malformed(self, event: http1.Malformed) -> None:
        log.info("malformed HTTP request from %s: %s", self.address, event.reason)
        self._keep_alive = False
        self._respond(Reply(event.status, (("Content-Type", "text/plain"),), event.reason.encode()))
        self._close()

    # -- output --------------------------------------------------------------------------
    def _respond(self, reply: Reply, *, head_only: bool = False) -> None:
        if self.closed:
            return
        status = reply.status
        request = self._head
        if not self._keep_alive:
            tail = b"Connection: close\r\n\r\n"
        elif request is not None and not request.http11:
            tail = b"Connection: keep-alive\r\n\r\n"
        else:
            tail = b"\r\n"
        body = reply.body
        parts = [_status_and_headers(status, reply.headers)]
        if status >= 200 and status != 204:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts += (self.server.date_line(), tail)
        if body and not head_only:
            parts.append(body)
        self._write(b"".join(parts))  # one write: head and body in one segment
        if access.isEnabledFor(logging.DEBUG):
            access.debug(
                "%d %s %s (%s)",
                status,
                request.method if request else "-",
                request.target if request else "-",
                self.address,
            )

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self._closing:
            self.transport.write(data)

    def _close(self) -> None:
        self._closing = True
        if self.transport is not None and not self.closed:
            self.transport.close()  # writes what is buffered first

    # -- flow control and timeouts -------------------------------------------------------
    def _pause_reading(self) -> None:
        if not self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and self.transport is not None and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()

    def _expire_in(self, seconds: float | None) -> None:
        """Close the connection ``seconds`` from now (``None``: no deadline). One timer,
        moved lazily: it rechecks the deadline when it fires."""
        if seconds is None:
            self._deadline = None
            return
        deadline = self._deadline = self.loop.time() + seconds
        timer = self._timer
        if timer is not None and self._timer_at <= deadline:
            return
        if timer is not None:
            timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.closed or self._upgraded:
            return
        if self.loop.time() < deadline:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._on_deadline)
            return
        log.debug("closing HTTP connection from %s: timed out", self.address)
        if self.transport is not None:
            self.transport.abort()

    # -- WebSocket -----------------------------------------------------------------------
    def _upgrade_engine(self, request: Request) -> None:
        site = self.server.site
        try:
            transport = eio_http.check_query(site.engine, request)
            user = request.authenticate()
            if transport is not Transport.WEBSOCKET:
                raise EngineError(BAD_REQUEST)
        except EngineError as exc:
            self._respond(eio_http.error_reply(site.engine, request, exc))
            self._finished()
            return
        origin = request.header("Origin") or request.header("Sec-Websocket-Origin")
        if origin and not request.origin_allowed(origin):
            self._refuse_upgrade(403, "Cross origin websockets not allowed")
            return
        key = self._accept(request.head)
        if key is None:
            return
        engine = site.engine

        sid = request.argument("sid")

        def opener(stream: WebSocketStream) -> WebSocketApp | None:
            return open_websocket(engine, stream, sid, lambda: request.handshake(user))

        self._switch(key, opener, engine.config.max_payload)

    def _kernel_link(self, head: http1.RequestHead) -> None:
        site = self.server.site
        try:
            if "websocket" not in head.headers.get("upgrade", "").lower():
                raise EngineError(eio_http.FORBIDDEN, 403, "the kernel link is WebSocket only")
            assert site.kernel_secret is not None
            identity = kernel_identity(_HeaderView(head.headers), site.kernel_secret)
        except EngineError as exc:
            body = json.dumps({"code": exc.code, "message": str(exc)}).encode()
            ctype = (("Content-Type", "application/json; charset=UTF-8"),)
            self._respond(Reply(exc.status, ctype, body))
            self._finished()
            return
        origin = head.headers.get("origin", "")
        if origin and not eio_http.same_origin(origin, head.headers.get("host", "")):
            self._refuse_upgrade(403, "Cross origin websockets not allowed")
            return
        key = self._accept(head)
        if key is None:
            return
        hub = site.engine.hub
        assert isinstance(hub, Hub), "the kernel link needs a Socket.IO hub"
        handshake = Handshake(
            headers=handshake_headers(head, without=TOKEN_HEADER),
            address=self.address,
            url=head.target,
            secure=False,
            time=time.time(),
            user=identity,
        )

        def opener(stream: WebSocketStream) -> WebSocketApp:
            return KernelLink(hub, stream, handshake)

        self._switch(key, opener, hub.config.link_max_message)

    def _accept(self, head: http1.RequestHead) -> str | None:
        """The Sec-WebSocket-Key of a valid RFC 6455 §4.2.1 handshake, else answer and
        ``None`` (the rules are :func:`~jupyter_sio.protocol.ws_codec.check_upgrade`)."""
        checked = check_upgrade(head.method, head.http11, head.headers.get)
        if isinstance(checked, UpgradeRefusal):
            self._refuse_upgrade(checked.status, checked.text, checked.headers)
            return None
        return checked

    def _switch(self, key: str, opener: Opener, max_message: int) -> None:
        """Write the 101 and give the socket to a :class:`WebSocketStream`."""
        self._write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
        )
        if access.isEnabledFor(logging.DEBUG):
            access.debug("101 GET %s (%s)", self._head.target if self._head else "-", self.address)
        initial = self.upgraded()
        assert self.transport is not None
        start_websocket(self.transport, opener, max_message=max_message, initial=initial)

    def _refuse_upgrade(self, status: int, text: str, extra: eio_http.Headers = ()) -> None:
        headers = (("Content-Type", "text/html; charset=UTF-8"), *extra)
        self._respond(Reply(status, headers, text.encode()))
        self._finished()

    def upgraded(self) -> bytes:
        """Give the connection to a WebSocket: this object stops reading it. Returns the
        bytes that came after the handshake."""
        self._upgraded = True
        self._expire_in(None)
        self.server.connections.discard(self)
        self._resume_reading()
        return self.parser.take_rest()


def static_reply(root: Path, path: str, query: str) -> Reply:
    """A file of ``root`` (the demo page): ``/`` redirects to ``/index.html``, as Tornado's
    RedirectHandler did; nothing outside ``root`` is ever read."""
    if path == "/":
        location = "/index.html" + (f"?{query}" if query else "")
        return Reply(301, (("Location", location), ("Content-Type", "text/html")), b"")
    relative = unquote(path).lstrip("/")
    if "\x00" in relative:
        return _NOT_FOUND
    try:
        file = (root / relative).resolve()
    except (OSError, RuntimeError):
        return _NOT_FOUND
    if not file.is_relative_to(root) or not file.is_file():
        return _NOT_FOUND
    content_type, encoding = mimetypes.guess_type(file.name)
    if encoding == "gzip":
        content_type = "application/gzip"
    try:
        data = file.read_bytes()
    except OSError:
        return _NOT_FOUND
    return Reply(200, (("Content-Type", content_type or "application/octet-stream"),), data)


# -- the server -------------------------------------------------------------------------------
class HttpServer:
    """Listens for one :class:`Site` with :func:`asyncio.loop.create_server`."""

    def __init__(self, site: Site, limits: Limits | None = None) -> None:
        self.site = site
        self.limits = limits or Limits()
        self.connections: set[Connection] = set()
        #: Where every connection of this server reads (one loop: one read at a time).
        self.read_buffer = memoryview(bytearray(READ_BUFFER))
        self._server: asyncio.Server | None = None
        self._date_at = 0
        self._date = b""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self), host, port, backlog=1024, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    def date_line(self) -> bytes:
        """The Date header line (RFC 9110 §6.6.1), made once a second."""
        now = int(time.time())
        if now != self._date_at:
            self._date_at = now
            date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
            self._date = f"Date: {date}\r\n".encode()
        return self._date

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    async def close_connections(self, timeout: float = 5.0) -> None:
        """Let answers being written go out (held GETs the shutdown released), then close."""
        held = [c._held.poll for c in self.connections if c._held is not None]
        if held:
            await asyncio.wait(held, timeout=timeout)
        for connection in list(self.connections):
            connection._close()
        if self._server is not None:
            self._server = None
        await asyncio.sleep(0)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
