"""The bench app on a python-socketio ``AsyncServer`` (shared by the tornado and asgi peers)."""

from __future__ import annotations

import socketio


def attach_bench_app(sio: socketio.AsyncServer) -> None:
    @sio.event
    async def connect(sid, environ, auth):
        if isinstance(auth, dict) and auth.get("room"):
            await sio.enter_room(sid, auth["room"])

    @sio.event
    async def publish(sid, msg):
        await sio.emit("tick", msg, to=msg["room"])

    @sio.event
    async def echo(sid, *args):
        return args  # a tuple: its items become the ack's arguments
