"""The hub the hostile-client tests attack (``python -m jupyter_sio serve
tests.apps.hostile_app:hub``): small buffers, so a client that does not read reaches its
limits in seconds, and a few handlers a real application would have.

Events: ``join(room)`` → True; ``echo(*args)`` → args; ``blast(room, seconds, rate)``
broadcasts numbered 1 KB ``tick`` events to ``room`` without waiting (the pattern that used
to pile up one waiter per broadcast) and answers how many it sent; ``rss()`` → the hub's
resident memory in bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_sio import Hub, Socket

hub = Hub(
    max_payload=1_000_000,
    max_buffer_bytes=1 << 20,
    max_buffer_packets=1024,
    write_high_water=256 * 1024,
    send_timeout=2.0,
    ping_interval=5,
    ping_timeout=60,  # the stuck clients are dropped for not reading, not by heartbeats
)
hub.enable_browser_events()  # sio:subscribe / sio:publish / presence, as inside Jupyter

FILLER = "x" * 1000


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@hub.on("join")
def join(socket: Socket, room: str) -> bool:
    socket.join(room)
    return True


@hub.on("echo")
def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
    return args


@hub.on("rss")
def rss(socket: Socket) -> int:
    return rss_bytes()


@hub.on("blast")
async def blast(socket: Socket, room: str, seconds: float, rate: int) -> int:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    sent = 0
    per_tick = max(1, rate // 100)
    while loop.time() < end:
        for _ in range(per_tick):
            hub.to(room).emit("tick", sent, FILLER)
            sent += 1
        await asyncio.sleep(0.01)
    hub.to(room).emit("done", sent)
    return sent
