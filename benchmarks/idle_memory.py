"""What one idle WebSocket connection costs the hub in Python memory (issue 11).

A :class:`~jupyter_sio.server.HubServer` runs in this process under ``tracemalloc``; a
child process opens ``--clients`` raw WebSocket connections on 127.0.0.1, joins namespace
``/`` on each and then only holds them (it answers no ping: keep ``--ping-interval``
longer than the run). The difference of two snapshots, before and after, divided by the
number of clients is the cost per connection, shown in total and by source line.

    .venv/bin/python -m benchmarks.idle_memory [--clients 5000] [--http native|tornado]
        [--top 25] [--traceback]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tracemalloc

from jupyter_sio import Hub, HubServer

# The child: plain sockets, no event loop; prints "ready" once every client is connected.
CLIENT = r"""
import base64, os, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
def frame(text):
    data = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return bytes([0x81, 0x80 | len(data)]) + mask + masked
def read_until(sock, marker, buffer=b""):
    while marker not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("server closed a connection")
        buffer += chunk
    return buffer
held = []
for n in range(count):
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {key}\r\nUser-Agent: idle-memory-bench\r\n"
        "Accept-Language: en\r\nAccept-Encoding: gzip\r\n\r\n").encode())
    rest = read_until(sock, b'"maxPayload"')
    sock.sendall(frame("40"))
    read_until(sock, b'40{"sid"', rest.split(b'"maxPayload"', 1)[1])
    held.append(sock)
print("ready", flush=True)
sys.stdin.readline()
"""


def top_lines(diff: list[tracemalloc.StatisticDiff], clients: int, top: int) -> None:
    shown = 0
    for stat in diff:
        if stat.size_diff <= 0:
            continue
        frame = stat.traceback[0]
        where = f"{os.path.relpath(frame.filename)}:{frame.lineno}"
        size, count = stat.size_diff / clients, stat.count_diff / clients
        print(f"  {size:8.1f} B {count:5.2f} blocks  {where}")
        shown += 1
        if shown >= top:
            break


async def measure(clients: int, http: str, top: int, traceback: bool) -> None:
    hub = Hub(ping_interval=600, ping_timeout=600, connect_timeout=600)
    server = HubServer(hub, http=http)  # type: ignore[arg-type]
    port = await server.start("127.0.0.1", 0)
    child = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(port), "20"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # a warm-up: first-use caches are not per connection
    await asyncio.to_thread(child.stdout.readline)  # type: ignore[union-attr]
    child.communicate("\n")
    await asyncio.sleep(0.5)
    gc.collect()
    tracemalloc.start(25 if traceback else 1)
    before = tracemalloc.take_snapshot()
    child = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(port), str(clients)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = await asyncio.to_thread(child.stdout.readline)  # type: ignore[union-attr]
    assert line.strip() == "ready", line
    await asyncio.sleep(0.5)
    gc.collect()
    after = tracemalloc.take_snapshot()
    held = len(hub.clients)
    child.communicate("\n")
    await server.stop()
    noise = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(noise), after.filter_traces(noise)
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(
        f"{held} connections held ({http} front end): {total / clients / 1024:.2f} KiB each "
        "in Python objects (tracemalloc)"
    )
    print("by line:")
    top_lines(after.compare_to(before, "lineno"), clients, top)
    if traceback:
        print("by traceback (largest):")
        for stat in after.compare_to(before, "traceback")[:top]:
            print(f"  {stat.size_diff / clients:8.1f} B")
            for frame in stat.traceback.format()[-12:]:
                print("     ", frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--http", choices=("native", "tornado"), default="native")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--traceback", action="store_true", help="group by whole tracebacks")
    args = parser.parse_args()
    asyncio.run(measure(args.clients, args.http, args.top, args.traceback))


if __name__ == "__main__":
    main()
