"""The hub's own cost per inbound message, in process: no sockets, no Tornado.

A :class:`~jupyter_sio.hub.sio_connection.Client` is driven through ``on_message`` (Socket.IO
packets, the Engine.IO ``4`` already taken off as ``EngineConnection.receive_ws`` does) with a
fake channel that only collects the :class:`~jupyter_sio.protocol.frames.Outgoing` packets
(and builds their WebSocket frame, as a real WebSocket write would), so what is timed is
decode → handler → ack encode → deliver: the hub's part of issue 11's echo benchmark.

    .venv/bin/python -m benchmarks.inbound_micro [--n 200000] [--repeat 5]

Run it with another copy of the package first on ``PYTHONPATH`` to compare versions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

from jupyter_sio import Hub
from jupyter_sio.hub.sio_connection import Client, Handshake
from jupyter_sio.protocol.frames import Outgoing


class FakeChannel:
    """A connection that is always writable: counts what the hub sends."""

    sid = "bench"
    transport_name = "websocket"

    def __init__(self) -> None:
        self.sent = 0
        self.last: Outgoing | None = None

    def send(self, packet: Outgoing) -> bool:
        packet.ws_frame  # noqa: B018 (what the WebSocket write does first)
        self.sent += 1
        self.last = packet
        return True

    def send_when_room(self, packet: Outgoing) -> Any:
        raise AssertionError("never full")

    def close(self, reason: str = "forced close") -> None:
        raise AssertionError(f"closed: {reason}")


def make_hub() -> Hub:
    hub = Hub()

    @hub.on("echo")
    def echo(socket: Any, *args: Any) -> Any:
        return args

    @hub.on("aecho")
    async def aecho(socket: Any, *args: Any) -> Any:
        return args

    @hub.on("note")
    def note(socket: Any, *args: Any) -> None:
        return None

    return hub


async def connected_client() -> tuple[Client, FakeChannel]:
    hub = make_hub()
    channel = FakeChannel()
    client = hub.connect_client(channel, Handshake())
    client.on_message("0")
    assert channel.sent == 1 and channel.last is not None and channel.last.text.startswith("40")
    return client, channel


def time_sync(feed: Callable[[], None], n: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        feed()
    return (time.perf_counter() - start) / n * 1e6


async def time_async(client: Client, channel: FakeChannel, n: int) -> float:
    """An async handler: each call awaits its task (the ack goes out from it)."""
    message = '21["aecho",{"n":1,"s":"hello"}]'
    on_message = client.on_message
    gc.collect()
    start = time.perf_counter()
    for _ in range(n):
        before = channel.sent
        on_message(message)
        while channel.sent == before:
            await asyncio.sleep(0)
    return (time.perf_counter() - start) / n * 1e6


async def run(n: int, repeat: int) -> dict[str, float]:
    client, channel = await connected_client()
    on_message = client.on_message
    text_event = '2["note",{"n":1,"s":"hello"}]'
    text_ack = '21["echo",{"n":1,"s":"hello"}]'
    binary_head = '51-["note",{"_placeholder":true,"num":0}]'
    blob = b"\x00" * 64
    cases: dict[str, Callable[[], float]] = {
        "event, no ack": lambda: time_sync(lambda: on_message(text_event), n),
        "event + ack, sync handler": lambda: time_sync(lambda: on_message(text_ack), n),
        "binary event (1 attachment)": lambda: time_sync(
            lambda: (on_message(binary_head), on_message(blob)), n
        ),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    results["event + ack, async handler"] = []
    for _ in range(repeat):
        for name, case in cases.items():
            results[name].append(case())
        results["event + ack, async handler"].append(await time_async(client, channel, n // 4))
    assert channel.last is not None
    return {name: min(values) for name, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=100_000, help="calls per measurement")
    parser.add_argument("--repeat", type=int, default=5, help="measurements (the fastest is shown)")
    args = parser.parse_args()
    import jupyter_sio

    results = asyncio.run(run(args.n, args.repeat))
    print(f"jupyter_sio from {jupyter_sio.__file__}")
    for name, micros in results.items():
        print(f"  {name:32s} {micros:7.2f} µs/call")


if __name__ == "__main__":
    main()
