"""The bench app on jupyter_sio (served by ``python -m jupyter_sio serve
benchmarks.apps.jsio_app:hub --host 127.0.0.1 --port N`` from the repository root, and
inside Jupyter by :mod:`benchmarks.apps.jupyter_bench_ext`).

Same behaviour as the peers' bench app (see benchmarks/README.md): connect handlers get
``(socket, auth)``; a handler's return value answers the ack (a tuple = several values).
"""

from typing import Any

from jupyter_sio import Hub


def register(hub: Hub) -> None:
    """Put the bench app's handlers on ``hub``'s default namespace."""

    @hub.on("connect")
    async def on_connect(socket: Any, auth: Any) -> None:
        if auth and auth.get("room"):
            socket.join(auth["room"])

    @hub.on("publish")
    async def publish(socket: Any, msg: Any) -> None:
        await hub.emit("tick", msg, to=msg["room"])

    @hub.on("echo")
    def echo(socket: Any, *args: Any) -> tuple[Any, ...]:
        return args  # the return value answers the ack


hub = Hub(ping_interval=25, ping_timeout=20)
register(hub)
