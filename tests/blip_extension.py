"""A test-only Jupyter server extension: cut connections from the server side (issue 10).

Enabled in a test server's config (:func:`enable`), never installed. Routes, behind
Jupyter's authentication (the server token):

- ``POST <base_url>jsio-test/blip?room=R``: abort the TCP connection of every browser
  socket in room ``R`` of namespace ``/`` (the client then sees "transport close", as when
  a network drops); ``?kernel=K``: abort kernel ``K``'s kernel link the same way;
- ``GET <base_url>jsio-test/state?room=R``: the ids of the browser sockets in ``R``;
  ``?kernel=K``: whether kernel ``K``'s link is open or parked, and its backlog.

Aborting closes the socket under the WebSocket (no close frame), the way a dead network or
a killed proxy does, so both ends see a transport close rather than a clean disconnect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

MODULE = "tests.blip_extension"


def enable(config_dir: Path) -> None:
    """Load this extension in the server whose config directory is ``config_dir``."""
    path = config_dir / "jupyter_server_config.d" / "jsio-test-blip.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ServerApp": {"jpserver_extensions": {MODULE: True}}}))


def abort(peer: Any) -> None:
    """Close the TCP connection under a WebSocket peer: a Tornado handler's stream, or our
    own WebSocket stream's asyncio transport (whatever the transport layer uses now)."""
    holders = [peer]
    for name in ("handler", "ws", "stream"):
        inner = getattr(peer, name, None)
        if inner is not None:
            holders.append(inner)
    for holder in holders:
        transport = getattr(holder, "transport", None)
        if transport is not None and hasattr(transport, "abort"):
            transport.abort()
            return
        conn = getattr(holder, "ws_connection", None)
        stream = getattr(conn, "stream", None)
        if stream is not None and hasattr(stream, "close"):
            stream.close()
            return
    raise RuntimeError(f"no transport to abort in {peer!r}")


class _Base(JupyterHandler):
    @property
    def hub(self) -> Any:
        return self.settings["jupyter_sio_hub"]

    def browser_sockets(self, room: str) -> list[Any]:
        namespace = self.hub.default
        sids = namespace.adapter.rooms.get(room, set())
        return [
            namespace.sockets[sid]
            for sid in sorted(sids)
            if sid in namespace.sockets
            and not sid.startswith("link-")
            and getattr(namespace.sockets[sid].client.channel, "ws", None) is not None
        ]

    def kernel_peer(self, kernel_id: str) -> Any:
        return self.hub.kernel_router.kernels.get(kernel_id)


class BlipHandler(_Base):
    @web.authenticated
    def post(self) -> None:
        aborted: list[str] = []
        room = self.get_argument("room", "")
        kernel = self.get_argument("kernel", "")
        if room:
            for socket in self.browser_sockets(room):
                abort(socket.client.channel.ws)
                aborted.append(socket.id)
        if kernel:
            peer = self.kernel_peer(kernel)
            if peer is not None and peer.parked is None:
                abort(peer.writer)
                aborted.append(peer.sid)
        self.finish({"aborted": aborted})

    def check_xsrf_cookie(self) -> None:  # token-authenticated test calls only
        return


class StateHandler(_Base):
    @web.authenticated
    def get(self) -> None:
        room = self.get_argument("room", "")
        kernel = self.get_argument("kernel", "")
        state: dict[str, Any] = {}
        if room:
            state["sids"] = [s.id for s in self.browser_sockets(room)]
        if kernel:
            peer = self.kernel_peer(kernel)
            state["link"] = None if peer is None else peer.sid
            state["parked"] = peer is not None and peer.parked is not None
            state["backlog"] = 0 if peer is None or peer.parked is None else peer.parked.count
        self.finish(state)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": MODULE}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "jsio-test", "blip"), BlipHandler),
            (url_path_join(base, "jsio-test", "state"), StateHandler),
        ],
    )
