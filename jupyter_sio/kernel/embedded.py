"""The embedded hub: the same hub, inside the kernel, on 127.0.0.1.

Used where no server extension is reachable (plain ipykernel, ``jupyter console``,
nbclient, VS Code). Clients other than this kernel must present the embedded hub's token
(``?token=`` or ``Authorization: token ...``); it is never printed into a notebook:
read it from ``sio.embedded.token`` in code that needs it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from ..hub.hub import Hub
from ..hub.sio_connection import Identity
from ..server import HubServer
from ..transport.eio_connection import EngineServer
from ..transport.eio_http import FORBIDDEN, EngineError, Exchange
from .discovery import Endpoint, kernel_headers

GUEST = Identity(name="guest", can_subscribe=True, can_emit=True, powers=False)


def token_identity(engine: EngineServer, request: Exchange, token: str) -> Identity:
    """Who presents the embedded hub's ``token``; raises :class:`EngineError` otherwise."""
    # The handshake proves the token; later requests of that session carry its sid, an
    # unguessable capability (python-engineio sends headers on the handshake only).
    sid = request.argument("sid")
    conn = engine.get(sid) if sid else None
    if conn is not None and conn.client is not None:
        return conn.client.handshake.user
    presented = request.argument("token") or ""
    header = request.header("Authorization")
    if header.lower().startswith(("token ", "bearer ")):
        presented = header.split(None, 1)[1]
    if not hmac.compare_digest(presented.encode(), token.encode()):
        raise EngineError(FORBIDDEN, 403, "missing or wrong token")
    return GUEST


class EmbeddedHub:
    """A hub served from the kernel process; start it on the kernel client's loop.

    It is a :class:`~jupyter_sio.server.HubServer` (native front end, the same slowloris
    guards, requests logged at debug level only: in a kernel, an INFO line for a refused
    request would print into whichever cell's output is current) with the token check
    and the kernel link.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **settings: Any) -> None:
        self.host = host
        self.port = port
        self.secret = secrets.token_urlsafe(32)
        self.token = secrets.token_urlsafe(24)
        self.hub = Hub(**settings)
        self.hub.enable_browser_events()
        self.server = HubServer(
            self.hub,
            authenticate=lambda request: token_identity(self.engine, request, self.token),
            kernel_secret=self.secret,
        )
        self.engine = self.server.engine
        self._started = False

    async def start(self) -> Endpoint:
        self.port = await self.server.start(self.host, self.port)
        self._started = True
        base = f"http://{self.host}:{self.port}/"
        return Endpoint(base + "kernel/", kernel_headers(self.secret), source="embedded", base=base)

    async def stop(self) -> None:
        if self._started:
            self._started = False
            await self.server.stop()
