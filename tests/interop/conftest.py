"""Fixtures of the interop suite.

- ``server_kind`` / ``server``: one server process per kind for the whole session
  (``reference`` = official Node socket.io, ``jupyter_sio`` = the system under test).
  Restrict the kinds with ``INTEROP_SERVERS=reference`` (comma separated).
- ``transport``: ``websocket``, ``polling``, ``polling+upgrade``.
- ``client_kind``: ``node`` (socket.io-client 4.8 via tests/js/puppet.mjs) or ``python``
  (python-socketio AsyncClient).
- ``peers``: per-test factory of client sockets, all closed after the test.
- ``own_server``: a server of ``server_kind`` for one test only (restarts allowed).

``async def`` tests run with pytest-asyncio on one event loop kept for the whole
session (each test module sets ``pytestmark = pytest.mark.asyncio(loop_scope="session")``),
so that one Node puppet serves every test. Every wait of the peers is bounded.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.peers.common import DEFAULT_TIMEOUT, ClientSocketBase  # noqa: E402
from tests.peers.node_puppet import NodePuppet, NodeSocket  # noqa: E402
from tests.peers.py_client import PySocket  # noqa: E402
from tests.peers.servers import KINDS, ServerProcess  # noqa: E402

TRANSPORTS = ("websocket", "polling", "polling+upgrade")
CLIENT_KINDS = ("node", "python")


def _server_kinds() -> list[str]:
    raw = os.environ.get("INTEROP_SERVERS", "").strip()
    if not raw:
        return list(KINDS)
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise pytest.UsageError(f"INTEROP_SERVERS: unknown kinds {sorted(unknown)}; known: {KINDS}")
    return kinds


# ---- the Node puppet, one for the session ---------------------------------------------
class PuppetHolder:
    """The session's Node puppet, started on first use and again if it died."""

    def __init__(self) -> None:
        self._puppet: NodePuppet | None = None

    async def get(self) -> NodePuppet:
        if self._puppet is None or not self._puppet.alive:
            if self._puppet is not None:
                await self._puppet.aclose()
            self._puppet = await NodePuppet().start()
        return self._puppet

    async def aclose(self) -> None:
        if self._puppet is not None:
            await self._puppet.aclose()
            self._puppet = None


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def node_puppets():
    holder = PuppetHolder()
    try:
        yield holder
    finally:
        await holder.aclose()


# ---- servers ---------------------------------------------------------------------
@pytest.fixture(scope="session", params=_server_kinds())
def server_kind(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def server(server_kind):
    srv = ServerProcess(server_kind)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


@pytest.fixture
def own_server(server_kind):
    """A server for this test only: the test may stop and restart it."""
    srv = ServerProcess(server_kind)
    try:
        srv.start()
        yield srv
    finally:
        srv.cleanup()


# ---- clients ---------------------------------------------------------------------
@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


@pytest.fixture(params=CLIENT_KINDS)
def client_kind(request) -> str:
    return request.param


def node_transport_opts(transport: str) -> dict:
    if transport == "websocket":
        return {"transports": ["websocket"]}
    if transport == "polling":
        return {"transports": ["polling"]}
    if transport == "polling+upgrade":
        return {"transports": ["polling", "websocket"], "upgrade": True}
    raise ValueError(transport)


def py_transport_opts(transport: str) -> dict:
    if transport == "websocket":
        return {"transports": ["websocket"]}
    if transport == "polling":
        return {"transports": ["polling"]}
    if transport == "polling+upgrade":
        return {"transports": ["polling", "websocket"]}
    raise ValueError(transport)


class Peers:
    """Creates client sockets for one test and closes them all afterwards.

    ``await peers.node("/admin", auth=...)``, ``await peers.py("/")`` or
    ``await peers.client(kind, ...)``: connected sockets (``wait=True``) to
    ``self.server`` with the test's transport setting. A refused namespace raises
    :class:`tests.peers.common.PeerConnectError`. Reconnection is off unless
    ``reconnection=True`` is passed.
    """

    def __init__(self, puppets: PuppetHolder, server: ServerProcess, transport: str) -> None:
        self.puppets = puppets
        self.server = server
        self.transport = transport
        self.sockets: list[ClientSocketBase] = []

    def url(self, namespace: str = "/") -> str:
        return self.server.ns_url(namespace)

    async def node(
        self,
        namespace: str = "/",
        *,
        transport: str | None = None,
        reconnection: bool = False,
        share: NodeSocket | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        **opts: Any,
    ) -> NodeSocket:
        puppet = await self.puppets.get()
        full = {**node_transport_opts(transport or self.transport), "reconnection": reconnection}
        if reconnection:
            full.update(reconnectionDelay=100, reconnectionDelayMax=500, randomizationFactor=0)
        full.update(opts)
        if share is not None:
            # a Manager's options are fixed: only the socket options apply
            full = {k: v for k, v in opts.items() if k in ("auth",)}
        sock = None
        try:
            sock = await puppet.connect(
                self.url(namespace), share=share, wait=wait, timeout=timeout, **full
            )
        finally:
            if sock is not None:
                self.sockets.append(sock)
        return sock

    async def py(
        self,
        namespace: str = "/",
        *,
        transport: str | None = None,
        reconnection: bool = False,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        **opts: Any,
    ) -> PySocket:
        full = {**py_transport_opts(transport or self.transport), **opts}
        sock = await PySocket.connect(
            self.url(namespace), reconnection=reconnection, wait=wait, timeout=timeout, **full
        )
        self.sockets.append(sock)
        return sock

    async def client(self, kind: str, namespace: str = "/", **opts: Any) -> ClientSocketBase:
        if kind == "node":
            return await self.node(namespace, **opts)
        if kind == "python":
            return await self.py(namespace, **opts)
        raise ValueError(kind)

    async def aclose(self) -> None:
        for sock in reversed(self.sockets):
            with contextlib.suppress(Exception):  # best effort
                await sock.close()
        self.sockets.clear()


@pytest_asyncio.fixture(loop_scope="session")
async def peers(request, node_puppets, server_kind, transport):
    # server_kind is requested statically so that the servers are parametrized;
    # the server itself is chosen here: the session one, or the test's own_server.
    if "own_server" in request.fixturenames:
        srv = request.getfixturevalue("own_server")
    else:
        srv = request.getfixturevalue("server")
    p = Peers(node_puppets, srv, transport)
    try:
        yield p
    finally:
        await p.aclose()


@pytest.fixture
def uniq(request) -> str:
    """A name unique to this test (for rooms on the shared servers)."""
    import hashlib

    return "r" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]
