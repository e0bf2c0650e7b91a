"""The Authorizer decides on resource ``jupyter_sio``: read → connect, write → publish,
execute → kernel powers."""

from __future__ import annotations

import pytest

from .conftest import DenyExecute, DenyRead, DenyWrite, RawSio, Server, engine_error


async def _browser(server: Server) -> RawSio:
    sio = RawSio(
        await server.ws(
            server.sio_url(transport="websocket", scheme="ws"),
            {"Authorization": f"token {server.token}"},
        )
    )
    await sio.start()
    return sio


def _link_url(server: Server) -> str:
    return server.sio_url(transport="websocket", scheme="ws", endpoint="kernel")


async def test_default_authorizer_gives_token_users_every_power(server: Server) -> None:
    # execute: a script may open the kernel link with the server token
    assert await server.ws_status(_link_url(server), {"Authorization": f"token {server.token}"}
                                  ) == 101
    browser = await _browser(server)
    try:
        assert (await browser.call("sio:publish", {"event": "x", "to": "r"}))["ok"] is True
        assert (await browser.call("sio:subscribe", {"rooms": ["r"]}))["ok"] is True
    finally:
        browser.close()


@pytest.mark.parametrize("authorizer_class", [DenyExecute])
async def test_no_execute_means_no_kernel_powers(server: Server) -> None:
    assert await server.ws_status(_link_url(server), {"Authorization": f"token {server.token}"}
                                  ) == 403
    browser = await _browser(server)
    try:
        # Reading and publishing are still allowed.
        assert (await browser.call("sio:subscribe", {"rooms": ["r"]}))["ok"] is True
        assert (await browser.call("sio:publish", {"event": "x", "to": "r"}))["ok"] is True
    finally:
        browser.close()


@pytest.mark.parametrize("authorizer_class", [DenyWrite])
async def test_no_write_means_no_publishing(server: Server) -> None:
    browser = await _browser(server)
    try:
        answer = await browser.call("sio:publish", {"event": "x", "to": "r"})
        assert answer["ok"] is False
        assert answer["error"].startswith("forbidden")
        assert (await browser.call("sio:subscribe", {"rooms": ["r"]}))["ok"] is True
    finally:
        browser.close()


@pytest.mark.parametrize("authorizer_class", [DenyRead])
async def test_no_read_means_403(server: Server) -> None:
    response = await server.fetch(server.sio_url(f"token={server.token}"))
    assert response.code == 403
    assert engine_error(response)["code"] == 4
    ws_url = server.sio_url(transport="websocket", scheme="ws")
    assert await server.ws_status(ws_url, {"Authorization": f"token {server.token}"}) == 403
    # The kernel link does not ask the Authorizer: the secret is the kernel's credential.
    kernel_url = server.sio_url(transport="websocket", scheme="ws", endpoint="kernel")
    assert await server.ws_status(kernel_url, {"X-Jupyter-Sio-Token": server.app.secret}) == 101
