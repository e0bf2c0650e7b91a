"""Real kernels started by a real Jupyter server with jupyter_sio, and real clients."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import socketio

import jupyter_sio
from tests.live_server import LiveServer
from tests.peers.node_puppet import NodePuppet

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


async def py_client(server: LiveServer, transports: list[str]) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    # python-socketio sends headers on the handshake only: polling needs ?token= in the URL
    await client.connect(f"http://127.0.0.1:{server.port}?token={server.token}",
                         socketio_path=server.socketio_path, transports=transports,
                         headers={"Authorization": f"token {server.token}"}, wait_timeout=10)
    return client


async def node_client(puppet: NodePuppet, server: LiveServer, transports: list[str]) -> Any:
    return await puppet.connect(
        f"http://127.0.0.1:{server.port}/", path=server.socketio_path, transports=transports,
        extraHeaders={"Authorization": f"token {server.token}"}, reconnection=False,
    )


async def test_load_ext_finds_the_server_hub_and_cells_reach_both_clients(
    server: LiveServer,
) -> None:
    kernel = await server.start_kernel()
    try:
        out = await kernel.run("%load_ext jupyter_sio")
        assert "the Jupyter server's hub" in out.stdout
        assert await kernel.value("sio.mode") == "server"
        assert await kernel.value("sio.url") == server.url + "jupyter-sio/socket.io/"
        status = (await kernel.run("%sio")).stdout
        assert server.token not in status and server.kernel_secret not in status

        async with NodePuppet() as puppet:
            node = await node_client(puppet, server, ["polling", "websocket"])
            assert (await node.emit_ack("sio:subscribe", {"rooms": ["dash"]}))[0]["ok"]
            py = await py_client(server, ["websocket"])
            got: asyncio.Queue[Any] = asyncio.Queue()
            py.on("tick", lambda *a: got.put_nowait(a))
            assert (await py.call("sio:subscribe", {"rooms": ["dash"]}, timeout=10))["ok"]

            await kernel.run("sio.emit('tick', {'n': 1}, b'\\x00\\xff', to='dash')")
            assert await node.wait_event("tick") == [{"n": 1}, b"\x00\xff"]
            assert await asyncio.wait_for(got.get(), 10) == ({"n": 1}, b"\x00\xff")

            # the kernel sees who is there, with their Jupyter user names
            listing = await kernel.value("sorted(s['user'] for s in sio.sockets('dash'))")
            assert listing.count("'") == 4  # two users listed
            await py.disconnect()
    finally:
        await kernel.stop()


async def test_browser_event_answered_by_a_cell_while_another_cell_sleeps(
    server: LiveServer,
) -> None:
    kernel = await server.start_kernel()
    try:
        await kernel.run("%load_ext jupyter_sio")
        await kernel.run(
            "import threading\n"
            "started, cell_running = threading.Event(), False\n"
            "@sio.on('vote')\n"
            "def vote(peer, choice):\n"
            "    started.wait(10)  # the busy cell below has begun\n"
            "    return {'choice': choice, 'user': peer.user, 'cell_running': cell_running,\n"
            "            'thread': threading.current_thread().name}\n"
        )
        busy = kernel.submit(
            "import time\ncell_running = True\nstarted.set()\ntime.sleep(6)\n"
            "cell_running = False\nprint('done sleeping')"
        )
        async with NodePuppet() as puppet:
            node = await node_client(puppet, server, ["polling"])
            [answer] = await node.emit_ack("vote", "blue", timeout=20)
        assert answer["choice"] == "blue"
        assert answer["thread"] != "MainThread"
        assert answer["cell_running"] is True  # answered while the other cell still slept
        execution = asyncio.ensure_future(kernel.collect(busy))
        assert "done sleeping" in (await execution).stdout
    finally:
        await kernel.stop()


async def test_two_kernels_in_one_room_and_kernel_to_kernel_calls(server: LiveServer) -> None:
    a, b = await server.start_kernel(), await server.start_kernel()
    try:
        for kernel in (a, b):
            await kernel.run("%load_ext jupyter_sio")
        await a.run(
            "inbox = []\n"
            "@sio.on('note')\n"
            "def note(peer, text):\n"
            "    inbox.append(text)\n"
            "@sio.on('square')\n"
            "def square(peer, x):\n"
            "    return x * x\n"
            "sio.join('team')\n"
        )
        await b.run("sio.emit('note', 'hello from b', to='team')")
        # a generous deadline (not a timing assertion): CI machines are busy
        await a.run("import time\nfor _ in range(400):\n    if inbox: break\n    time.sleep(0.05)")
        assert await a.value("inbox") == "['hello from b']"
        assert await b.value("sio.request('square', 12)") == "144"
    finally:
        await a.stop()
        await b.stop()


async def test_kernel_restart_rejoins_its_rooms(server: LiveServer) -> None:
    a, b = await server.start_kernel(), await server.start_kernel()
    try:
        await a.run("%load_ext jupyter_sio\nsio.join('ops', 'alerts')")
        await a.restart()
        out = await a.run(
            "%load_ext jupyter_sio\nimport time; time.sleep(0.5)\nprint(sorted(sio.rooms))"
        )
        assert "['alerts', 'ops']" in out.stdout  # given back by the hub, same kernel id
        await a.run("got = []\nsio.on('alert', lambda peer, x: got.append(x))")
        await b.run("%load_ext jupyter_sio\nsio.emit('alert', 'disk full', to='alerts')")
        # a generous deadline (not a timing assertion): CI machines are busy
        await a.run("import time\nfor _ in range(400):\n    if got: break\n    time.sleep(0.05)")
        assert await a.value("got") == "['disk full']"
    finally:
        await a.stop()
        await b.stop()


async def test_script_reconnects_and_rejoins_after_the_server_restarts(server: LiveServer) -> None:
    sio = await asyncio.to_thread(jupyter_sio.connect, server.sio_base, server.token)
    try:
        assert sio.mode == "client"
        received: list[Any] = []
        sio.on("ping", lambda peer, x: received.append(x))
        sio.join("watchers")
        await server.restart()
        for _ in range(200):  # the client reconnects with backoff by itself
            if sio.connected and sio._link is not None and sio._link.reconnects:
                break
            await asyncio.sleep(0.05)
        assert sio.connected
        client = await py_client(server, ["websocket"])
        for _ in range(50):  # re-join happens right after the reconnect
            answer = await client.call("sio:presence", {"room": "watchers"}, timeout=10)
            if answer["sockets"]:
                break
            await asyncio.sleep(0.05)
        await client.emit("ping", 7)  # routed to the script's handler by the hub
        # A browser's sio:publish to the room never reaches kernels: they take browser
        # events only through the hub's routing, which sets the sender.
        assert await client.call("sio:publish", {"event": "ping", "args": [99], "to": "watchers"},
                                 timeout=10) == {"ok": True}
        await client.emit("ping", 8)
        for _ in range(400):
            if len(received) >= 2:
                break
            await asyncio.sleep(0.05)
        assert received == [7, 8]
        await client.disconnect()
    finally:
        await asyncio.to_thread(sio.close)


async def test_cell_magic_sends_html_and_png_to_a_node_client(server: LiveServer) -> None:
    kernel = await server.start_kernel()
    try:
        await kernel.run("%load_ext jupyter_sio")
        async with NodePuppet() as puppet:
            node = await node_client(puppet, server, ["websocket"])
            await node.emit_ack("sio:subscribe", {"rooms": ["class"]})
            await kernel.run(
                "%%sio_broadcast class\n"
                "from IPython.display import HTML, Image, display\n"
                "display(HTML('<i>slide 1</i>'))\n"
                f"display(Image(data={PNG!r}))\n"
            )
            [html] = await node.wait_event("display")
            [image] = await node.wait_event("display")
        assert html["data"]["text/html"] == "<i>slide 1</i>"
        assert base64.b64decode(image["data"]["image/png"]) == PNG
    finally:
        await kernel.stop()
