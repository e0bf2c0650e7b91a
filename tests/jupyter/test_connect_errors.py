"""Errors a user can act on when a kernel or script cannot use the hub it expected."""

from __future__ import annotations

import asyncio

import pytest

import jupyter_sio
from jupyter_sio.exceptions import Disconnected
from jupyter_sio.kernel.sio import KernelSio
from tests.live_server import free_port

from .conftest import Server


async def connect(url: str, token: str) -> None:
    sio = await asyncio.to_thread(jupyter_sio.connect, url, token, timeout=10)
    await asyncio.to_thread(sio.close)


async def test_nothing_listening() -> None:
    with pytest.raises(Disconnected, match="nothing listens at"):
        await connect(f"http://127.0.0.1:{free_port()}/jupyter-sio/", "x")


async def test_wrong_token_and_wrong_url(server: Server) -> None:
    with pytest.raises(Disconnected, match="refused the credentials"):
        await connect(server.url("jupyter-sio/"), "not-the-token")
    with pytest.raises(Disconnected, match="no jupyter_sio at"):
        await connect(server.url("wrong-path/"), server.token)
    await connect(server.url("jupyter-sio/"), server.token)  # the right ones work


async def test_an_embedded_hub_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUPYTER_SIO_URL", "JUPYTER_SIO_TOKEN", "JPY_PARENT_PID"):
        monkeypatch.delenv(name, raising=False)
    sio = await asyncio.to_thread(KernelSio().start)
    try:
        assert sio.mode == "embedded"
        assert "no jupyter_sio server extension started this kernel" in sio.why
        assert "restart the server" in sio.status()["why"]
    finally:
        await asyncio.to_thread(sio.close)
