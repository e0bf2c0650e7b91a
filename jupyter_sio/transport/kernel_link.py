"""The kernel link: a WebSocket-only Engine.IO endpoint for trusted peers (kernels).

Kernels have no browser cookie and, under JupyterHub, no usable server token, so the
server (or the embedded hub) makes a random secret and gives it to the kernels it starts
through the environment. A kernel presents it in the ``X-Jupyter-Sio-Token`` header (never
in the URL, which proxies log) with its kernel id in ``X-Jupyter-Sio-Kernel``; the
connection then gets kernel powers (:mod:`jupyter_sio.hub.powers`).
"""

from __future__ import annotations

import hmac
from typing import Any

from ..hub.sio_connection import Identity
from .eio_connection import EngineServer
from .tornado import FORBIDDEN, EngineError, EngineIOHandler

TOKEN_HEADER = "X-Jupyter-Sio-Token"
KERNEL_HEADER = "X-Jupyter-Sio-Kernel"
SESSION_HEADER = "X-Jupyter-Sio-Session"


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


class KernelLinkHandler(EngineIOHandler):
    """Engine.IO over WebSocket only, for peers holding the kernel secret."""

    def initialize(self, server: EngineServer, secret: str = "") -> None:  # type: ignore[override]
        super().initialize(server)
        self.secret = secret

    def authenticate(self) -> Identity:
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise EngineError(FORBIDDEN, 403, "the kernel link is WebSocket only")
        return kernel_identity(self.request.headers, self.secret)
