"""The hub: namespaces, sockets, rooms, acks and broadcast, on asyncio and nothing else.

Transport connections enter through :meth:`Hub.connect_client` with a
:class:`~jupyter_sio.hub.sio_connection.Channel` (the transport's write side). Inbound Engine.IO
messages go to :meth:`Client.on_message`; outbound packets are encoded once into an
:class:`~jupyter_sio.protocol.frames.Outgoing` and given to each recipient's channel.
Rooms live in the namespace's :class:`~jupyter_sio.hub.adapter.Adapter`.
"""

from .adapter import Adapter, BroadcastOptions, InMemoryAdapter
from .hub import Hub
from .namespace import Namespace
from .namespace_socket import Socket
from .operators import BroadcastOperator
from .sio_connection import Channel, Client, Handshake

__all__ = [
    "Adapter",
    "BroadcastOperator",
    "BroadcastOptions",
    "Channel",
    "Client",
    "Handshake",
    "Hub",
    "InMemoryAdapter",
    "Namespace",
    "Socket",
]
