"""One hub subprocess (tests/apps/hostile_app.py) for the hostile-client tests, so its
memory can be measured apart from the clients', and helpers to talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import socketio

from tests.peers.servers import ServerProcess


@pytest.fixture(scope="module")
def hostile() -> Iterator[ServerProcess]:
    server = ServerProcess("jupyter_sio", app="tests.apps.hostile_app:hub", start_timeout=60)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Healthy:
    """A well-behaved python-socketio client that records every ``tick`` it gets."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.ticks: list[int] = []
        self.done = asyncio.Event()
        self.disconnected = False
        self.sio.on("tick", self._tick)
        self.sio.on("done", lambda *_: self.done.set())
        self.sio.on("disconnect", self._gone)

    def _tick(self, n: int, _filler: str) -> None:
        self.ticks.append(n)

    def _gone(self, *_: Any) -> None:
        self.disconnected = True

    async def call(self, event: str, *args: Any, timeout: float = 60) -> Any:
        return await self.sio.call(event, args if len(args) != 1 else args[0], timeout=timeout)

    async def served(self) -> None:
        """The hub answers this client at once (an echo round trip)."""
        assert await self.call("echo", "still here", timeout=30) == "still here"


@pytest.fixture
async def healthy(hostile: ServerProcess) -> AsyncIterator[Healthy]:
    client = Healthy()
    await client.sio.connect(hostile.url, transports=["websocket"], wait_timeout=30)
    yield client
    await client.sio.disconnect()


def rss_of(server: ServerProcess) -> int:
    assert server.proc is not None
    with open(f"/proc/{server.proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def log_since(server: ServerProcess, offset: int) -> str:
    return server.log_path.read_bytes()[offset:].decode("utf-8", "replace")


def log_size(server: ServerProcess) -> int:
    return server.log_path.stat().st_size
