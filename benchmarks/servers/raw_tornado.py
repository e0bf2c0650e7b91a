"""The raw Tornado WebSocket floor.

A plain ``tornado.websocket.WebSocketHandler`` that speaks only the minimum of Engine.IO v4 /
Socket.IO v5 text framing the bench app needs, over WebSocket only:

- on open: send the Engine.IO OPEN packet ``0{"sid":...,"upgrades":[],...}``;
- ``40`` / ``40{auth}``: reply ``40{"sid":...}`` and join ``auth.room`` if set;
- ``42["publish",{...}]``: build ``42["tick",{...}]`` once, ``write_message`` it to every
  member of the room named by the first argument's ``"room"`` field;
- ``42<id>["echo",...]``: reply ``43<id>[...]``;
- anything else (including the client's ``3`` pongs) is ignored.

One PeriodicCallback sends the ``2`` ping to every socket every 25 s, so idle connections
look like a real server's. No pingTimeout enforcement, no polling, no namespaces other
than ``/``, no binary. It is the least work a Python Tornado server can do per delivery.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tornado.ioloop
import tornado.web
import tornado.websocket
from common import MAX_PAYLOAD, PING_INTERVAL, PING_TIMEOUT, parse_args, raise_fd_limit

ROOMS: dict[str, set[EIOHandler]] = {}
SOCKETS: set[EIOHandler] = set()
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _new_sid() -> str:
    return base64.urlsafe_b64encode(os.urandom(15)).decode()


class EIOHandler(tornado.websocket.WebSocketHandler):
    sid: str
    room: str | None = None

    def check_origin(self, origin: str) -> bool:
        return True

    def get_compression_options(self):  # no permessage-deflate
        return None

    def open(self, *args, **kwargs) -> None:
        if self.get_query_argument("transport", "") != "websocket":
            self.close(1003)
            return
        self.set_nodelay(True)  # Tornado leaves Nagle on by default; a floor should not wait on it
        self.sid = _new_sid()
        self.room = None
        SOCKETS.add(self)
        self.write_message(
            "0"
            + _dumps(
                {
                    "sid": self.sid,
                    "upgrades": [],
                    "pingInterval": PING_INTERVAL * 1000,
                    "pingTimeout": PING_TIMEOUT * 1000,
                    "maxPayload": MAX_PAYLOAD,
                }
            )
        )

    def on_message(self, message) -> None:
        if not isinstance(message, str) or len(message) < 2 or message[0] != "4":
            return
        kind = message[1]
        if kind == "2":
            self._on_event(message)
        elif kind == "0":
            auth = None
            if len(message) > 2:
                try:
                    auth = json.loads(message[2:])
                except ValueError:
                    auth = None
            room = auth.get("room") if isinstance(auth, dict) else None
            if isinstance(room, str) and room:
                self.room = room
                ROOMS.setdefault(room, set()).add(self)
            self.write_message('40{"sid":"' + _new_sid() + '"}')

    def _on_event(self, message: str) -> None:
        i = 2
        n = len(message)
        while i < n and message[i].isdigit():
            i += 1
        ack_id = message[2:i]
        try:
            data = json.loads(message[i:])
        except ValueError:
            return
        if not isinstance(data, list) or not data:
            return
        name = data[0]
        if name == "publish" and len(data) > 1 and isinstance(data[1], dict):
            members = ROOMS.get(data[1].get("room"))
            if not members:
                return
            out = "42" + _dumps(["tick", *data[1:]])
            for handler in list(members):
                try:
                    handler.write_message(out)
                except tornado.websocket.WebSocketClosedError:
                    pass
        elif name == "echo" and ack_id:
            self.write_message("43" + ack_id + _dumps(data[1:]))

    def on_close(self) -> None:
        SOCKETS.discard(self)
        if self.room is not None:
            members = ROOMS.get(self.room)
            if members is not None:
                members.discard(self)
                if not members:
                    del ROOMS[self.room]


def _ping_all() -> None:
    for handler in list(SOCKETS):
        try:
            handler.write_message("2")
        except tornado.websocket.WebSocketClosedError:
            pass


async def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    raise_fd_limit()
    app = tornado.web.Application(
        [(r"/socket.io/", EIOHandler)],
        websocket_max_message_size=MAX_PAYLOAD,
    )
    app.listen(args.port, address=args.host, xheaders=False)
    tornado.ioloop.PeriodicCallback(_ping_all, PING_INTERVAL * 1000).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
