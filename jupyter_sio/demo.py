"""The built-in demo served by ``python -m jupyter_sio serve`` without an app argument.

- ``echo``: answers the ack with the arguments it received;
- ``chat``: everyone in the ``lobby`` room gets the message with the sender's name;
- ``who``: the names of the people in the lobby.
"""

from __future__ import annotations

from typing import Any

from .hub import Hub, Socket

hub = Hub()
LOBBY = "lobby"


@hub.on("connect")
def connect(socket: Socket, auth: dict[str, Any]) -> None:
    name = str(auth.get("name") or f"guest-{socket.id[:4]}")[:40]
    socket.data["name"] = name
    socket.join(LOBBY)
    hub.to(LOBBY).emit("presence", {"joined": name, "people": _people()})


@hub.on("disconnect")
def disconnect(socket: Socket, reason: str) -> None:
    hub.to(LOBBY).emit("presence", {"left": socket.data.get("name"), "people": _people()})


@hub.on("echo")
def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
    return args


@hub.on("chat")
def chat(socket: Socket, text: Any) -> str:
    hub.to(LOBBY).emit("chat", {"from": socket.data["name"], "text": str(text)[:2000]})
    return "delivered"


@hub.on("who")
def who(socket: Socket) -> list[str]:
    return _people()


def _people() -> list[str]:
    return sorted(s.data.get("name", "?") for s in hub.to(LOBBY).sockets())
