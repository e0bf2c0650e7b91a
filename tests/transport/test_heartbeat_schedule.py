"""The one heartbeat timer of a server (transport.heartbeat): order, rescheduling, cancel."""

from __future__ import annotations

import asyncio

from jupyter_sio.transport.heartbeat import Heartbeats


class Conn:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self._timer: float | None = None

    def _on_timer(self) -> None:
        self.log.append(self.name)


async def test_deadlines_fire_in_order_once_each() -> None:
    loop = asyncio.get_running_loop()
    beats, log = Heartbeats(), []
    a, b, c = Conn("a", log), Conn("b", log), Conn("c", log)
    now = loop.time()
    beats.schedule(b, now + 0.06)
    beats.schedule(a, now + 0.02)
    beats.schedule(c, now + 0.04)
    await asyncio.sleep(0.15)
    assert log == ["a", "c", "b"]
    assert a._timer is None and len(beats) == 0


async def test_rescheduling_replaces_and_cancel_forgets() -> None:
    loop = asyncio.get_running_loop()
    beats, log = Heartbeats(), []
    a, b = Conn("a", log), Conn("b", log)
    now = loop.time()
    beats.schedule(a, now + 0.02)
    beats.schedule(a, now + 0.08)  # the first deadline is stale now
    beats.schedule(b, now + 0.04)
    beats.cancel(b)
    await asyncio.sleep(0.05)
    assert log == []
    await asyncio.sleep(0.1)
    assert log == ["a"]
    assert len(beats) == 0


async def test_stale_entries_are_purged() -> None:
    loop = asyncio.get_running_loop()
    beats, log = Heartbeats(), []
    conns = [Conn(str(n), log) for n in range(300)]
    far = loop.time() + 60
    for conn in conns:
        beats.schedule(conn, far)
    for again in (1, 2):
        for conn in conns:
            beats.schedule(conn, far + again)
    assert len(beats) < 3 * len(conns)  # rebuilt without stale entries on the way
    for conn in conns:
        beats.cancel(conn)
    beats.schedule(conns[0], loop.time() + 0.01)
    await asyncio.sleep(0.05)
    assert log == ["0"]
