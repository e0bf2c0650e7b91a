"""The bench app on jupyter_sio (served by ``python -m jupyter_sio serve
benchmarks.apps.jsio_app:hub --host 127.0.0.1 --port N`` from the repository root).

Same behaviour as the peers' bench app (see benchmarks/README.md): connect handlers get
``(socket, auth)``; a handler's return value answers the ack (a tuple = several values).
"""

from jupyter_sio import Hub

hub = Hub(ping_interval=25, ping_timeout=20)


@hub.on("connect")
async def on_connect(socket, auth):
    if auth and auth.get("room"):
        socket.join(auth["room"])


@hub.on("publish")
async def publish(socket, msg):
    await hub.emit("tick", msg, to=msg["room"])


@hub.on("echo")
def echo(socket, *args):
    return args  # the return value answers the ack
