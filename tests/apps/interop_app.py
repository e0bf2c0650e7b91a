"""The interop contract (tests/apps/CONTRACT.md) on jupyter_sio."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any

from jupyter_sio import AckTimeout, ConnectionRefused, Disconnected, Hub, Socket

# JSIO_INTEROP_RECOVERY=<seconds> turns connection-state recovery on (as --recovery and
# --recovery-window do for the reference server), JSIO_INTEROP_RECOVERY_MAX_PACKETS bounds
# its log, and JSIO_INTEROP_PARSER=msgpack picks the msgpack parser (--msgpack there).
hub = Hub(ping_interval=1.0, ping_timeout=2.0, max_payload=1_000_000,
          recovery_window=float(os.environ.get("JSIO_INTEROP_RECOVERY", "0")),
          recovery_max_packets=int(os.environ.get("JSIO_INTEROP_RECOVERY_MAX_PACKETS", "10000")),
          parser=os.environ.get("JSIO_INTEROP_PARSER", "default"))


@hub.use
def check_token(socket: Socket, auth: dict[str, Any]) -> None:
    if auth.get("token") == "bad":
        raise ConnectionRefused("unauthorized", {"reason": "bad token"})


@hub.on("connect")
def connect(socket: Socket, auth: dict[str, Any]) -> None:
    socket.data["user"] = auth.get("user", "anon")
    if not auth.get("quiet"):  # a quiet client gets no event at all before it asks
        socket.emit("welcome", {"sid": socket.id, "user": socket.data["user"]})


def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
    return args


hub.on("echo", echo)


@hub.on("join")
def join(socket: Socket, room: str) -> bool:
    socket.join(room)
    return True


@hub.on("leave")
def leave(socket: Socket, room: str) -> bool:
    socket.leave(room)
    return True


@hub.on("say")
def say(socket: Socket, msg: dict[str, Any]) -> str:
    target = socket.to(msg["room"]) if msg.get("exclude_self") else hub.to(msg["room"])
    target.emit("said", {"from": socket.id, "msg": msg["msg"]})
    return "ok"


@hub.on("broadcast")
def broadcast(socket: Socket, msg: Any) -> str:
    socket.broadcast.emit("broadcasted", msg)
    return "ok"


@hub.on("ask")
async def ask(socket: Socket, payload: Any) -> dict[str, Any]:
    try:
        answer = await socket.call("question", payload, timeout=5)
    except (AckTimeout, Disconnected):
        return {"error": "timeout"}
    if isinstance(answer, tuple):
        answer = answer[0]
    return {"answer": answer}


@hub.on("make_binary")
def make_binary(socket: Socket, n: int) -> bytes:
    blob = bytes(i % 256 for i in range(n))
    socket.emit("bin", {"blob": blob, "list": [b"\x01\x02", "text", b"\xff"]})
    return blob


@hub.on("volatile")
async def volatile(socket: Socket, n: int) -> str:
    for i in range(n):
        socket.emit("v", i, volatile=True)
    await asyncio.sleep(0)
    return "done"


@hub.on("disconnect_me")
def disconnect_me(socket: Socket) -> None:
    socket.disconnect()


@hub.on("rooms")
def rooms(socket: Socket) -> list[str]:
    return sorted(room for room in socket.rooms if room != socket.id)


admin = hub.of("/admin")


@admin.use
def admin_only(socket: Socket, auth: dict[str, Any]) -> None:
    if auth.get("token") != "admin":
        raise ConnectionRefused("forbidden")


admin.on("echo", echo)

dynamic = hub.of(re.compile(r"^/dyn-[a-z0-9]+$"))
dynamic.on("echo", echo)


@dynamic.on("connect")
def dynamic_connect(socket: Socket) -> None:
    socket.emit("hello", socket.namespace.name)
