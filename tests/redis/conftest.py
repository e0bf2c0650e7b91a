"""A real redis-server on a free loopback port, and hubs that share it."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with RedisServer(tmp_path) as server:
        yield server.url


def quiet_port() -> int:
    """A free loopback port below the ephemeral range.

    While a restarted server is down its port is free: one in the ephemeral range could be
    handed to anyone asking for port 0 (another test, another engineer's suite), and a
    client reconnecting to it could even meet itself (TCP simultaneous open when the kernel
    picks the destination port as the source port). Below the range neither happens.
    """
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port below the ephemeral range")


class RestartableRedis(RedisServer):
    """A redis-server that a test stops and starts again on the same port (an operator's
    restart); starting and stopping run in a thread so the hubs' loop keeps going."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.port = quiet_port()

    async def down(self) -> None:
        await asyncio.to_thread(self.stop)

    async def up(self) -> None:
        await asyncio.to_thread(self.start, 60)


@pytest.fixture
async def restartable_redis(tmp_path: Path) -> AsyncIterator[RestartableRedis]:
    server = RestartableRedis(tmp_path)
    await server.up()
    try:
        yield server
    finally:
        await server.down()
