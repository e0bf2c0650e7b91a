"""The kernel link: WebSocket only, authenticated by the per-server secret, link frames."""

from __future__ import annotations

import asyncio
import os

from .conftest import EVIL, TIMEOUT, RawLink, RawSio, Server, engine_error


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


async def _link(server: Server, **headers: str) -> RawLink:
    return RawLink(await server.ws(_kernel_url(server), {
        "X-Jupyter-Sio-Token": server.app.secret, **headers}))


async def test_kernel_gets_powers_and_reaches_browsers(server: Server) -> None:
    kernel = await _link(server, **{"X-Jupyter-Sio-Kernel": "k-123456789"})
    browser = RawSio(
        await server.ws(
            server.sio_url(transport="websocket", scheme="ws"),
            {"Authorization": f"token {server.token}"},
        )
    )
    try:
        welcome = await kernel.hello()
        assert welcome["sid"] and welcome["max_payload"] == server.app.hub.config.max_payload
        await browser.start()
        status = await kernel.request("status", {})
        assert status["clients"] == 2
        sockets = await kernel.request("sockets", {"ns": "/"})
        kernels = [s["kernel"] for s in sockets["sockets"]]
        assert "k-123456789" in kernels
        # an emit carries the Socket.IO packet as the kernel encoded it
        kernel.send("emit", {"ns": "/"}, '2["news",1,"two"]')
        assert await browser.event() == ["news", 1, "two"]
        # errors come back typed
        failed = await kernel.request("sockets", {"ns": "/nope"})
        assert failed["error"]["type"] == "UnknownNamespace"
    finally:
        kernel.close()
        browser.close()


async def test_frames_before_hello_close_only_that_link(server: Server) -> None:
    bad = await _link(server)
    good = await _link(server)
    try:
        await good.hello()
        bad.send("emit", {"ns": "/"}, '2["x"]')
        assert await asyncio.wait_for(bad.conn.read_message(), TIMEOUT) is None
        assert (await good.request("status", {}))["clients"] >= 1
    finally:
        bad.close()
        good.close()


async def test_browser_endpoint_is_not_the_kernel_link(server: Server) -> None:
    # Link frames on the browser endpoint are not Engine.IO: the connection closes.
    conn = await server.ws(server.sio_url(transport="websocket", scheme="ws"),
                           {"Authorization": f"token {server.token}"})
    try:
        opened = await asyncio.wait_for(conn.read_message(), TIMEOUT)
        assert isinstance(opened, str) and opened.startswith("0{")
        conn.write_message('hello\t{"v":1}')
        assert await asyncio.wait_for(conn.read_message(), TIMEOUT) is None
    finally:
        conn.close()
