"""Built-in events browsers may send: subscribe to rooms, presence, publish, whoami.

Checked against the socket's :class:`Identity` (set by the transport from Jupyter's
Authorizer, never from a payload) and, when the hub has one, its
``room_policy(identity, action, room) -> bool`` (action ``"subscribe"``, ``"publish"`` or
``"presence"``; room ``None`` for a namespace-wide publish). Each answers its ack with
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.

==================  =========================================================================
``sio:subscribe``   ``{rooms, announce?, name?, kernel?, page?}`` (read permission): join
                    rooms. With ``announce`` the room receives ``sio:presence``
                    ``{room, sockets}`` whenever an announcing member arrives or leaves;
                    ``kernel`` (a widget's owner kernel id) sends this socket's events to
                    that kernel first (:mod:`.kernel_routing`); ``page`` (a random id per
                    browser page) is listed, so presence counts each person once per page
``sio:unsubscribe`` ``{rooms}``
``sio:whoami``      who the hub says this socket is
``sio:publish``     ``{event, args, to}`` (write permission; the sender is left out)
``sio:presence``    ``{room}``: who is there
``sio:inspect``     hub statistics with every connection's buffers (the Inspector widget;
                    Engine.IO session ids only for identities with kernel powers)
==================  =========================================================================

Limits, so no browser can make the hub do unbounded work: at most ``max_rooms`` rooms per
socket and ``max_room_name`` characters per name; rooms named like a socket id, and every
name starting with ``sio:`` (the hub's own rooms and events), are refused; presence work is
linear in the rooms and members it reports. ``sio:publish`` never reaches kernels (they
take browser events through the hub's routing, with the sender set by the hub) and may
not use ``sio:`` event names.

Kernels use the kernel link (:mod:`.kernel_peer`), not these events.
"""

from __future__ import annotations

import inspect
import logging
import re
from typing import TYPE_CHECKING, Any

from .presence import Presence
from .sio_connection import ANONYMOUS, Identity

if TYPE_CHECKING:
    from .hub import Hub
    from .namespace_socket import Socket

log = logging.getLogger("jupyter_sio.hub")

#: Rooms and events of the hub itself: browsers may not subscribe or publish to them.
RESERVED_PREFIX = "sio:"
#: The room every kernel's own socket is in (browser publishes leave it out).
KERNELS_ROOM = "sio:kernels"
#: The shape of a socket id (``new_sid``): such rooms are a socket's private room.
_SID_SHAPE = re.compile(r"[A-Za-z0-9_-]{20}")


def identity(socket: Socket) -> Identity:
    user = socket.client.handshake.user
    return user if isinstance(user, Identity) else ANONYMOUS


def describe(socket: Socket) -> dict[str, Any]:
    """What presence and listings report about a socket."""
    return socket.describe()


def install(hub: Hub) -> None:
    """Register the browser built-ins on namespace ``/``."""
    ns = hub.of("/")

    def ok(**fields: Any) -> dict[str, Any]:
        return {"ok": True, **fields}

    # Browser-side powers: gated by the identity's subscribe / emit rights.
    announced = Presence(hub)
    hub.closed_hooks.append(announced.leave)

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

    def unfit(socket: Socket, rooms: list[str]) -> dict[str, Any] | None:
        """Rooms a browser may never join, and the per-socket room cap."""
        config = hub.config
        for room in rooms:
            if len(room) > config.max_room_name:
                return {"ok": False, "error": f"room names are at most {config.max_room_name} "
                        "characters"}
            if room.startswith(RESERVED_PREFIX):
                return {"ok": False, "error": f"forbidden: {room!r} is one of the hub's own rooms"}
            sid_like = _SID_SHAPE.fullmatch(room) or room in socket.namespace.sockets
            if room != socket.id and sid_like:
                return {"ok": False, "error": f"forbidden: {room!r} is (shaped like) another "
                        "socket's own room"}
        joined = socket.namespace.adapter.rooms_of(socket.id)
        if len(joined.union(rooms)) - 1 > config.max_rooms:  # its own room does not count
            return {"ok": False, "error": f"a socket may be in at most {config.max_rooms} rooms"}
        return None

    @guarded
    def subscribe(socket: Socket, spec: Any = None, *_: Any) -> Any:
        if not identity(socket).can_subscribe:
            return {"ok": False, "error": "forbidden: subscribing needs read permission"}
        rooms = _rooms(spec)
        refusal = unfit(socket, rooms) or denied(socket, "subscribe", rooms)
        if refusal is not None:
            return refusal
        if isinstance(spec, dict) and spec.get("name"):
            socket.data["name"] = str(spec["name"])[:80]
        socket.join(rooms)
        if isinstance(spec, dict) and isinstance(spec.get("page"), str) and spec["page"]:
            socket.data["page"] = spec["page"][:64]  # one id per browser page (presence)
        if isinstance(spec, dict) and isinstance(spec.get("kernel"), str) and spec["kernel"]:
            hub.kernel_router.set_owner(socket, spec["kernel"][:100])
        if isinstance(spec, dict) and spec.get("announce"):
            announced.arrive(socket, rooms)
        return ok(rooms=sorted(rooms), me=describe(socket))

    @guarded
    def unsubscribe(socket: Socket, spec: Any = None, *_: Any) -> Any:
        rooms = _rooms(spec)
        socket.leave(rooms)
        announced.leave(socket, set(rooms))
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
        event = str(spec["event"])
        if event.startswith(RESERVED_PREFIX):
            return {"ok": False, "error": f"forbidden: {event!r} is one of the hub's own events"}
        args = spec.get("args", [])
        if not isinstance(args, list):
            return {"ok": False, "error": "sio:publish args must be a list"}
        targets = names(spec.get("to"))
        refusal = denied(socket, "publish", targets or [None])
        if refusal is not None:
            return refusal
        key = spec.get("key")
        op = socket.namespace.to(targets).exclude(socket.id).exclude(KERNELS_ROOM)
        op.emit(event, *args, key=None if key is None else str(key))
        return ok()

    @guarded
    def inspect_hub(socket: Socket, spec: Any = None, *_: Any) -> Any:
        who = identity(socket)
        if not who.can_subscribe:
            return {"ok": False, "error": "forbidden: inspecting needs read permission"}
        stats = hub.stats(detail=True)
        if not who.powers:  # session ids would let a reader continue someone's session
            stats["connections"] = [
                {k: v for k, v in c.items() if k != "sid"} for c in stats["connections"]
            ]
        return ok(**stats)

    @guarded
    def presence(socket: Socket, spec: Any = None, *_: Any) -> Any:
        if not identity(socket).can_subscribe:
            return {"ok": False, "error": "forbidden: presence needs read permission"}
        room = spec.get("room") if isinstance(spec, dict) else spec
        refusal = denied(socket, "presence", [room])
        if refusal is not None:
            return refusal
        found = socket.namespace.to(room).sockets() if room else []
        return ok(sockets=[s.card() for s in found])

    for name, fn in {
        "sio:subscribe": subscribe,
        "sio:unsubscribe": unsubscribe,
        "sio:publish": publish,
        "sio:presence": presence,
        "sio:inspect": inspect_hub,
        "sio:whoami": whoami,
    }.items():
        ns.on(name, fn)


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


def names(value: Any) -> list[str]:
    """Room or socket names from one string or an iterable of them."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _rooms(spec: Any) -> list[str]:
    rooms = names(spec.get("rooms") if isinstance(spec, dict) else spec)
    if not rooms:
        raise ValueError("no rooms given")
    return rooms
