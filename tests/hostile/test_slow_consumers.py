"""Clients that stop reading cannot grow the hub's memory past its buffers.

A stuck subscriber of a busy room and a client that floods calls without reading the
answers, side by side for 30 s of 1 KB broadcasts: each is disconnected once (one log line
each), the healthy clients in the same room get every broadcast in order, and the hub's
memory stays within the documented bound (per connection: ``max_buffer_bytes`` plus the
WebSocket stream's ``write_high_water`` and one held packet), far from the hundreds of MB
that one waiter or one unanswered future per message used to cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from tests.peers.servers import ServerProcess
from tests.peers.stalled import StalledClient

from .conftest import Healthy, log_since, log_size, rss_of

SECONDS = 30
RATE = 1000  # broadcasts per second, 1 KB each
BOUND = 64 * 1024 * 1024  # generous: the buffers of the two stuck clients are ~3 MB


async def flood_calls(client: StalledClient) -> int:
    """Send small acked calls as fast as the hub takes them; never read an answer."""
    sent = 0
    with contextlib.suppress(ConnectionError, OSError):
        while not client.writer.is_closing():
            for _ in range(200):
                sent += 1
                client.send(f'42{sent}["echo","{"y" * 80}"]')
            await client.writer.drain()
    return sent


async def test_stuck_readers_are_dropped_once_and_memory_stays_bounded(
    hostile: ServerProcess, healthy: Healthy
) -> None:
    other = Healthy()
    await other.sio.connect(hostile.url, transports=["websocket"], wait_timeout=30)
    try:
        for client in (healthy, other):
            assert await client.call("join", "room") is True
        stuck = await StalledClient.connect(hostile.port, rcvbuf=16384)
        stuck.send('421["join","room"]')
        flooder = await StalledClient.connect(hostile.port, rcvbuf=16384)
        offset = log_size(hostile)
        baseline = rss_of(hostile)
        peak = baseline

        flood = asyncio.ensure_future(flood_calls(flooder))
        blast = asyncio.ensure_future(healthy.call("blast", "room", SECONDS, RATE, timeout=300))
        while not blast.done():
            peak = max(peak, rss_of(hostile))
            await asyncio.sleep(0.25)
        sent = blast.result()
        for client in (healthy, other):
            await asyncio.wait_for(client.done.wait(), 120)

        assert sent > 0
        for client in (healthy, other):  # nothing lost, nothing out of order
            assert client.ticks == list(range(sent))
            assert not client.disconnected
        assert await stuck.closed_by_server()
        assert await flooder.closed_by_server()
        flood.cancel()
        lines = re.findall(r"disconnecting (\S+): ", log_since(hostile, offset))
        assert len(lines) == 2 and len(set(lines)) == 2, lines  # once per stuck client
        assert "never retrieved" not in log_since(hostile, offset)
        print(f"hub RSS: {baseline >> 20} MiB before, +{(peak - baseline) / 2**20:.1f} MiB at "
              f"peak; {sent} broadcasts of 1 KB")  # shown with pytest -s
        assert peak - baseline < BOUND, f"hub RSS grew by {(peak - baseline) >> 20} MiB"
        await other.served()
    finally:
        await other.sio.disconnect()
