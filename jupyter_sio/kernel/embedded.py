"""The embedded hub: the same hub, inside the kernel, on 127.0.0.1.

Used where no server extension is reachable (plain ipykernel, ``jupyter console``,
nbclient, VS Code). Clients other than this kernel must present the embedded hub's token
(``?token=`` or ``Authorization: token ...``); it is never printed into a notebook:
read it from ``sio.embedded.token`` in code that needs it.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from tornado import httpserver, web
from tornado.netutil import bind_sockets

from ..hub.hub import Hub
from ..hub.sio_connection import Identity
from ..server import BODY_TIMEOUT, HEADER_TIMEOUT
from ..transport.eio_connection import EngineServer
from ..transport.kernel_link import KernelLinkHandler
from ..transport.tornado import FORBIDDEN, EngineError, EngineIOHandler, engineio_route
from .discovery import Endpoint, kernel_headers

GUEST = Identity(name="guest", can_subscribe=True, can_emit=True, powers=False)


class TokenEngineIOHandler(EngineIOHandler):
    """Engine.IO endpoint that wants the embedded hub's token."""

    def initialize(self, server: EngineServer, token: str = "") -> None:  # type: ignore[override]
        super().initialize(server)
        self.token = token

    def authenticate(self) -> Identity:
        # The handshake proves the token; later requests of that session carry its sid,
        # an unguessable capability (python-engineio sends headers on the handshake only).
        sid = self.get_query_argument("sid", None)
        conn = self.server.get(sid) if sid else None
        if conn is not None and conn.client is not None:
            return conn.client.handshake.user
        presented = self.get_query_argument("token", "")
        header = self.request.headers.get("Authorization", "")
        if header.lower().startswith(("token ", "bearer ")):
            presented = header.split(None, 1)[1]
        if not hmac.compare_digest(presented.encode(), self.token.encode()):
            raise EngineError(FORBIDDEN, 403, "missing or wrong token")
        return GUEST


class EmbeddedHub:
    """A hub served from the kernel process; start it on the kernel client's loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **settings: Any) -> None:
        self.host = host
        self.port = port
        self.secret = secrets.token_urlsafe(32)
        self.token = secrets.token_urlsafe(24)
        self.hub = Hub(**settings)
        self.hub.enable_browser_events()
        self.engine = EngineServer(self.hub)
        self._http: httpserver.HTTPServer | None = None

    async def start(self) -> Endpoint:
        await self.hub.start()
        pattern, handler, kwargs = engineio_route("/socket.io/", self.engine, TokenEngineIOHandler)
        app = web.Application(
            [
                (pattern, handler, {**kwargs, "token": self.token}),
                (r"/kernel/?", KernelLinkHandler, {"server": self.engine, "secret": self.secret}),
            ],
            log_function=_access_log,
        )
        # The standalone server's slowloris guards (see jupyter_sio.server.HubServer).
        self._http = httpserver.HTTPServer(
            app, max_body_size=self.hub.config.max_payload + 1,
            idle_connection_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT,
        )
        sockets = bind_sockets(self.port, self.host)
        self._http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        base = f"http://{self.host}:{self.port}/"
        return Endpoint(base + "kernel/", kernel_headers(self.secret), source="embedded", base=base)

    async def stop(self) -> None:
        if self._http is not None:
            self._http.stop()
            await self.engine.close()
            await self.hub.close()
            await self._http.close_all_connections()
            self._http = None


_access = logging.getLogger("jupyter_sio.embedded.access")


def _access_log(handler: web.RequestHandler) -> None:
    """Requests at debug level: in a kernel, Tornado's default would print every refused
    request (a 403 for a wrong token) into whichever cell's output is current."""
    request = handler.request
    _access.debug("%d %s %s (%s)", handler.get_status(), request.method, request.uri,
                  request.remote_ip)
