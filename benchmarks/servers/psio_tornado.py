"""python-socketio ``AsyncServer(async_mode="tornado")`` running the bench app on Tornado."""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import socketio
import tornado.web
from common import MAX_PAYLOAD, parse_args, raise_fd_limit
from psio_app import bench_server


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    raise_fd_limit()
    sio = bench_server("tornado")
    handler = socketio.get_tornado_handler(sio)

    class NoDeflateHandler(handler):  # python-engineio's handler offers permessage-deflate
        def get_compression_options(self):
            return None

    app = tornado.web.Application(
        [(r"/socket.io/", NoDeflateHandler)], websocket_max_message_size=MAX_PAYLOAD
    )
    app.listen(args.port, address=args.host)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
