"""jupyter_sio: Socket.IO-style real-time messaging for Jupyter.

The hub speaks Engine.IO v4 / Socket.IO v5, so the official ``socket.io-client`` and the
``python-socketio`` client work against it unchanged. Public API::

    from jupyter_sio import Hub, HubConfig, HubServer, ConnectionRefused
"""

from __future__ import annotations

from .config import HubConfig
from .exceptions import (
    AckTimeout,
    BufferFull,
    ConfigError,
    ConnectionRefused,
    Disconnected,
    PayloadTooLarge,
    ProtocolError,
    SioError,
)

__version__ = "0.1.0"

__all__ = [
    "AckTimeout",
    "Adapter",
    "BroadcastOperator",
    "BroadcastOptions",
    "BufferFull",
    "ConfigError",
    "ConnectionRefused",
    "Disconnected",
    "Hub",
    "HubConfig",
    "HubServer",
    "InMemoryAdapter",
    "PayloadTooLarge",
    "ProtocolError",
    "SioError",
    "Socket",
    "__version__",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext jupyter_sio``: connect this kernel to its hub and define ``sio``."""
    from .kernel.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .kernel.magics import unload_ipython_extension as unload

    unload(ipython)


def connect(url: str | None = None, token: str | None = None, **kwargs: object) -> object:
    """Connect a kernel or script to a hub; see :func:`jupyter_sio.kernel.connect`."""
    from .kernel import connect as kernel_connect

    return kernel_connect(url, token, **kwargs)  # type: ignore[arg-type]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Entry point of the Jupyter server extension (imported lazily: kernels stay light)."""
    from .jupyter.app import JupyterSioApp

    return [{"module": "jupyter_sio", "app": JupyterSioApp}]


_HUB_NAMES = ("Adapter", "BroadcastOperator", "BroadcastOptions", "Hub", "InMemoryAdapter",
              "Socket")


def __getattr__(name: str) -> object:
    # The hub and the server are imported only by code that serves: a kernel imports
    # jupyter_sio (and its kernel link) without them.
    if name == "HubServer":
        from .server import HubServer

        return HubServer
    if name in _HUB_NAMES:
        from . import hub

        return getattr(hub, name)
    raise AttributeError(f"module 'jupyter_sio' has no attribute {name!r}")
