"""Namespaces: handler tables, middleware, the sockets connected to them and their adapter."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ..exceptions import ConnectionRefused
from .adapter import Adapter
from .delivery import Delivery
from .operators import BroadcastOperator
from .recovery import Recovery

if TYPE_CHECKING:
    from .hub import Hub
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub")

Handler = Callable[..., Any]
H = TypeVar("H", bound=Callable[..., Any])
Middleware = Callable[["Socket", dict[str, Any]], Any]
M = TypeVar("M", bound=Middleware)
NamespaceMatcher = str | re.Pattern[str] | Callable[[str, dict[str, Any]], bool]
#: steps of a hub operation that run synchronously until one yields an awaitable
Steps = Generator[Awaitable[Any], Any, None]

#: Events that are the socket's lifecycle, not messages from the client.
LIFECYCLE = ("connect", "disconnect")
CATCH_ALL = "*"


class Handlers:
    """Event handlers and middleware, shared by a dynamic namespace and its children."""

    def __init__(self) -> None:
        self.events: dict[str, Handler] = {}
        self.middleware: list[Middleware] = []

    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler(socket, *args)`` for ``event``; usable as a decorator.

        ``"connect"`` handlers get ``(socket, auth)`` and may refuse by raising
        :class:`~jupyter_sio.exceptions.ConnectionRefused`; ``"disconnect"`` handlers get
        ``(socket, reason)``; ``"*"`` catches events without a handler as
        ``(socket, event, *args)``. A handler's return value answers the client's ack
        (a tuple answers with several values).
        """

        def register(fn: Handler) -> Handler:
            self.events[event] = fn
            return fn

        return register(handler) if handler is not None else register

    def use(self, middleware: M) -> M:
        """Add connect middleware ``fn(socket, auth)`` (sync or async), run in order.

        Raising :class:`~jupyter_sio.exceptions.ConnectionRefused` (or the builtin
        ``ConnectionRefusedError``) refuses the client with a CONNECT_ERROR.
        """
        self.middleware.append(middleware)
        return middleware


class Namespace:
    """A Socket.IO namespace: its sockets, handlers and adapter."""

    def __init__(self, hub: Hub, name: str, handlers: Handlers | None = None) -> None:
        self.hub = hub
        self.name = name
        self.handlers = handlers or Handlers()
        self.sockets: dict[str, Socket] = {}
        self.adapter: Adapter = hub.adapter_factory(self)
        #: connection-state recovery (see :mod:`.recovery`), if ``recovery_window`` is set
        self.recovery = Recovery(self, hub.config) if hub.config.recovery_window > 0 else None

    # -- registration ----------------------------------------------------------------------
    @overload
    def on(self, event: str) -> Callable[[H], H]: ...
    @overload
    def on(self, event: str, handler: H) -> H: ...

    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register an event handler; see :meth:`Handlers.on`."""
        return self.handlers.on(event) if handler is None else self.handlers.on(event, handler)

    def use(self, middleware: M) -> M:
        """Add connect middleware; see :meth:`Handlers.use`."""
        return self.handlers.use(middleware)

    # -- broadcast -------------------------------------------------------------------------
    @property
    def _all(self) -> BroadcastOperator:
        return BroadcastOperator(self)

    def to(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._all.to(*rooms)

    in_ = to

    def exclude(self, *rooms: str | Iterable[str]) -> BroadcastOperator:
        return self._all.exclude(*rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        return self._all.volatile

    @property
    def local(self) -> BroadcastOperator:
        return self._all.local

    def emit(self, event: str, *args: Any, key: str | None = None) -> Delivery:
        """Emit to every socket of the namespace."""
        return self._all.emit(event, *args, key=key)

    # -- dispatch (used by Socket / Client) ------------------------------------------------
    def handler_for(self, event: Any) -> Handler | None:
        """The handler registered for ``event`` (lifecycle names are not client events)."""
        return self.handlers.events.get(event) if event not in LIFECYCLE else None

    def catch_all(self) -> Handler | None:
        """The ``"*"`` handler: events nobody else handles, as ``(socket, event, *args)``."""
        return self.handlers.events.get(CATCH_ALL)

    def middleware_steps(self, socket: Socket, auth: dict[str, Any]) -> Steps:
        """Run connect middleware in order (any of them raises to refuse), yielding what
        an async one returns for the caller to await (see ``Client._admit``)."""
        for middleware in self.handlers.middleware:
            result = middleware(socket, auth)
            if inspect.isawaitable(result):
                yield result

    def connect_steps(self, socket: Socket, auth: dict[str, Any]) -> Steps:
        """Run the ``connect`` handler; raising or returning ``False`` refuses."""
        handler = self.handlers.events.get("connect")
        if handler is not None:
            result = _call_connect(handler, socket, auth)
            if inspect.isawaitable(result):
                result = yield result
            if result is False:
                raise ConnectionRefused("Connection refused by the server")

    def add(self, socket: Socket) -> None:
        self.sockets[socket.id] = socket
        if self.hub.monitor is not None:
            self.hub.monitor.on_socket_connected(socket)
        self.adapter.add_all(socket.id, (socket.id,))

    def remove(self, socket: Socket, reason: str) -> None:
        """Forget a socket and run the disconnect handler (once the socket is gone)."""
        # (A recovered session's new socket has the same id: leave it alone.)
        current = self.sockets.get(socket.id) is socket
        rooms = set(self.adapter.rooms_of(socket.id)) if current else set()
        if self.recovery is not None:
            self.recovery.left(socket, rooms, reason)
        if current:
            self.adapter.delete_all(socket.id)
            del self.sockets[socket.id]
        if self.hub.monitor is not None:
            self.hub.monitor.on_socket_disconnected(socket, reason)
        for hook in self.hub.closed_hooks:
            try:
                hook(socket, rooms)
            except Exception:
                log.exception("socket-closed hook failed")
        handler = self.handlers.events.get("disconnect")
        if handler is None:
            return
        try:
            result = handler(socket, reason)
        except Exception:
            log.exception("disconnect handler failed in namespace %s", self.name)
            return
        if inspect.iscoroutine(result):
            self.hub.spawn(result)

    def __repr__(self) -> str:
        return f"<Namespace {self.name} sockets={len(self.sockets)}>"


def _call_connect(handler: Handler, socket: Socket, auth: dict[str, Any]) -> Any:
    """Call a connect handler with ``(socket, auth)`` or just ``(socket)``."""
    try:
        params = inspect.signature(handler).parameters
    except (TypeError, ValueError):
        return handler(socket, auth)
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params.values()):
        return handler(socket, auth)
    return handler(socket)
