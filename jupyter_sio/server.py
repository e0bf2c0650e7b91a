"""Run a hub on its own Tornado server: ``python -m jupyter_sio serve module:hub``.

Also usable embedded in any asyncio program::

    server = HubServer(hub)
    await server.start("127.0.0.1", 8765)
    ...
    await server.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
from pathlib import Path
from typing import Any

from tornado import httpserver, web
from tornado.netutil import bind_sockets

from .engine import EngineIO
from .exceptions import ConfigError
from .hub.hub import Hub
from .transport.eio_connection import EngineServer
from .transport.tornado import EngineIOHandler, engineio_route

log = logging.getLogger("jupyter_sio")
STATIC = Path(__file__).parent / "static"


def hub_routes(
    hub: Hub | EngineIO, path: str = "/socket.io/",
    handler: type[EngineIOHandler] = EngineIOHandler,
) -> tuple[EngineServer, list[Any]]:
    """The Engine.IO server of ``hub`` (or of a plain :class:`~jupyter_sio.engine.EngineIO`
    app) and the Tornado routes that serve it at ``path``."""
    engine = EngineServer(hub)
    return engine, [engineio_route(path, engine, handler)]


#: Defaults of :class:`HubServer`'s HTTP timeouts, in seconds.
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 60.0


class HubServer:
    """A hub (or a plain Engine.IO app) on a Tornado HTTP server, with clean start and stop.

    Two timeouts keep clients that send slowly (slowloris) from holding connections:

    - ``header_timeout``: seconds a connection has to deliver a whole request head (request
      line and headers). Tornado starts this clock whenever it waits for a request, so it is
      also how long an idle keep-alive connection stays open (Tornado has no separate idle
      timeout: its ``idle_connection_timeout`` is this one). A held long-poll GET and a
      WebSocket are not affected: the clock stops once the headers are in.
    - ``body_timeout``: seconds a request body may take to arrive (a polling POST carries
      at most ``max_payload`` bytes).

    Past either, the connection is closed without an answer.
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
    ) -> None:
        for name, value in (("header_timeout", header_timeout), ("body_timeout", body_timeout)):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not (number and 0 < value < math.inf):
                raise ConfigError(f"{name} must be a finite number of seconds > 0, got {value!r}")
        self.hub = hub
        self.path = path
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.engine, routes = hub_routes(hub, path)
        if demo_page:
            routes += [
                (r"/", web.RedirectHandler, {"url": "/index.html"}),
                (r"/(.*)", web.StaticFileHandler, {"path": str(STATIC)}),
            ]
        routes += extra_routes or []
        self.app = web.Application(routes, websocket_ping_interval=None)
        self.http: httpserver.HTTPServer | None = None
        self.port: int | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (port 0 picks a free one); returns the port."""
        await self.hub.start()
        self.http = httpserver.HTTPServer(
            self.app,
            max_body_size=self.hub.config.max_payload + 1,
            xheaders=False,
            idle_connection_timeout=self.header_timeout,  # Tornado's header timeout
            body_timeout=self.body_timeout,
        )
        sockets = bind_sockets(port, host)
        self.http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def stop(self) -> None:
        """Stop accepting, disconnect every client, close adapters."""
        if self.http is not None:
            self.http.stop()
        await self.engine.close()
        await self.hub.close()
        if self.http is not None:
            # A client that stopped reading must not hold the shutdown forever.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.http.close_all_connections(), 5)
            self.http = None


async def serve(
    hub: Hub,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    path: str = "/socket.io/",
    demo_page: bool = False,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    server = HubServer(
        hub,
        path=path,
        demo_page=demo_page,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
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
