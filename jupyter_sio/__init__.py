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
from .hub import Adapter, BroadcastOperator, BroadcastOptions, Hub, InMemoryAdapter, Socket

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


def __getattr__(name: str) -> object:
    # Tornado is imported only by code that serves (kernels may import jupyter_sio lightly).
    if name == "HubServer":
        from .server import HubServer

        return HubServer
    raise AttributeError(f"module 'jupyter_sio' has no attribute {name!r}")
