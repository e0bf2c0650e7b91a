"""The kernel link endpoint, framework-free: the kernel secret check and the stream's app.

Kernels have no browser cookie and, under JupyterHub, no usable server token, so the
server (or the embedded hub) makes a random secret and gives it to the kernels it starts
through the environment. A kernel presents it in the ``X-Jupyter-Sio-Token`` header (never
in the URL, which proxies log) with its kernel id in ``X-Jupyter-Sio-Kernel``. The frames
(:mod:`jupyter_sio.protocol.link_codec`) are served by a
:class:`~jupyter_sio.hub.kernel_peer.KernelPeer`; this module only moves messages.

Both front ends use it: the native server (:mod:`jupyter_sio.transport.http_server`) and
the Tornado handlers (:mod:`jupyter_sio.transport.kernel_link`). It imports no Tornado.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable
from typing import Any

from ..hub.hub import Hub
from ..hub.kernel_peer import KernelPeer
from ..hub.sio_connection import Handshake, Identity
from ..protocol.link_codec import KERNEL_HEADER, SESSION_HEADER, TOKEN_HEADER
from .eio_http import FORBIDDEN, EngineError
from .ws_stream import WebSocketStream


def kernel_identity(headers: Any, secret: str, user: str = "kernel") -> Identity:
    """The identity of a kernel that presented ``secret``; raises EngineError otherwise.

    ``headers`` needs a case-insensitive ``get(name, default)``.
    """
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
