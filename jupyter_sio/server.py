"""Run a hub on its own HTTP server: ``python -m jupyter_sio serve module:hub``.

Also usable embedded in any asyncio program::

    server = HubServer(hub)
    await server.start("127.0.0.1", 8765)
    ...
    await server.stop()

Two front ends serve exactly the same Engine.IO endpoint (both follow
:mod:`jupyter_sio.transport.eio_http`):

- ``http="native"`` (the default): an asyncio HTTP/1.1 server of our own
  (:mod:`jupyter_sio.transport.http_server`), several times cheaper per polling request
  than Tornado's HTTP machinery (issue 11).
- ``http="tornado"``: a Tornado :class:`~tornado.web.Application` (``server.app``) that
  other Tornado handlers can join: ``extra_routes`` at construction, or
  ``server.app.add_handlers(...)``. Giving ``extra_routes`` chooses this front end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from tornado import httpserver, web
from tornado.netutil import bind_sockets

from .engine import EngineIO
from .exceptions import ConfigError
from .hub.hub import Hub
from .hub.sio_connection import Identity
from .transport.eio_connection import EngineServer
from .transport.eio_http import Exchange
from .transport.http_server import HttpServer, Limits, Site
from .transport.tornado import EngineIOHandler, access_log, engineio_route

log = logging.getLogger("jupyter_sio")
STATIC = Path(__file__).parent / "static"


def hub_routes(
    hub: Hub | EngineIO,
    path: str = "/socket.io/",
    handler: type[EngineIOHandler] = EngineIOHandler,
) -> tuple[EngineServer, list[Any]]:
    """The Engine.IO server of ``hub`` (or of a plain :class:`~jupyter_sio.engine.EngineIO`
    app) and the Tornado routes that serve it at ``path``."""
    engine = EngineServer(hub)
    return engine, [engineio_route(path, engine, handler)]


#: Defaults of :class:`HubServer`'s HTTP timeouts, in seconds.
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 60.0

Frontend = Literal["native", "tornado"]


class HubServer:
    """A hub (or a plain Engine.IO app) on an HTTP server, with clean start and stop.

    ``http`` picks the front end (see the module docstring); ``None`` means native unless
    ``extra_routes`` (Tornado URL specs) are given. ``authenticate`` (called with the
    request's :class:`~jupyter_sio.transport.eio_http.Exchange`, raising
    :class:`~jupyter_sio.transport.eio_http.EngineError` to refuse) says who a client is;
    ``kernel_secret`` also serves the kernel link at ``/kernel/`` for kernels presenting it.

    Timeouts keep clients that send slowly (slowloris) from holding connections:

    - ``header_timeout``: seconds a connection has to deliver a whole request head (request
      line and headers). A held long-poll GET and a WebSocket are not affected: the clock
      stops once the headers are in.
    - ``body_timeout``: seconds a request body may take to arrive (a polling POST carries
      at most ``max_payload`` bytes).
    - ``idle_timeout``: seconds a kept-alive connection may wait for its next request
      (default: ``header_timeout``; Tornado has no separate one, so there it is always
      ``header_timeout``).

    Past any, the connection is closed without an answer.
    """

    def __init__(
        self,
        hub: Hub | EngineIO,
        *,
        path: str = "/socket.io/",
        demo_page: bool = False,
        extra_routes: list[Any] | None = None,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        idle_timeout: float | None = None,
        http: Frontend | None = None,
        authenticate: Callable[[Exchange], Identity] | None = None,
        kernel_secret: str | None = None,
    ) -> None:
        timeouts = {"header_timeout": header_timeout, "body_timeout": body_timeout}
        if idle_timeout is not None:
            timeouts["idle_timeout"] = idle_timeout
        for name, value in timeouts.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and 0 < value < math.inf):
                raise ConfigError(f"{name} must be a finite number of seconds > 0, got {value!r}")
        if http is None:
            http = "tornado" if extra_routes else "native"
        if http not in ("native", "tornado"):
            raise ConfigError(f"http must be 'native' or 'tornado', got {http!r}")
        if http == "native" and extra_routes:
            raise ConfigError("extra_routes are Tornado routes: use http='tornado' with them")
        self.hub = hub
        self.path = path
        self.frontend: Frontend = http
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.idle_timeout = float(idle_timeout or header_timeout)
        self.engine = EngineServer(hub)
        static = STATIC if demo_page else None
        self.site = Site(
            self.engine,
            path,
            authenticate=authenticate,
            kernel_secret=kernel_secret,
            static=static,
        )
        self._app: web.Application | None = None
        if http == "tornado":
            self._app = self._tornado_app(path, authenticate, kernel_secret, demo_page)
            self._app.add_handlers(r".*", list(extra_routes or []))
        self._native: HttpServer | None = None
        self._tornado: httpserver.HTTPServer | None = None
        self.port: int | None = None

    def _tornado_app(
        self,
        path: str,
        authenticate: Callable[[Exchange], Identity] | None,
        kernel_secret: str | None,
        demo_page: bool,
    ) -> web.Application:
        pattern, handler, kwargs = engineio_route(path, self.engine)
        routes: list[Any] = [(pattern, handler, {**kwargs, "authenticate": authenticate})]
        if kernel_secret:
            from .transport.kernel_link import KernelLinkHandler

            secret = {"server": self.engine, "secret": kernel_secret}
            routes.append((r"/kernel/?", KernelLinkHandler, secret))
        if demo_page:
            routes += [
                (r"/", web.RedirectHandler, {"url": "/index.html"}),
                (r"/(.*)", web.StaticFileHandler, {"path": str(STATIC)}),
            ]
        return web.Application(routes, websocket_ping_interval=None, log_function=access_log)

    @property
    def app(self) -> web.Application:
        """The Tornado application (``http="tornado"`` only), e.g. to ``add_handlers``."""
        if self._app is None:
            raise ConfigError(
                "server.app exists with the Tornado front end only: HubServer(..., http='tornado')"
            )
        return self._app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (port 0 picks a free one); returns the port."""
        await self.hub.start()
        if self._app is None:
            limits = Limits(
                header_timeout=self.header_timeout,
                body_timeout=self.body_timeout,
                idle_timeout=self.idle_timeout,
            )
            self._native = HttpServer(self.site, limits)
            self.port = await self._native.start(host, port)
            return self.port
        self._tornado = httpserver.HTTPServer(
            self._app,
            max_body_size=self.hub.config.max_payload + 1,
            xheaders=False,
            idle_connection_timeout=self.header_timeout,  # Tornado's header timeout
            body_timeout=self.body_timeout,
        )
        sockets = bind_sockets(port, host)
        self._tornado.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def stop(self) -> None:
        """Stop accepting, disconnect every client, close adapters."""
        native, tornado = self._native, self._tornado
        if native is not None:
            native.stop_listening()
        if tornado is not None:
            tornado.stop()
        await self.engine.close()
        await self.hub.close()
        if native is not None:
            await native.close_connections(5)
            self._native = None
        if tornado is not None:
            # A client that stopped reading must not hold the shutdown forever.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(tornado.close_all_connections(), 5)
            self._tornado = None


async def serve(
    hub: Hub,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    path: str = "/socket.io/",
    demo_page: bool = False,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    http: Frontend = "native",
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    server = HubServer(
        hub,
        path=path,
        demo_page=demo_page,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        http=http,
    )
    port = await server.start(host, port)
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    log.info("jupyter_sio hub serving on http://%s:%d%s", shown, port, path)
    if demo_page:
        log.info("demo page: http://%s:%d/", shown, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
