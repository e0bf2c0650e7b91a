"""The bench app on a python-socketio ``AsyncServer`` (shared by the tornado and asgi peers)."""

from __future__ import annotations

import socketio
from common import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT


def bench_server(async_mode: str) -> socketio.AsyncServer:
    """A python-socketio server configured like every peer (no compression, same limits)
    with the bench app attached."""
    sio = socketio.AsyncServer(
        async_mode=async_mode,
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_PAYLOAD,
        http_compression=False,
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
    )
    attach_bench_app(sio)
    return sio


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
