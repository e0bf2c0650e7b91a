"""The kernel link: WebSocket only, authenticated by the per-server secret, kernel powers."""

from __future__ import annotations

import asyncio
import json
import os

from .conftest import EVIL, TIMEOUT, RawSio, Server, engine_error


def _kernel_url(server: Server) -> str:
    return server.sio_url(transport="websocket", scheme="ws", endpoint="kernel")


async def test_kernel_link_needs_the_secret(server: Server) -> None:
    url = _kernel_url(server)
    assert await server.ws_status(url) == 403
    assert await server.ws_status(url, {"X-Jupyter-Sio-Token": "wrong"}) == 403
    # Jupyter's own token is not the kernel secret.
    assert await server.ws_status(url, {"X-Jupyter-Sio-Token": server.token}) == 403
    assert await server.ws_status(url, {"X-Jupyter-Sio-Token": server.app.secret}) == 101


async def test_secret_is_the_environment_token(server: Server) -> None:
    assert server.app.secret
    assert os.environ["JUPYTER_SIO_TOKEN"] == server.app.secret


async def test_kernel_link_is_websocket_only(server: Server) -> None:
    headers = {"X-Jupyter-Sio-Token": server.app.secret}
    get = await server.fetch(server.sio_url(endpoint="kernel"), headers=headers)
    assert get.code == 403
    assert engine_error(get)["code"] == 4
    post = await server.fetch(server.sio_url("sid=x", endpoint="kernel"), "POST", "40", headers)
    assert post.code == 403
    assert engine_error(post)["code"] == 4


async def test_kernel_link_keeps_jupyters_origin_check(server: Server) -> None:
    headers = {"X-Jupyter-Sio-Token": server.app.secret, "Origin": EVIL}
    assert await server.ws_status(_kernel_url(server), headers) == 403


async def test_kernel_gets_powers_and_reaches_browsers(server: Server) -> None:
    kernel = RawSio(
        await server.ws(
            _kernel_url(server),
            {"X-Jupyter-Sio-Token": server.app.secret, "X-Jupyter-Sio-Kernel": "k-123456789"},
        )
    )
    browser = RawSio(
        await server.ws(
            server.sio_url(transport="websocket", scheme="ws"),
            {"Authorization": f"token {server.token}"},
        )
    )
    try:
        await kernel.start()
        await browser.start()
        status = await kernel.call("sio:status", {})
        assert status["ok"] is True
        assert status["clients"] == 2
        sockets = await kernel.call("sio:sockets", {})
        kernels = [s["kernel"] for s in sockets["sockets"]]
        assert "k-123456789" in kernels
        assert await kernel.call("sio:emit", {"event": "news", "args": [1, "two"]}) == {"ok": True}
        assert await browser.event() == ["news", 1, "two"]
    finally:
        kernel.close()
        browser.close()


async def test_browser_endpoint_refuses_a_kernel_session(server: Server) -> None:
    conn = await server.ws(_kernel_url(server), {"X-Jupyter-Sio-Token": server.app.secret})
    try:
        opened = await asyncio.wait_for(conn.read_message(), TIMEOUT)
        assert isinstance(opened, str) and opened.startswith("0{")
        engine_sid = json.loads(opened[1:])["sid"]
        # A WebSocket session takes no polling request ...
        response = await server.fetch(server.sio_url(f"sid={engine_sid}&token={server.token}"))
        assert response.code == 400
        assert engine_error(response)["code"] == 3
        # ... and no upgrade probe.
        browser = await server.ws(
            server.sio_url(f"sid={engine_sid}", transport="websocket", scheme="ws"),
            {"Authorization": f"token {server.token}"},
        )
        assert await asyncio.wait_for(browser.read_message(), TIMEOUT) is None
        # The kernel's own connection is unaffected.
        await conn.write_message("40")
        assert (await asyncio.wait_for(conn.read_message(), TIMEOUT) or "").startswith("40{")
    finally:
        conn.close()
