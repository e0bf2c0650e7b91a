"""Who may open the Admin UI's namespace ``/admin`` on the Jupyter-mounted hub (issue 10):
users with kernel powers (``execute`` on resource "jupyter_sio"), authenticated by Jupyter
(here the server token); others are refused, as is everyone while ``admin_ui`` is off. The
official UI itself, from another origin: tests/e2e/test_admin_ui_jupyter.py."""

from __future__ import annotations

from typing import Any

import pytest
import socketio

from .conftest import DenyExecute, Server


async def admin_client(server: Server) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        f"{server.origin}?token={server.token}",
        namespaces=["/admin"],
        socketio_path=server.base_url + "jupyter-sio/socket.io",
        transports=["polling"],
        wait_timeout=10,
    )
    return client


@pytest.mark.parametrize("sio_config", [{"admin_ui": True}])
async def test_kernel_powers_open_the_admin_namespace(server: Server) -> None:
    client = await admin_client(server)
    try:
        assert client.get_sid("/admin")
    finally:
        await client.disconnect()


@pytest.mark.parametrize("sio_config", [{"admin_ui": True}])
@pytest.mark.parametrize("authorizer_class", [DenyExecute])
async def test_without_kernel_powers_the_admin_namespace_is_refused(server: Server) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await admin_client(server)


@pytest.mark.parametrize("sio_config", [{}])
async def test_admin_ui_off_means_no_admin_namespace(server: Server, sio_config: Any) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await admin_client(server)
