"""The hub: the public server object applications build on.

A :class:`Hub` knows namespaces, handlers and settings; it knows nothing about Tornado.
Transports hand it connections through :meth:`Hub.connect_client`. The default namespace
``/`` is reachable directly on the hub (``hub.on``, ``hub.emit``, ``hub.to``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, overload

from ..config import HubConfig
from .adapter import Adapter, InMemoryAdapter, NodeHandler
from .admin_ui import AdminAuth, AdminUI
from .browser_events import install as install_browser_events
from .delivery import Delivery
from .kernel_peer import KernelPeer, LinkWriter
from .kernel_routing import KernelRouter
from .namespace import H, Handlers, M, Namespace, NamespaceMatcher
from .namespace_socket import Socket
from .operators import BroadcastOperator
from .remote_routing import RemoteRouting
from .sio_connection import Channel, Client, ConnectDeadlines, Handshake, Identity

log = logging.getLogger("jupyter_sio.hub")

AdapterFactory = Callable[[Namespace], Adapter]
#: ``policy(identity, action, room) -> bool`` for browsers' built-in room events
RoomPolicy = Callable[[Identity, str, "str | None"], bool]


class Hub:
    """A Socket.IO server, independent of the web framework that carries it.

    Args:
        config: a :class:`~jupyter_sio.config.HubConfig`; keyword arguments override
            its fields (``Hub(ping_interval=5)``), misspelled ones raise ``TypeError``.
        adapter: factory of the room adapter of each namespace (in-memory by default).
        room_policy: ``policy(identity, action, room) -> bool`` deciding which rooms
            browsers may subscribe to, publish to and list (``sio:subscribe``,
            ``sio:publish``, ``sio:presence``); kernels and hub code are not restricted.

    Example::

        hub = Hub()

        @hub.on("chat")
        async def chat(socket, msg):
            await hub.to("lobby").emit("chat", msg)
            return "ok"                # answers the client's ack
    """

    def __init__(
        self,
        config: HubConfig | None = None,
        *,
        adapter: AdapterFactory = InMemoryAdapter,
        room_policy: RoomPolicy | None = None,
        **settings: Any,
    ) -> None:
        base = config or HubConfig()
        self.config = base.replace(**settings) if settings else base
        self.adapter_factory = adapter
        self.room_policy = room_policy
        self.namespaces: dict[str, Namespace] = {}
        self._dynamic: list[tuple[NamespaceMatcher, Handlers]] = []
        self.clients: dict[str, Client] = {}
        #: one timer for every client's connect timeout (see ``ConnectDeadlines``)
        self.connect_deadlines = ConnectDeadlines()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        #: which kernel answers which client event (see :mod:`.kernel_routing`)
        self.kernel_router = KernelRouter()
        self.kernel_peers: set[KernelPeer] = set()
        #: what this hub's features answer other nodes (see ``Adapter.tell`` / ``ask``)
        self.node_topics: dict[str, NodeHandler] = {}
        #: client events that kernels on other nodes handle (a hub spread by Redis)
        self.remote_routing = RemoteRouting(self)
        #: ``hook(socket, rooms_it_was_in)`` after a socket left its namespace
        self.closed_hooks: list[Callable[[Socket, set[str]], None]] = [self._socket_left]
        self._browser_events = False
        #: the Admin UI watching this hub, if :meth:`instrument` was called
        self.monitor: AdminUI | None = None
        self.of("/")

    def instrument(self, *, auth: AdminAuth, **options: Any) -> AdminUI:
        """Serve the official Socket.IO Admin UI on namespace ``/admin`` (python-socketio's
        ``instrument``, Node's ``@socket.io/admin-ui``); see :mod:`.admin_ui` for
        ``auth``, ``read_only``, ``mode``, ``namespace``, ``server_id``, ``stats_interval``."""
        if self.monitor is not None:
            raise RuntimeError("this hub is instrumented already")
        self.monitor = AdminUI(self, auth=auth, **options)
        return self.monitor

    def enable_browser_events(self) -> None:
        """Serve the ``sio:*`` built-ins browsers use (subscribe, presence, publish, ...)."""
        if not self._browser_events:
            self._browser_events = True
            install_browser_events(self)

    def open_kernel_link(self, writer: LinkWriter, handshake: Handshake) -> KernelPeer:
        """A transport accepted a kernel link (trusted: its identity has powers)."""
        peer = KernelPeer(self, writer, handshake)
        self.kernel_peers.add(peer)
        return peer

    def kernel_link_closed(self, peer: KernelPeer, reason: str) -> None:
        self.kernel_peers.discard(peer)
        peer.close(reason)

    def _socket_left(self, socket: Socket, _rooms: set[str]) -> None:
        router = self.kernel_router
        if router.owners:
            router.forget_socket(socket)
        for peer in self.kernel_peers:
            if peer.routed:
                peer.socket_left(socket)

    def unhandled(self, socket: Socket, data: list[Any], ack_id: int | None) -> None:
        """A client event nothing on this node handles: a kernel on another node may (a hub
        spread by Redis, see :mod:`.remote_routing`), else :meth:`answer_unhandled`."""
        if socket.namespace.adapter.spans_nodes:
            self.remote_routing.forward(socket, data, ack_id)
        else:
            self.answer_unhandled(socket, data, ack_id)

    def answer_unhandled(self, socket: Socket, data: list[Any], ack_id: int | None) -> None:
        """A client event nobody handles: answer its ack at once (``answer_unhandled``)."""
        event = data[0]
        log.debug("no handler for event %r in namespace %s", event, socket.namespace.name)
        if ack_id is not None and self.config.answer_unhandled:
            socket._answer(
                ack_id,
                {
                    "error": "unhandled",
                    "event": event,
                    "message": f"no handler for {event!r} in namespace {socket.namespace.name}",
                },
            )

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the hub keeps alive until it ends; failures are logged."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub task failed", exc_info=task.exception())

    # -- namespaces ------------------------------------------------------------------------
    def of(self, name: NamespaceMatcher) -> Any:
        """The namespace ``name``, created on first use.

        ``name`` may also be a compiled regex or a predicate ``fn(name, auth) -> bool``
        for dynamic namespaces: the object returned then registers handlers shared by
        every namespace that matches, created when a client first connects to it.
        """
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            namespace = self.namespaces.get(name)
            if namespace is None:
                namespace = self.namespaces[name] = self._new_namespace(name)
            return namespace
        handlers = Handlers()
        self._dynamic.append((name, handlers))
        return DynamicNamespace(self, handlers)

    def _namespace_for(self, name: str, auth: Any) -> Namespace | None:
        namespace = self.namespaces.get(name)
        if namespace is not None:
            return namespace
        for matcher, handlers in self._dynamic:
            if _matches(matcher, name, auth):
                namespace = self.namespaces[name] = self._new_namespace(name, handlers)
                return namespace
        return None

    def _new_namespace(self, name: str, handlers: Handlers | None = None) -> Namespace:
        namespace = Namespace(self, name, handlers)
        if self._started:
            self.spawn(namespace.adapter.init())
        return namespace

    async def start(self) -> None:
        """Initialise the adapters (a Redis adapter subscribes here). Servers call it."""
        if not self._started:
            self._started = True
            for namespace in list(self.namespaces.values()):
                await namespace.adapter.init()

    # -- default namespace shortcuts -------------------------------------------------------
    @property
    def default(self) -> Namespace:
        return self.namespaces["/"]

    @overload
    def on(self, event: str, *, namespace: str = "/") -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H, *, namespace: str = "/") -> H: ...

    def on(
        self, event: str, handler: Callable[..., Any] | None = None, *, namespace: str = "/"
    ) -> Any:
        """Register an event handler (decorator); see :meth:`Handlers.on`."""
        handlers = self.of(namespace).handlers
        return handlers.on(event) if handler is None else handlers.on(event, handler)

    def use(self, middleware: M, *, namespace: str = "/") -> M:
        """Add connect middleware; see :meth:`Handlers.use`."""
        handlers: Handlers = self.of(namespace).handlers
        return handlers.use(middleware)

    def emit(
        self,
        event: str,
        *args: Any,
        to: str | Iterable[str] | None = None,
        exclude: str | Iterable[str] | None = None,
        namespace: str = "/",
        volatile: bool = False,
        key: str | None = None,
        retain: bool | int = False,
    ) -> Delivery:
        """Emit to rooms (``to``), to everyone by default, except ``exclude``.

        ``volatile`` drops the packet for congested recipients; ``key`` makes congested
        recipients keep only the newest packet per key; ``retain=True`` (with ``key`` and
        ``to``) also keeps it as the room's current value for sockets that join later.
        Sent at once; await the result for backpressure on reliable emits.
        """
        op = self.of(namespace).to(to) if to is not None else BroadcastOperator(self.of(namespace))
        if exclude is not None:
            op = op.exclude(exclude)
        if volatile:
            op = op.volatile
        return op.emit(event, *args, key=key, retain=retain)

    def clear_retained(
        self, room: str | None = None, key: str | None = None, *, namespace: str = "/"
    ) -> None:
        """Forget retained values (one key of a room, a room, or all of the namespace)."""
        self.of(namespace).adapter.clear_retained(room, key)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.default.to(*rooms)

    in_ = to

    def exclude(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self.default.exclude(*rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self.default.volatile

    def get_socket(self, sid: str, namespace: str = "/") -> Socket | None:
        ns = self.namespaces.get(namespace)
        return ns.sockets.get(sid) if ns is not None else None

    # -- transports ------------------------------------------------------------------------
    def connect_client(self, channel: Channel, handshake: Handshake) -> Client:
        """A transport opened an Engine.IO connection; returns its Socket.IO client."""
        client = Client(self, channel, handshake)
        self.clients[channel.sid] = client
        if self.monitor is not None:
            self.monitor.on_client(True)
        return client

    def client_closed(self, client: Client, reason: str) -> None:
        self.clients.pop(client.channel.sid, None)
        client.on_close(reason)
        if self.monitor is not None:
            self.monitor.on_client(False)

    async def close(self) -> None:
        """Disconnect every client and close the adapters (clean shutdown)."""
        for peer in list(self.kernel_peers):
            self.kernel_link_closed(peer, "server shutting down")
        for client in list(self.clients.values()):
            client.channel.close("server shutting down")
        for namespace in list(self.namespaces.values()):
            await namespace.adapter.close()
        self._started = False

    def stats(self, detail: bool = False) -> dict[str, Any]:
        """Counts for an inspector; ``detail`` adds rooms and every client's buffers.

        ``adapter`` is the default namespace's adapter status (``kind``, ``state``; with
        Redis also ``since``, ``reconnects``, ``dropped``, ``last_error``, ...).
        """
        info: dict[str, Any] = {
            "clients": len(self.clients),
            "namespaces": {
                name: {
                    "sockets": len(ns.sockets),
                    "rooms": len(ns.adapter.rooms),
                    "deliveries": ns.adapter.deliveries,
                    "retained": sum(len(v) for v in ns.adapter.retained.values()),
                }
                for name, ns in self.namespaces.items()
            },
            "adapter": self.default.adapter.status(),
        }
        if detail:
            info["rooms"] = {
                name: {
                    room: len(members)
                    for room, members in ns.adapter.rooms.items()
                    if room not in ns.sockets
                }
                for name, ns in self.namespaces.items()
            }
            info["connections"] = [client.describe() for client in self.clients.values()]
        return info


class DynamicNamespace:
    """Registers handlers for every namespace matched by a regex or predicate."""

    def __init__(self, hub: Hub, handlers: Handlers) -> None:
        self.hub = hub
        self.handlers = handlers

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        return self.handlers.on(event) if handler is None else self.handlers.on(event, handler)

    def use(self, middleware: M) -> M:
        return self.handlers.use(middleware)

    @property
    def children(self) -> list[Namespace]:
        return [ns for ns in self.hub.namespaces.values() if ns.handlers is self.handlers]

    def emit(self, event: str, *args: Any, key: str | None = None) -> None:
        """Emit to every socket of every matching namespace created so far."""
        for namespace in self.children:
            namespace.emit(event, *args, key=key)


def _matches(matcher: NamespaceMatcher, name: str, auth: Any) -> bool:
    if isinstance(matcher, re.Pattern):
        return matcher.fullmatch(name) is not None
    if isinstance(matcher, str):
        return matcher == name
    try:
        return bool(matcher(name, auth))
    except Exception:
        log.exception("namespace predicate failed for %s", name)
        return False
