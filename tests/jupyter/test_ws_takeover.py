"""After the upgrade a Jupyter-mounted WebSocket is served by jupyter_sio's own stream: the
Tornado handler, its request and Jupyter's login state are released (they were ~9 KiB per
idle connection, kept alive by Jupyter's CallContext in every callback of the connection)."""

from __future__ import annotations

import gc

from jupyter_sio.jupyter.handlers import JupyterEngineIOHandler

from .conftest import RawSio, Server


def live_handlers() -> list[JupyterEngineIOHandler]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, JupyterEngineIOHandler)]


async def test_an_open_websocket_keeps_no_jupyter_handler_alive(server: Server) -> None:
    before = len(live_handlers())
    url = server.sio_url(transport="websocket", scheme="ws")
    sockets = [
        RawSio(await server.ws(url, {"Authorization": f"token {server.token}"}))
        for _ in range(3)
    ]
    try:
        for sio in sockets:
            await sio.start()
        assert len(live_handlers()) == before
        for sio in sockets:  # and they are served all the same
            assert await sio.call("sio:whoami") is not None
    finally:
        for sio in sockets:
            sio.close()
