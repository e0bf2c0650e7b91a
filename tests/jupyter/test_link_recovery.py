"""The kernel link across a blip (issue 10): with ``recovery_window`` set, a kernel whose link
to the Jupyter-mounted hub drops (its TCP connection cut from the hub's side) and comes back
misses nothing reliable in either direction:

- browser events routed to it while the link is down reach its handlers once it is back, in
  order, and their acks are answered by it; room broadcasts to it likewise;
- what it emits meanwhile (buffered in its link buffer, or written into the dead connection
  and never read by the hub) reaches the browsers once, in order.

Without ``recovery_window`` the hub keeps nothing: the events are answered at once as
unhandled (the old behaviour, kept). The kernel client is jupyter_sio's own
(``jupyter_sio.connect`` with the server token: the same kernel link a notebook kernel
uses), on its own thread; the browser is a python-socketio client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
import socketio

import jupyter_sio
from tests.blip_extension import abort

from .conftest import TIMEOUT, Server


@pytest.fixture
def sio_config() -> dict[str, Any]:
    return {"recovery_window": 30.0}


DEADLINE = 30.0  # bounds every wait; nothing is timed


async def until(check: Callable[[], Any], what: str, deadline: float = DEADLINE) -> Any:
    """Poll ``check`` (bounded) until it returns something true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        value = check()
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.02)


class KernelSide:
    """jupyter_sio's kernel client: handlers for ``note`` and ``ask``, in room ``k``, and a
    producer thread that emits ``seq`` 0, 1, 2, ... to room ``watch``."""

    def __init__(self, sio: Any) -> None:
        self.sio = sio
        self.notes: list[int] = []
        self.ticks: list[int] = []
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, daemon=True)

        @sio.on("note")
        def note(peer: Any, n: int) -> None:
            self.notes.append(n)

        @sio.on("ask")
        def ask(peer: Any, n: int) -> int:
            return n * 10

        @sio.on("tick")
        def tick(peer: Any, n: int) -> None:
            self.ticks.append(n)

        sio.join("k")

    def _produce(self) -> None:
        while not self.stop.is_set():
            self.sio.emit("seq", self.sent, to="watch")
            self.sent += 1
            self.stop.wait(0.002)


@pytest_asyncio.fixture
async def kernel(server: Server) -> AsyncIterator[KernelSide]:
    url = server.url("jupyter-sio/")
    sio = await asyncio.to_thread(jupyter_sio.connect, url, server.token)
    side = KernelSide(sio)
    link = sio._link
    # Come back after 1-3 s (not 0.1-0.4 s): the browser's emits below land while it is away.
    link.backoff = (2.0, 2.0)
    await until(
        lambda: server.hub.kernel_router.handles(next(iter(server.hub.kernel_peers)), "/", "ask"),
        "the kernel's handlers",
    )
    try:
        yield side
    finally:
        side.stop.set()
        await asyncio.to_thread(sio.close)


@pytest_asyncio.fixture
async def browser(server: Server) -> AsyncIterator[tuple[socketio.AsyncClient, list[int]]]:
    client = socketio.AsyncClient(reconnection=False)
    seen: list[int] = []

    @client.on("seq")
    def on_seq(n: int, *_offset: Any) -> None:  # the recovery offset rides last
        seen.append(n)

    await client.connect(
        server.origin + f"?token={server.token}",
        transports=["polling"],
        socketio_path=server.base_url + "jupyter-sio/socket.io",
        wait_timeout=TIMEOUT,
    )
    reply = await client.call("sio:subscribe", {"rooms": ["watch"]}, timeout=TIMEOUT)
    assert reply["ok"], reply
    try:
        yield client, seen
    finally:
        await client.disconnect()


async def test_nothing_reliable_is_lost_across_a_blip_of_the_kernel_link(
    server: Server, kernel: KernelSide, browser: tuple[socketio.AsyncClient, list[int]]
) -> None:
    hub = server.hub
    client, seen = browser
    kernel.thread.start()
    await until(lambda: len(seen) > 20, "the kernel's stream")
    peer = next(iter(hub.kernel_peers))
    link = kernel.sio._link

    abort(peer.writer)  # the hub's side of the TCP connection goes
    await until(lambda: peer.parked is not None, "the hub to park the link")
    for n in range(5):  # a browser's events and a room broadcast, while the link is down
        await client.emit("note", n)
        hub.to("k").emit("tick", n)
    answer = asyncio.ensure_future(client.call("ask", 7, timeout=DEADLINE))
    await until(
        lambda: peer.parked is not None and peer.parked.count >= 11,
        "the events to be kept for the kernel",
    )
    assert link.reconnects == 0, "the kernel came back before the blip's emits: inconclusive"

    assert await answer == 70  # answered by the kernel once it is back
    await until(lambda: len(kernel.notes) == 5 and len(kernel.ticks) == 5, "the missed events")
    assert kernel.notes == [0, 1, 2, 3, 4] and kernel.ticks == [0, 1, 2, 3, 4]
    assert link.reconnects == 1 and peer.closed and peer not in hub.kernel_peers
    assert not hub.kernel_router.parked

    # the handlers are the new link's: a new event reaches the kernel once
    assert await client.call("ask", 8, timeout=DEADLINE) == 80
    kernel.stop.set()
    await asyncio.to_thread(kernel.thread.join, 10)
    await until(lambda: len(seen) >= kernel.sent, "the rest of the kernel's stream")
    assert seen == list(range(kernel.sent))  # every emit once, in order, across the blip


@pytest.mark.parametrize("sio_config", [{}])
async def test_without_recovery_window_the_hub_keeps_nothing(
    server: Server, kernel: KernelSide, browser: tuple[socketio.AsyncClient, list[int]]
) -> None:
    hub = server.hub
    client, _ = browser
    peer = next(iter(hub.kernel_peers))
    abort(peer.writer)
    await until(lambda: peer.closed, "the link to close")
    assert peer.parked is None and not hub.kernel_router.parked
    reply = await client.call("ask", 7, timeout=DEADLINE)
    assert isinstance(reply, dict) and "error" in reply  # unhandled, at once


async def test_a_kernel_that_says_bye_is_not_kept(server: Server) -> None:
    url = server.url("jupyter-sio/")
    sio = await asyncio.to_thread(jupyter_sio.connect, url, server.token)
    peer = await until(lambda: next(iter(server.hub.kernel_peers), None), "the link")
    await asyncio.to_thread(sio.close)
    await until(lambda: peer.closed, "the link to close")
    assert peer.leaving and peer.parked is None and not server.hub.kernel_router.parked
