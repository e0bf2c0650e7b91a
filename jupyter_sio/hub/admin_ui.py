"""The server side of the official Socket.IO Admin UI (``@socket.io/admin-ui``).

``hub.instrument(auth=...)`` opens the ``/admin`` namespace the Admin UI connects to and
reports to it what Node's ``instrument()`` reports: a ``config`` with the supported
features, ``all_sockets`` on connect, ``server_stats`` every ``stats_interval`` seconds
(clients, polling clients, sockets per namespace, aggregated connection, packet and byte
counts), and, in ``"development"`` mode, every socket connect/disconnect, room join/leave
and event received or sent. Unless ``read_only``, the UI may emit, make sockets join or
leave rooms and disconnect them (``emit``, ``join``, ``leave``, ``_disconnect``).

The hub calls the ``on_*`` methods only while an Admin UI is instrumented (``hub.monitor``
is None otherwise, one attribute check on the paths it watches), and the per-event work
only while an admin socket is connected. Nothing secret is shown: cookies,
``Authorization`` and kernel headers, and ``token`` query values are left out of the
handshakes the UI lists. Inside Jupyter the namespace admits only identities with kernel
powers (``c.JupyterSioApp.admin_ui = True``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket as socket_module
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..exceptions import ConnectionRefused
from ..protocol.sio_codec import SocketPacketType, dumps
from .adapter import BroadcastOptions
from .browser_events import names
from .namespace_socket import decode_outgoing

if TYPE_CHECKING:
    from ..protocol.frames import Outgoing
    from .hub import Hub
    from .namespace import Namespace
    from .namespace_socket import Socket
    from .sio_connection import Client, Identity

#: ``auth`` the Admin UI must send: a dict to compare, a list of such dicts, a callable
#: ``auth(payload) -> bool`` (may be async), or False for none (trusted networks only)
AdminAuth = dict[str, Any] | list[dict[str, Any]] | Callable[[Any], Any] | bool

#: handshake headers the UI never sees (credentials)
SECRET_HEADERS = frozenset({"cookie", "authorization", "x-xsrftoken", "x-jupyter-sio-token"})
#: query parameters the UI never sees
SECRET_QUERY = frozenset({"token", "_xsrf"})
FEATURES_READ = ("AGGREGATED_EVENTS",)
FEATURES_WRITE = ("EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


class EventCounts:
    """Counts per second and type, as the UI's charts want them (``aggregatedEvents``)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[int, str], int] = {}

    def add(self, kind: str, count: int = 1) -> None:
        key = (int(time.time()) * 1000, kind)
        self.counts[key] = self.counts.get(key, 0) + count

    def take(self) -> list[dict[str, Any]]:
        counts, self.counts = self.counts, {}
        return [{"timestamp": t, "type": kind, "count": n} for (t, kind), n in counts.items()]


class AdminUI:
    """One hub's Admin UI endpoint (see the module doc); made by :meth:`Hub.instrument`."""

    def __init__(
        self,
        hub: Hub,
        *,
        auth: AdminAuth,
        namespace: str = "/admin",
        read_only: bool = False,
        mode: str = "development",
        server_id: str | None = None,
        stats_interval: float = 2.0,
        admit: Callable[[Identity], bool] | None = None,
    ) -> None:
        if auth is None or auth is True:
            raise ValueError("auth must be given: credentials the UI sends, or False for none")
        if mode not in ("development", "production"):
            raise ValueError(f"mode is 'development' or 'production', got {mode!r}")
        self.hub = hub
        self.auth = auth
        self.read_only = read_only
        self.verbose = mode == "development"
        self.server_id = server_id or socket_module.gethostname()
        self.stats_interval = stats_interval
        self.admit = admit
        self.counts = EventCounts()
        self.started = time.time()
        self.connected_at: dict[str, float] = {}
        self.namespace: Namespace = hub.of(namespace)
        self._stats_task: asyncio.Task[None] | None = None
        ns = self.namespace
        ns.use(self._check_auth)
        ns.on("connect", self._admin_connected)
        ns.on("disconnect", self._admin_left)
        if not read_only:
            ns.on("emit", self._emit)
            ns.on("join", self._join)
            ns.on("leave", self._leave)
            ns.on("_disconnect", self._disconnect)

    # -- the admin namespace ---------------------------------------------------------------
    async def _check_auth(self, socket: Socket, auth: dict[str, Any]) -> None:
        if self.admit is not None and not self.admit(socket.client.handshake.user):
            raise ConnectionRefused("the Admin UI needs kernel powers (execute on jupyter_sio)")
        ok: Any = True
        if isinstance(self.auth, dict):
            ok = auth == self.auth
        elif isinstance(self.auth, list):
            ok = auth in self.auth
        elif callable(self.auth):
            ok = self.auth(auth)
            if asyncio.iscoroutine(ok):
                ok = await ok
        if not ok:
            raise ConnectionRefused("authentication failed")

    def _admin_connected(self, socket: Socket) -> None:
        features = list(FEATURES_READ)
        if not self.read_only:
            features += FEATURES_WRITE
        if self.verbose:
            features.append("ALL_EVENTS")
        socket.emit("config", {"supportedFeatures": features})
        if self.verbose:
            socket.emit("all_sockets", [self.describe(s) for s in self._watched_sockets()])
        if self._stats_task is None:
            self._stats_task = self.hub.spawn(self._report_stats())

    def _admin_left(self, _socket: Socket, _reason: str) -> None:
        if not self.namespace.sockets and self._stats_task is not None:
            self._stats_task.cancel()
            self._stats_task = None

    async def _report_stats(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                self.namespace.emit("server_stats", self.server_stats())
                await asyncio.sleep(self.stats_interval)

    def server_stats(self) -> dict[str, Any]:
        clients = list(self.hub.clients.values())
        return {
            "serverId": self.server_id,
            "hostname": socket_module.gethostname(),
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "clientsCount": len(clients),
            "pollingClientsCount": sum(c.channel.transport_name == "polling" for c in clients),
            "aggregatedEvents": self.counts.take(),
            "namespaces": [
                {"name": name, "socketsCount": len(ns.sockets)}
                for name, ns in sorted(self.hub.namespaces.items())
                if ns is not self.namespace
            ],
        }

    # -- what the UI may do ----------------------------------------------------------------
    def _targets(self, namespace: str, room_filter: Any) -> list[Socket]:
        ns = self.hub.namespaces.get(str(namespace))
        if ns is None or ns is self.namespace:
            return []
        rooms = names(room_filter)
        return ns.adapter.local_sockets(BroadcastOptions(frozenset(rooms)))

    def _emit(self, _admin: Socket, namespace: Any, room_filter: Any, event: Any,
              *args: Any) -> None:
        ns = self.hub.namespaces.get(str(namespace))
        if ns is not None and ns is not self.namespace:
            rooms = names(room_filter)
            (ns.to(rooms) if rooms else ns).emit(str(event), *args)

    def _join(self, _admin: Socket, namespace: Any, room: Any, room_filter: Any = None) -> None:
        for socket in self._targets(namespace, room_filter):
            socket.join(str(room))

    def _leave(self, _admin: Socket, namespace: Any, room: Any, room_filter: Any = None) -> None:
        for socket in self._targets(namespace, room_filter):
            socket.leave(str(room))

    def _disconnect(self, _admin: Socket, namespace: Any, close: Any = False,
                    room_filter: Any = None) -> None:
        for socket in self._targets(namespace, room_filter):
            socket.disconnect(close=bool(close))

    # -- reports (called by the hub) -------------------------------------------------------
    @property
    def watching(self) -> bool:
        return bool(self.namespace.sockets)

    def _watched_sockets(self) -> Iterable[Socket]:
        for ns in self.hub.namespaces.values():
            if ns is not self.namespace:
                yield from ns.sockets.values()

    def on_client(self, opened: bool) -> None:
        self.counts.add("rawConnection" if opened else "rawDisconnection")

    def on_packet_in(self, size: int) -> None:
        self.counts.add("packetsIn")
        self.counts.add("bytesIn", size)

    def on_socket_connected(self, socket: Socket) -> None:
        if socket.namespace is self.namespace:
            return
        now = time.time()
        self.connected_at[socket.id] = now
        self.counts.add("connection")
        if self.verbose and self.watching:
            self.namespace.emit("socket_connected", self.describe(socket), _iso(now))

    def on_socket_disconnected(self, socket: Socket, reason: str) -> None:
        if socket.namespace is self.namespace:
            return
        self.connected_at.pop(socket.id, None)
        self.counts.add("disconnection")
        if self.verbose and self.watching:
            self.namespace.emit("socket_disconnected", socket.namespace.name, socket.id, reason,
                                _iso(time.time()))

    def on_room(self, namespace: Namespace, sid: str, room: str, joined: bool) -> None:
        if namespace is self.namespace or not (self.verbose and self.watching):
            return
        self.namespace.emit("room_joined" if joined else "room_left", namespace.name, room, sid,
                            _iso(time.time()))

    def on_event_received(self, socket: Socket, data: list[Any]) -> None:
        if socket.namespace is self.namespace:
            return
        if self.verbose and self.watching:
            self.namespace.emit("event_received", socket.namespace.name, socket.id, data,
                                _iso(time.time()))

    def on_event_sent(self, namespace: Namespace, sids: Iterable[str], packet: Outgoing) -> None:
        if namespace is self.namespace:
            return
        sids = list(sids)
        self.counts.add("packetsOut", len(sids))
        self.counts.add("bytesOut", packet.size * len(sids))
        if not (self.verbose and self.watching) or not sids:
            return
        data = self._event_data(packet)
        if data is None:
            return
        now = _iso(time.time())
        for sid in sids:
            self.namespace.emit("event_sent", namespace.name, sid, data, now)

    def _event_data(self, packet: Outgoing) -> list[Any] | None:
        try:
            decoded = decode_outgoing(packet)
        except Exception:  # not a packet the UI can show: count it, show nothing
            return None
        if decoded.type is not SocketPacketType.EVENT:
            return None
        return list(decoded.data)

    # -- what the UI lists -----------------------------------------------------------------
    def describe(self, socket: Socket) -> dict[str, Any]:
        """A socket as the UI lists it, credentials left out."""
        client: Client = socket.client
        handshake = client.handshake
        issued = self.connected_at.get(socket.id, handshake.time or time.time())
        try:
            dumps(socket.data)
            data: Any = socket.data
        except TypeError:
            data = {}
        return {
            "id": socket.id,
            "clientId": client.channel.sid,
            "transport": client.channel.transport_name,
            "nsp": socket.namespace.name,
            "data": data,
            "handshake": {
                "address": handshake.address,
                "headers": {k.lower(): v for k, v in handshake.headers.items()
                            if k.lower() not in SECRET_HEADERS},
                "query": {k: v for k, v in handshake.query.items() if k not in SECRET_QUERY},
                "secure": handshake.secure,
                "url": _without_secrets(handshake.url),
                "issued": issued * 1000,
                "time": _iso(issued),
                "auth": {},
            },
            "rooms": sorted(socket.rooms),
        }


def _without_secrets(url: str) -> str:
    parts = urlsplit(url)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in SECRET_QUERY])
    return urlunsplit(parts._replace(query=query))
