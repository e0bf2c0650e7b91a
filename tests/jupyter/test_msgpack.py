"""``c.JupyterSioApp.parser = "msgpack"`` (issue 10): the Jupyter-mounted hub speaks
socket.io-msgpack-parser to browsers, behind Jupyter's authentication, while kernels keep
their link's format (the hub transcodes). The client is the official socket.io-client with
socket.io-msgpack-parser (npm, tests/js); the kernel is jupyter_sio's client. The widgets
read the parser from page config (``jupyterSio.parser``; the browser test is
tests/e2e/test_widget_msgpack.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

import jupyter_sio
from tests.peers.node_puppet import NodePuppet

from .conftest import Server


@pytest.fixture
def sio_config() -> dict[str, Any]:
    return {"parser": "msgpack"}


@pytest_asyncio.fixture
async def puppet() -> AsyncIterator[NodePuppet]:
    node = await NodePuppet().start()
    try:
        yield node
    finally:
        await node.aclose()


def client_options(server: Server, parser: str, transport: str) -> dict[str, Any]:
    options = {
        "path": server.base_url + "jupyter-sio/socket.io/",
        "query": {"token": server.token},
        "transports": [transport],
        "reconnection": False,
    }
    if parser == "msgpack":
        options["parser"] = "msgpack"
    return options


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_the_official_client_with_msgpack_and_a_kernel(
    server: Server, puppet: NodePuppet, transport: str
) -> None:
    sio = await asyncio.to_thread(jupyter_sio.connect, server.url("jupyter-sio/"), server.token)
    try:

        @sio.on("echo")
        def echo(peer: Any, value: Any) -> Any:
            return value

        await asyncio.sleep(0)
        browser = await puppet.connect(
            server.origin + "/", **client_options(server, "msgpack", transport)
        )
        try:
            reply = await browser.call("sio:subscribe", {"rooms": ["dash"]})
            assert reply["ok"], reply
            blob = bytes([0, 1, 2, 255])
            await asyncio.to_thread(sio.emit, "tick", {"n": 1, "raw": blob}, to="dash")
            args = await browser.wait_event("tick")
            assert args[0] == {"n": 1, "raw": blob}
            assert await browser.call("echo", {"b": blob, "s": "é"}) == {"b": blob, "s": "é"}
        finally:
            await browser.close()
    finally:
        await asyncio.to_thread(sio.close)


async def test_a_default_parser_client_is_told(server: Server, puppet: NodePuppet) -> None:
    browser = await puppet.connect(
        server.origin + "/", wait=False, **client_options(server, "default", "websocket")
    )
    try:
        report = await browser.wait_report("connect_error")
        assert "msgpack" in str(report.get("message", "")) + str(report.get("data", ""))
    finally:
        await browser.close()


async def test_the_page_config_tells_the_widgets(server: Server) -> None:
    page_config = server.serverapp.web_app.settings["page_config_data"]
    assert page_config["jupyterSio"]["parser"] == "msgpack"
