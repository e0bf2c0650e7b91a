"""python-socketio ``AsyncServer(async_mode="asgi")`` running the bench app under uvicorn.

uvicorn runs in this process (single worker, no reload), so this PID is the server's PID.
Event loop, HTTP and WebSocket implementations are passed on the command line by
benchmarks/run.py: ``asyncio``/``h11``/``wsproto`` for one peer, ``uvloop``/``httptools``/
``websockets`` (what ``uvicorn[standard]`` installs) for the other.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import socketio
import uvicorn
from common import MAX_PAYLOAD, raise_fd_limit
from psio_app import bench_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--http", default="h11")
    parser.add_argument("--ws", default="wsproto")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("benchmark servers listen on the loopback interface only")
    raise_fd_limit()
    sio = bench_server("asgi")
    app = socketio.ASGIApp(sio, socketio_path="socket.io")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop=args.loop,
        http=args.http,
        ws=args.ws,
        ws_per_message_deflate=False,
        ws_max_size=MAX_PAYLOAD,
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
