"""Built-in events that let trusted peers (kernels) act as server-side code.

A kernel runs the user's code with the user's rights, so the hub lets it do what a
server-side Socket.IO handler does. It connects to namespace ``/`` like any client and
sends these events, each acknowledged with ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``:

=================  ============================================================================
``sio:emit``       ``{event, args, to?, exclude?, namespace?, volatile?, key?, retain?,
                   include_self?}``: broadcast (the sender is left out unless
                   ``include_self``; ``retain`` keeps it as the rooms' value of ``key``)
``sio:clear``      ``{room?, key?, namespace?}``: forget retained values
``sio:call``       ``{sid, event, args, namespace?, timeout?}``: emit with ack to one socket;
                   answers ``{"ok": true, "result": [...]}``
``sio:join``       ``{rooms, sids?, namespace?}``: the sender (or the sockets ``sids``) join
``sio:leave``      same, leave
``sio:sockets``    ``{room?, namespace?}``: ``{"sockets": [{sid, user, kernel, transport, rooms}]}``
``sio:disconnect`` ``{sids, namespace?, close?}``
``sio:handle``     ``{events, namespace?}``: route these client events to the sender
``sio:unhandle``   ``{events?, namespace?}``
``sio:status``     hub statistics
``sio:hello``      ``{rooms?}``: after a (re)connect, join ``rooms`` plus the rooms this kernel id
                   had before (a restarted kernel keeps its id); answers ``{"rooms": [...]}``
=================  ============================================================================

Client events that no hub handler takes are routed to the kernels that asked for them with
``sio:handle``: each such kernel receives ``sio:event`` ``{event, args, sid, user, namespace}``
(with an ack id when the client asked for an ack). Every handling kernel gets the event;
the client's ack is answered by the first kernel that answers (re-running a cell in the
same kernel replaces that kernel's handler, it does not add one). When no kernel handles an
event and the client asked for an ack, the ack answers
``{"error": "unhandled", "event": ..., "message": ...}`` instead of leaving it to time out.

Browsers get a smaller set, checked against their :class:`Identity` and, when the hub has
one, its ``room_policy(identity, action, room) -> bool`` (action ``"subscribe"``,
``"publish"`` or ``"presence"``; room ``None`` for a namespace-wide publish): ``sio:subscribe``
``{rooms, announce?, name?}`` / ``sio:unsubscribe`` ``{rooms}`` (needs ``can_subscribe``;
with ``announce`` the room receives ``sio:presence`` ``{room, sockets}`` whenever an
announcing member arrives or leaves), ``sio:whoami``, ``sio:publish`` ``{event, args, to}``
(needs ``can_emit``; the sender is left out), ``sio:presence`` ``{room}`` (who is there) and
``sio:inspect`` (hub statistics with every connection's buffers, for the inspector widget).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any

from ..exceptions import AckTimeout, Disconnected
from .adapter import BroadcastOptions
from .sio_connection import ANONYMOUS, Identity

if TYPE_CHECKING:
    from .hub import Hub
    from .namespace import Namespace
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub")


def identity(socket: Socket) -> Identity:
    user = socket.client.handshake.user
    return user if isinstance(user, Identity) else ANONYMOUS


def describe(socket: Socket) -> dict[str, Any]:
    """What ``sio:sockets`` and presence report about a socket."""
    return socket.describe()


class KernelRouter:
    """Which kernel sockets handle which client events, per namespace."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.routes: dict[tuple[str, str], list[Socket]] = {}
        #: rooms each kernel id joined, given back when that kernel reconnects (restart)
        self.kernel_rooms: dict[str, set[str]] = {}

    def add(self, namespace: str, events: list[str], kernel: Socket) -> None:
        for event in events:
            handlers = self.routes.setdefault((namespace, event), [])
            if kernel not in handlers:
                handlers.append(kernel)

    def remove(
        self, kernel: Socket, namespace: str | None = None, events: list[str] | None = None
    ) -> None:
        for key in list(self.routes):
            if (namespace is None or key[0] == namespace) and (events is None or key[1] in events):
                handlers = self.routes[key]
                if kernel in handlers:
                    handlers.remove(kernel)
                if not handlers:
                    del self.routes[key]

    def handlers(self, namespace: str, event: str) -> list[Socket]:
        kernels = self.routes.get((namespace, event))
        if not kernels:
            return []
        live = [k for k in kernels if k.connected]
        if len(live) != len(kernels):  # forget kernels that went away
            if live:
                self.routes[(namespace, event)] = live
            else:
                del self.routes[(namespace, event)]
        return live

    def dispatch(
        self, socket: Socket, event: str, args: tuple[Any, ...], ack_id: int | None
    ) -> bool:
        """Forward a client event to its kernels; ``False`` if no kernel handles it."""
        kernels = self.handlers(socket.namespace.name, event)
        if not kernels:
            return False
        payload = {
            "event": event,
            "args": list(args),
            "sid": socket.id,
            "namespace": socket.namespace.name,
            **identity(socket).describe(),
        }
        if ack_id is None:
            for kernel in kernels:
                kernel.emit("sio:event", payload)
        else:
            self.hub.spawn(self._first_answer(socket, kernels, payload, ack_id))
        return True

    async def _first_answer(
        self, socket: Socket, kernels: list[Socket], payload: dict[str, Any], ack_id: int
    ) -> None:
        calls = [k.call("sio:event", payload) for k in kernels]
        answer: Any = {"error": "no answer", "event": payload["event"]}
        pending = set(calls)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            reply = next((f.result() for f in done if f.exception() is None), None)
            if reply is None:
                error = next(iter(done)).exception()
                answer = {
                    "error": type(error).__name__,
                    "event": payload["event"],
                    "message": str(error),
                }
                continue
            answer = reply
            break
        for leftover in pending:
            leftover.add_done_callback(lambda f: f.exception())  # answered already; ignore
        if isinstance(answer, dict) and "ok" in answer:
            if answer["ok"]:
                socket._answer(ack_id, tuple(answer.get("result", [])))
            else:
                socket._answer(
                    ack_id,
                    {"error": answer.get("error", "handler failed"), "event": payload["event"]},
                )
        else:
            socket._answer(ack_id, answer)


def install(hub: Hub) -> KernelRouter:
    """Register the built-in ``sio:*`` events on namespace ``/``; returns the kernel router."""
    router = KernelRouter(hub)
    ns = hub.of("/")

    def ok(**fields: Any) -> dict[str, Any]:
        return {"ok": True, **fields}

    def refused(what: str) -> dict[str, Any]:
        return {"ok": False, "error": f"forbidden: {what} needs kernel powers"}

    def target(spec: dict[str, Any]) -> Namespace:
        name = spec.get("namespace") or "/"
        namespace = hub._namespace_for(name, {})
        if namespace is None:
            raise ValueError(f"unknown namespace {name!r}")
        return namespace

    def powered(fn: Any) -> Any:
        def run(socket: Socket, spec: Any = None, *_: Any) -> Any:
            if not identity(socket).powers:
                return refused(fn.__name__)
            if not isinstance(spec, dict):
                return {"ok": False, "error": f"{fn.__name__} expects an object argument"}
            return guarded(fn)(socket, spec)

        return run

    @powered
    def emit(socket: Socket, spec: dict[str, Any]) -> Any:
        namespace = target(spec)
        op = namespace.to(_list(spec.get("to")))
        excluded = _list(spec.get("exclude"))
        if not spec.get("include_self") and namespace is socket.namespace:
            excluded.append(socket.id)
        op = op.exclude(excluded)
        if spec.get("volatile"):
            op = op.volatile
        op.emit(
            str(spec["event"]),
            *spec.get("args", []),
            key=spec.get("key"),
            retain=bool(spec.get("retain")),
        )
        return ok()

    @powered
    def clear(socket: Socket, spec: dict[str, Any]) -> Any:
        target(spec).adapter.clear_retained(spec.get("room"), spec.get("key"))
        return ok()

    @powered
    async def call(socket: Socket, spec: dict[str, Any]) -> Any:
        namespace = target(spec)
        other = namespace.sockets.get(spec["sid"])
        if other is None:
            return {"ok": False, "error": f"no socket {spec['sid']!r} in {namespace.name}"}
        try:
            result = await other.call(
                str(spec["event"]), *spec.get("args", []), timeout=spec.get("timeout")
            )
        except (AckTimeout, Disconnected) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        if result is None:
            return ok(result=[])
        return ok(result=list(result) if isinstance(result, tuple) else [result])

    def members(socket: Socket, spec: dict[str, Any]) -> list[Socket]:
        namespace = target(spec)
        sids = spec.get("sids")
        if sids is None:
            return [socket] if namespace is socket.namespace else []
        return [namespace.sockets[s] for s in _list(sids) if s in namespace.sockets]

    def remembered(socket: Socket) -> set[str] | None:
        kernel = identity(socket).kernel_id
        return router.kernel_rooms.setdefault(kernel, set()) if kernel else None

    def membership(joining: bool) -> Any:
        """``sio:join`` / ``sio:leave``: the sender's own rooms (remembered by kernel id) or,
        with ``sids``, other sockets' rooms."""

        def change(socket: Socket, spec: dict[str, Any]) -> Any:
            rooms = _rooms(spec)
            for member in members(socket, spec):
                (member.join if joining else member.leave)(rooms)
            memory = remembered(socket)
            if memory is not None and spec.get("sids") is None:
                (memory.update if joining else memory.difference_update)(rooms)
            return ok()

        change.__name__ = "join" if joining else "leave"
        return powered(change)

    join, leave = membership(True), membership(False)

    @powered
    def hello(socket: Socket, spec: dict[str, Any]) -> Any:
        """A kernel (re)connected: join the rooms it had, by kernel id and by its own memory."""
        rooms = set(_list(spec.get("rooms")))
        memory = remembered(socket)
        if memory is not None:
            rooms |= memory
            memory |= rooms
        if rooms:
            socket.join(rooms)
        return ok(rooms=sorted(rooms))

    @powered
    async def sockets(socket: Socket, spec: dict[str, Any]) -> Any:
        namespace = target(spec)
        room = spec.get("room")
        opts = BroadcastOptions(frozenset([room]) if room else frozenset())
        return ok(sockets=await namespace.adapter.describe_sockets(opts))

    @powered
    def disconnect(socket: Socket, spec: dict[str, Any]) -> Any:
        namespace = target(spec)
        for sid in _list(spec.get("sids")):
            other = namespace.sockets.get(sid)
            if other is not None:
                other.disconnect(close=bool(spec.get("close")))
        return ok()

    @powered
    def handle(socket: Socket, spec: dict[str, Any]) -> Any:
        router.add(
            spec.get("namespace") or "/", [str(e) for e in _list(spec.get("events"))], socket
        )
        return ok()

    @powered
    def unhandle(socket: Socket, spec: dict[str, Any]) -> Any:
        events = spec.get("events")
        router.remove(socket, spec.get("namespace"), None if events is None else _list(events))
        return ok()

    @powered
    def status(socket: Socket, spec: dict[str, Any]) -> Any:
        return ok(**hub.stats(detail=bool(spec.get("detail"))))

    # Browser-side powers: gated by the identity's subscribe / emit rights.
    # Presence: sockets that subscribe with ``announce`` are listed to the room, live.
    present: dict[tuple[str, str], dict[str, Socket]] = {}

    def announce(namespace: Namespace, room: str) -> None:
        members = present.get((namespace.name, room), {})
        namespace.to(room).emit(
            "sio:presence",
            {
                "room": room,
                "sockets": [describe(s) for s in members.values()],
            },
        )

    def forget(socket: Socket, rooms: set[str]) -> None:
        for room in rooms:
            members = present.get((socket.namespace.name, room))
            if members is not None and members.pop(socket.id, None) is not None:
                if not members:
                    del present[(socket.namespace.name, room)]
                announce(socket.namespace, room)

    hub.closed_hooks.append(forget)

    def denied(socket: Socket, action: str, rooms: list[str] | list[None]) -> dict[str, Any] | None:
        """Ask the hub's room policy (if any) about each room; an answer for the first no."""
        policy = hub.room_policy
        if policy is None:
            return None
        for room in rooms:
            if not policy(identity(socket), action, room):
                where = f"room {room!r}" if room is not None else "the whole namespace"
                return {
                    "ok": False,
                    "error": f"forbidden: the room policy refuses {action} to {where}",
                }
        return None

    @guarded
    def subscribe(socket: Socket, spec: Any = None, *_: Any) -> Any:
        if not identity(socket).can_subscribe:
            return {"ok": False, "error": "forbidden: subscribing needs read permission"}
        rooms = _rooms(spec)
        refusal = denied(socket, "subscribe", rooms)
        if refusal is not None:
            return refusal
        if isinstance(spec, dict) and spec.get("name"):
            socket.data["name"] = str(spec["name"])[:80]
        socket.join(rooms)
        if isinstance(spec, dict) and spec.get("announce"):
            for room in rooms:
                present.setdefault((socket.namespace.name, room), {})[socket.id] = socket
                announce(socket.namespace, room)
        return ok(rooms=sorted(rooms), me=describe(socket))

    @guarded
    def unsubscribe(socket: Socket, spec: Any = None, *_: Any) -> Any:
        rooms = _rooms(spec)
        socket.leave(rooms)
        forget(socket, set(rooms))
        return ok()

    @guarded
    def whoami(socket: Socket, spec: Any = None, *_: Any) -> Any:
        return ok(**describe(socket))

    @guarded
    def publish(socket: Socket, spec: Any = None, *_: Any) -> Any:
        if not identity(socket).can_emit:
            return {"ok": False, "error": "forbidden: publishing needs write permission"}
        if not isinstance(spec, dict) or "event" not in spec:
            return {"ok": False, "error": "sio:publish expects {event, args, to}"}
        targets = _list(spec.get("to"))
        refusal = denied(socket, "publish", targets or [None])
        if refusal is not None:
            return refusal
        op = socket.namespace.to(targets).exclude(socket.id)
        op.emit(str(spec["event"]), *spec.get("args", []), key=spec.get("key"))
        return ok()

    @guarded
    def inspect_hub(socket: Socket, spec: Any = None, *_: Any) -> Any:
        if not identity(socket).can_subscribe:
            return {"ok": False, "error": "forbidden: inspecting needs read permission"}
        return ok(**hub.stats(detail=True))

    @guarded
    def presence(socket: Socket, spec: Any = None, *_: Any) -> Any:
        if not identity(socket).can_subscribe:
            return {"ok": False, "error": "forbidden: presence needs read permission"}
        room = spec.get("room") if isinstance(spec, dict) else spec
        refusal = denied(socket, "presence", [room])
        if refusal is not None:
            return refusal
        found = socket.namespace.to(room).sockets() if room else []
        return ok(sockets=[describe(s) for s in found])

    for name, fn in {
        "sio:emit": emit,
        "sio:call": call,
        "sio:join": join,
        "sio:leave": leave,
        "sio:sockets": sockets,
        "sio:disconnect": disconnect,
        "sio:handle": handle,
        "sio:unhandle": unhandle,
        "sio:status": status,
        "sio:hello": hello,
        "sio:subscribe": subscribe,
        "sio:unsubscribe": unsubscribe,
        "sio:publish": publish,
        "sio:presence": presence,
        "sio:clear": clear,
        "sio:inspect": inspect_hub,
        "sio:whoami": whoami,
    }.items():
        ns.on(name, fn)
    return router


def guarded(fn: Any) -> Any:
    """Turn bad arguments into an ``{"ok": false}`` answer instead of a logged traceback."""

    def failed(exc: Exception) -> dict[str, Any]:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def finish(result: Any) -> Any:
        try:
            return await result
        except (ValueError, TypeError, KeyError) as exc:
            return failed(exc)

    def run(socket: Socket, *args: Any) -> Any:
        try:
            result = fn(socket, *args)
        except (ValueError, TypeError, KeyError) as exc:
            return failed(exc)
        return finish(result) if inspect.iscoroutine(result) else result

    run.__name__ = fn.__name__
    return run


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _rooms(spec: Any) -> list[str]:
    rooms = _list(spec.get("rooms") if isinstance(spec, dict) else spec)
    if not rooms:
        raise ValueError("no rooms given")
    return rooms
