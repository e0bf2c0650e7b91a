"""python-socketio ``AsyncServer(async_mode="tornado")`` running the bench app on Tornado."""

from __future__ import annotations

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import socketio  # noqa: E402
import tornado.web  # noqa: E402

from common import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, parse_args, raise_fd_limit  # noqa: E402
from psio_app import attach_bench_app  # noqa: E402


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    raise_fd_limit()
    sio = socketio.AsyncServer(
        async_mode="tornado",
        ping_interval=PING_INTERVAL,
        ping_timeout=PING_TIMEOUT,
        max_http_buffer_size=MAX_PAYLOAD,
        http_compression=False,
        cors_allowed_origins="*",
        logger=False,
        engineio_logger=False,
    )
    attach_bench_app(sio)
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
