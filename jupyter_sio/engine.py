"""Plain Engine.IO v4: text and binary messages, without Socket.IO packets.

The same transports, heartbeats, upgrade, buffers and limits as the hub (one
:class:`~jupyter_sio.transport.eio_connection.EngineServer` serves both), for programs that
speak Engine.IO directly, such as ``engine.io-client`` (npm) or python-engineio's client::

    from jupyter_sio import HubServer
    from jupyter_sio.engine import EngineIO

    app = EngineIO(ping_interval=25)

    @app.on("message")
    def echo(socket, data):          # str for text, bytes for binary
        socket.send(data)

    server = HubServer(app, path="/engine.io/")
    await server.start("127.0.0.1", 8765)

Handlers: ``connect(socket)``, ``message(socket, data)``, ``disconnect(socket, reason)``;
sync or async (an async handler runs as a task; handlers of one socket do not wait for
each other). ``socket.send`` writes at once or queues under the outbox policy, like an emit.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from .config import HubConfig
from .exceptions import BufferFull, Disconnected
from .hub.delivery import DONE, Delivery, check_size
from .hub.sio_connection import Handshake
from .protocol.frames import Outgoing

log = logging.getLogger("jupyter_sio.engine")

EVENTS = ("connect", "message", "disconnect")


class EngineSocket:
    """One Engine.IO connection: ``sid``, ``handshake``, :meth:`send`, :meth:`close`."""

    __slots__ = ("app", "channel", "closed", "data", "handshake")

    def __init__(self, app: EngineIO, channel: Any, handshake: Handshake) -> None:
        self.app = app
        self.channel = channel
        self.handshake = handshake
        self.data: dict[str, Any] = {}
        self.closed = False

    @property
    def sid(self) -> str:
        return str(self.channel.sid)

    @property
    def transport(self) -> str:
        return str(self.channel.transport_name)

    def send(self, data: str | bytes | bytearray | memoryview, *, volatile: bool = False
             ) -> Delivery:
        """Send one message (text for ``str``, binary otherwise); await for backpressure."""
        if self.closed:
            raise Disconnected(f"Engine.IO connection {self.sid} is closed")
        if isinstance(data, str):
            packet = Outgoing("4" + data, volatile=volatile)
        elif isinstance(data, (bytes, bytearray, memoryview)):
            packet = Outgoing.binary(bytes(data), volatile=volatile)
        else:
            raise TypeError(f"Engine.IO messages are str or bytes, not {type(data).__name__}")
        check_size(packet, self.app.config.max_buffer_bytes)
        if self.channel.send(packet):
            return DONE
        return self.channel.send_when_room(packet)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.channel.close("forced close")

    def on_message(self, data: str | bytes) -> None:
        self.app._dispatch("message", self, data)

    def __repr__(self) -> str:
        return f"<EngineSocket {self.sid} closed={self.closed}>"


class EngineIO:
    """A plain Engine.IO server application (see the module doc)."""

    def __init__(self, config: HubConfig | None = None, **settings: Any) -> None:
        base = config or HubConfig()
        self.config = base.replace(**settings) if settings else base
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.sockets: dict[str, EngineSocket] = {}
        self._tasks: set[Any] = set()

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register ``handler`` for ``"connect"``, ``"message"`` or ``"disconnect"``."""
        if event not in EVENTS:
            raise ValueError(f"Engine.IO events are {EVENTS}, not {event!r}")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[event] = fn
            return fn

        return register(handler) if handler is not None else register

    # -- what the Engine.IO server calls ---------------------------------------------------
    def connect_client(self, channel: Any, handshake: Handshake) -> EngineSocket:
        socket = EngineSocket(self, channel, handshake)
        self.sockets[socket.sid] = socket
        self._dispatch("connect", socket)
        return socket

    def client_closed(self, socket: EngineSocket, reason: str) -> None:
        if socket.closed:
            return
        socket.closed = True
        self.sockets.pop(socket.sid, None)
        self._dispatch("disconnect", socket, reason)

    async def start(self) -> None:
        """Nothing to prepare (servers call it, as for a hub)."""

    async def close(self) -> None:
        for socket in list(self.sockets.values()):
            socket.close()

    def _dispatch(self, event: str, socket: EngineSocket, *args: Any) -> None:
        handler = self.handlers.get(event)
        if handler is None:
            return
        try:
            result = handler(socket, *args)
        except (BufferFull, Disconnected) as exc:
            log.info("%s handler: %s", event, exc)
            return
        except Exception:
            log.exception("Engine.IO %s handler failed", event)
            return
        if inspect.isawaitable(result):
            import asyncio

            task = asyncio.ensure_future(result)
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: Any) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("Engine.IO handler failed", exc_info=task.exception())
