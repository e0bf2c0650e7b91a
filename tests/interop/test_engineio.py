"""The public Engine.IO layer (:mod:`jupyter_sio.engine`) against the official
``engine.io-client`` (npm): text and binary echo over polling, WebSocket and an upgrade."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_sio import HubServer
from jupyter_sio.engine import EngineIO, EngineSocket

SCRIPT = Path(__file__).resolve().parents[1] / "js" / "engineio_echo.mjs"


@pytest.fixture
async def echo() -> AsyncIterator[tuple[HubServer, list[Any]]]:
    app = EngineIO(ping_interval=2, ping_timeout=5)
    seen: list[Any] = []

    @app.on("connect")
    def connected(socket: EngineSocket) -> None:
        seen.append(("connect", socket.transport))

    @app.on("message")
    def message(socket: EngineSocket, data: str | bytes) -> None:
        seen.append(("message", data))
        socket.send(data)

    @app.on("disconnect")
    def gone(socket: EngineSocket, reason: str) -> None:
        seen.append(("disconnect", reason))

    server = HubServer(app, path="/engine.io/")
    await server.start("127.0.0.1", 0)
    yield server, seen
    await server.stop()


@pytest.mark.parametrize("transports", ["polling", "websocket", "polling,websocket"])
async def test_engine_io_client_echo(echo: tuple[HubServer, list[Any]], transports: str) -> None:
    server, seen = echo
    node = shutil.which("node")
    assert node, "node is not on PATH"
    proc = await asyncio.create_subprocess_exec(
        node, str(SCRIPT), f"http://127.0.0.1:{server.port}", transports,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    result = json.loads(out.decode().strip().splitlines()[-1]) if out else {"error": err.decode()}
    assert result["error"] is None, (result, err.decode())
    assert sorted(result["got"], key=str) == sorted(["hello", [1, 2, 3, 250]], key=str)
    assert result["transport"] == transports.split(",")[-1]
    assert ("message", b"\x01\x02\x03\xfa") in seen and ("message", "hello") in seen
    for _ in range(1200):  # the client closed (or, at worst, stopped answering pings)
        if any(e[0] == "disconnect" for e in seen):
            break
        await asyncio.sleep(0.05)
    assert any(e[0] == "disconnect" for e in seen)
