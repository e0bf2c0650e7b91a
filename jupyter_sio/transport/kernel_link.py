"""The kernel link endpoint: a WebSocket carrying link frames for trusted peers (kernels).

Kernels have no browser cookie and, under JupyterHub, no usable server token, so the
server (or the embedded hub) makes a random secret and gives it to the kernels it starts
through the environment. A kernel presents it in the ``X-Jupyter-Sio-Token`` header (never
in the URL, which proxies log) with its kernel id in ``X-Jupyter-Sio-Kernel``. The frames
(:mod:`jupyter_sio.protocol.link_codec`) are served by a
:class:`~jupyter_sio.hub.kernel_peer.KernelPeer`; this module only moves messages.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlparse

from tornado.websocket import WebSocketHandler, WebSocketProtocol

from ..hub.hub import Hub
from ..hub.kernel_peer import KernelPeer
from ..hub.sio_connection import Handshake, Identity
from ..protocol.link_codec import KERNEL_HEADER, SESSION_HEADER, TOKEN_HEADER
from .eio_connection import EngineServer
from .tornado import FORBIDDEN, EngineError, websocket_protocol
from .ws_stream import WebSocketStream
from .ws_tornado import StreamTakeover


def kernel_identity(headers: Any, secret: str, user: str = "kernel") -> Identity:
    """The identity of a kernel that presented ``secret``; raises EngineError otherwise."""
    presented = headers.get(TOKEN_HEADER, "")
    if not secret or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise EngineError(FORBIDDEN, 403, "bad or missing kernel secret")
    kernel_id = headers.get(KERNEL_HEADER) or None
    return Identity(
        name=user,
        display_name=f"kernel {kernel_id[:8]}" if kernel_id else "kernel",
        kernel_id=kernel_id,
        session=headers.get(SESSION_HEADER) or None,
        powers=True,
    )


class StreamLinkWriter:
    """A :class:`~jupyter_sio.transport.ws_stream.WebSocketStream` as a
    :class:`~jupyter_sio.hub.kernel_peer.LinkWriter` (writes never wait: ``None``)."""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocketStream) -> None:
        self.ws = ws

    def write_text(self, text: str) -> None:
        self.ws.write_text(text)

    def write_binary(self, data: bytes) -> None:
        self.ws.write_binary(data)

    def pending_bytes(self) -> int:
        return self.ws.pending_bytes()

    def close(self, reason: str) -> None:
        self.ws.close(1000, reason[:120])


class KernelLink:
    """The stream's app for one kernel link: messages to its :class:`KernelPeer`."""

    __slots__ = ("hub", "peer")

    def __init__(self, hub: Hub, ws: WebSocketStream, handshake: Handshake) -> None:
        self.hub = hub
        self.peer: KernelPeer | None = hub.open_kernel_link(StreamLinkWriter(ws), handshake)

    def receive_ws(self, ws: WebSocketStream, message: str | bytes) -> Awaitable[None] | None:
        peer = self.peer
        if peer is not None:
            return peer.on_message(message)  # an awaitable pauses reading (backpressure)
        return None

    def websocket_drained(self, ws: WebSocketStream) -> None:
        """The peer checks congestion itself (``pending_bytes``) while a packet waits."""

    def websocket_closed(self, ws: WebSocketStream) -> None:
        peer, self.peer = self.peer, None
        if peer is not None:
            self.hub.kernel_link_closed(peer, "transport close")


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
