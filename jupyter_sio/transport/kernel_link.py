"""The kernel link endpoint's Tornado handlers (standalone/embedded hub, and the mixin the
Jupyter extension's handler shares).

What needs no Tornado (the kernel secret check, :class:`KernelLink`, the stream's app) is
in :mod:`jupyter_sio.transport.link_endpoint`, which the native server uses too.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

from tornado.websocket import WebSocketHandler, WebSocketProtocol

from ..hub.hub import Hub
from ..hub.sio_connection import Handshake, Identity
from ..protocol.link_codec import TOKEN_HEADER
from .eio_connection import EngineServer
from .link_endpoint import KernelLink, kernel_identity
from .tornado import FORBIDDEN, EngineError, websocket_protocol
from .ws_tornado import StreamTakeover

__all__ = ["KernelLinkHandler", "KernelLinkMixin", "kernel_identity"]


class KernelLinkMixin:
    """The WebSocket half shared by the standalone and the Jupyter link handlers."""

    server: EngineServer

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        handler: Any = self
        return websocket_protocol(handler, self.server.config.link_max_message)

    def link_identity(self) -> Identity:
        raise NotImplementedError

    def open(self, *args: Any, **kwargs: Any) -> None:
        handler: Any = self
        request = handler.request
        handshake = Handshake(
            headers={k: v for k, v in request.headers.items() if k != TOKEN_HEADER},
            address=request.remote_ip or "",
            url=request.uri or "",
            secure=request.protocol == "https",
            time=time.time(),
            user=self.link_identity(),
        )
        protocol = handler.ws_connection
        assert isinstance(protocol, StreamTakeover)
        hub = self._hub()
        protocol.start(lambda ws: KernelLink(hub, ws, handshake))

    def _hub(self) -> Hub:
        hub = self.server.hub
        assert isinstance(hub, Hub), "the kernel link needs a Socket.IO hub"
        return hub

    def get_compression_options(self) -> dict[str, Any] | None:
        return None  # never negotiated (see jupyter_sio.transport.ws_tornado)

    @property
    def max_message_size(self) -> int:
        return self.server.config.link_max_message

    # Heartbeats are link frames (ping/pong), not WebSocket pings.
    @property
    def ping_interval(self) -> float:
        return 0

    @property
    def ping_timeout(self) -> float:
        return 0


class KernelLinkHandler(KernelLinkMixin, WebSocketHandler):
    """The standalone and embedded hubs' link endpoint: the kernel secret, WebSocket only."""

    def initialize(self, server: EngineServer, secret: str = "") -> None:
        self.server = server
        self.secret = secret
        self._identity: Identity | None = None

    def link_identity(self) -> Identity:
        assert self._identity is not None
        return self._identity

    async def get(self, *args: Any, **kwargs: Any) -> None:
        try:
            if self.request.headers.get("Upgrade", "").lower() != "websocket":
                raise EngineError(FORBIDDEN, 403, "the kernel link is WebSocket only")
            self._identity = kernel_identity(self.request.headers, self.secret)
        except EngineError as exc:
            self.set_status(exc.status)
            self.finish({"code": exc.code, "message": str(exc)})
            return
        await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        # Kernels send no Origin; a browser page cannot set the secret's header anyway.
        return not origin or urlparse(origin).netloc.lower() == self.request.host.lower()
