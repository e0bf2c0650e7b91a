"""An in-process Jupyter server (pytest-jupyter) with the jupyter_sio extension enabled.

- pytest-jupyter's fixtures and hooks are star-imported, which scopes them to this folder:
  ``pytest_plugins`` is refused in a non-root conftest, and registering pytest-jupyter for the
  whole suite would hand every async test of other folders to its loop.
- ``jp_asyncio_loop`` is overridden to be pytest-asyncio's loop of the test: with
  ``asyncio_mode = "auto"`` pytest-asyncio runs the ``async def`` tests, and the server must
  live on that same loop.
- Tests tune the server through the fixtures ``sio_config`` (``JupyterSioApp`` options),
  ``authorizer_class`` and ``extra_extensions``; override them with ``parametrize``.
- :class:`Server` makes raw HTTP / WebSocket requests to ``127.0.0.1`` (the login cookie's name
  depends on the Host, so every request uses the same one); :class:`RawSio` speaks just enough
  Engine.IO / Socket.IO over a WebSocket. Every wait is bounded by ``TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

import pytest
import pytest_asyncio
from jupyter_server.auth import Authorizer, IdentityProvider
from jupyter_server.serverapp import ServerApp
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect
from traitlets.config import Config

from jupyter_sio.hub import Hub
from jupyter_sio.jupyter.app import JupyterSioApp

TIMEOUT = 10.0
EVIL = "http://evil.example"


@pytest_asyncio.fixture
async def _test_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.fixture
def jp_asyncio_loop(_test_loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    """The server runs on the loop pytest-asyncio runs the test on."""
    return _test_loop


# -- server configuration ------------------------------------------------------------------
@pytest.fixture
def sio_config() -> dict[str, Any]:
    """Extra ``JupyterSioApp`` options."""
    return {}


@pytest.fixture
def authorizer_class() -> type[Authorizer] | None:
    return None


@pytest.fixture
def extra_extensions() -> dict[str, bool]:
    return {}


@pytest.fixture
def identity_provider_class() -> type[IdentityProvider] | None:
    return None


@pytest.fixture
def jp_server_config(
    sio_config: dict[str, Any],
    authorizer_class: type[Authorizer] | None,
    extra_extensions: dict[str, bool],
    identity_provider_class: type[IdentityProvider] | None,
) -> Config:
    server: dict[str, Any] = {"jpserver_extensions": {"jupyter_sio": True, **extra_extensions}}
    if authorizer_class is not None:
        server["authorizer_class"] = authorizer_class
    if identity_provider_class is not None:
        server["identity_provider_class"] = identity_provider_class
    return Config(
        {
            "ServerApp": server,
            "JupyterSioApp": {"ping_interval": 1.0, "ping_timeout": 2.0, **sio_config},
        }
    )


class DenyOnSio(Authorizer):
    """Grants everything except the listed actions on resource ``jupyter_sio``."""

    denied: tuple[str, ...] = ()

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == "jupyter_sio" and action in self.denied)


class DenyExecute(DenyOnSio):
    denied = ("execute",)


class DenyWrite(DenyOnSio):
    denied = ("write",)


class DenyRead(DenyOnSio):
    denied = ("read",)


# -- clients -------------------------------------------------------------------------------
@dataclass
class Server:
    serverapp: ServerApp
    app: JupyterSioApp
    port: int
    base_url: str

    @property
    def hub(self) -> Hub:
        return self.app.hub

    @property
    def token(self) -> str:
        return str(self.serverapp.identity_provider.token)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{self.base_url}{path}"

    def sio_url(self, query: str = "", *, transport: str = "polling", scheme: str = "http",
                endpoint: str = "socket.io") -> str:
        extra = f"&{query}" if query else ""
        return self.url(f"jupyter-sio/{endpoint}/?EIO=4&transport={transport}{extra}", scheme)

    async def fetch(
        self,
        url: str,
        method: str = "GET",
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        request = HTTPRequest(
            url,
            method=method,
            body=body,
            headers=headers or {},
            follow_redirects=False,
            request_timeout=TIMEOUT,
        )
        return await AsyncHTTPClient().fetch(request, raise_error=False)

    async def ws(
        self, url: str, headers: dict[str, str] | None = None
    ) -> WebSocketClientConnection:
        request = HTTPRequest(url, headers=headers or {}, request_timeout=TIMEOUT)
        return await asyncio.wait_for(websocket_connect(request), TIMEOUT)

    async def ws_status(self, url: str, headers: dict[str, str] | None = None) -> int:
        """101 if the WebSocket opened (then closed again), else the HTTP status."""
        try:
            conn = await self.ws(url, headers)
        except HTTPClientError as exc:
            return exc.code
        conn.close()
        return 101

    async def handshake(
        self, query: str = "", headers: dict[str, str] | None = None
    ) -> tuple[str, HTTPResponse]:
        """A polling handshake that must succeed; returns the sid and the response."""
        response = await self.fetch(self.sio_url(query), headers=headers)
        assert response.code == 200, response.body
        body = response.body.decode()
        assert body.startswith("0{"), body
        return json.loads(body[1:])["sid"], response

    async def login(self) -> str:
        """The login cookie Jupyter sets on a token-authenticated request (``name=value``)."""
        _sid, response = await self.handshake(f"token={self.token}")
        cookies = cookies_of(response)
        names = [n for n in cookies if n.startswith("username-")]
        assert names, response.headers
        return f"{names[0]}={cookies[names[0]]}"

    async def xsrf(self) -> str:
        """The ``_xsrf`` cookie value, as a Jupyter page (the login page) sets it."""
        response = await self.fetch(self.url("login"))
        assert response.code == 200, response.code
        return cookies_of(response)["_xsrf"]


def cookies_of(response: HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def engine_error(response: HTTPResponse) -> dict[str, Any]:
    """The Engine.IO JSON error of a refused request (never an HTML page)."""
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    error: dict[str, Any] = json.loads(response.body)
    return error


class RawSio:
    """Engine.IO v4 / Socket.IO v5 by hand over a WebSocket: open, connect, call, receive."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.acks = 0

    async def recv(self) -> str:
        while True:
            message = await asyncio.wait_for(self.conn.read_message(), TIMEOUT)
            if message is None:
                raise ConnectionError("WebSocket closed")
            assert isinstance(message, str)
            if message == "2":  # Engine.IO ping
                await self.conn.write_message("3")
                continue
            return message

    async def start(self) -> str:
        """Read the open packet, join namespace ``/``; returns the Socket.IO socket id."""
        opened = await self.recv()
        assert opened.startswith("0{"), opened
        await self.conn.write_message("40")
        connected = await self.recv()
        assert connected.startswith("40{"), connected
        sid: str = json.loads(connected[2:])["sid"]
        return sid

    async def call(self, event: str, *args: Any) -> Any:
        self.acks += 1
        ack = str(self.acks)
        await self.conn.write_message("42" + ack + json.dumps([event, *args]))
        while True:
            message = await self.recv()
            if message.startswith("43" + ack + "["):
                return json.loads(message[2 + len(ack) :])[0]

    async def event(self) -> list[Any]:
        while True:
            message = await self.recv()
            if message.startswith("42["):
                result: list[Any] = json.loads(message[2:])
                return result

    def close(self) -> None:
        self.conn.close()


@pytest_asyncio.fixture
async def server(
    jp_serverapp: ServerApp, http_server_client: Any, jp_base_url: str
) -> AsyncIterator[Server]:
    """The running server with the extension loaded and started (start hook run)."""
    point = jp_serverapp.extension_manager.extension_points["jupyter_sio"]
    app = point.app
    assert isinstance(app, JupyterSioApp)
    # pytest-jupyter never runs ServerApp._post_start; do what it does.
    await jp_serverapp.extension_manager.start_all_extensions()
    yield Server(jp_serverapp, app, http_server_client.get_http_port(), jp_base_url)


class RawLink:
    """The kernel link by hand: link frames (``kind TAB header [TAB payload]``) over a
    WebSocket, as a peer that did not use jupyter_sio's kernel client would speak them."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.ids = 0

    async def frame(self, kinds: tuple[str, ...] = ()) -> tuple[str, dict[str, Any], str | None]:
        """The next frame (of one of ``kinds``, skipping pings), as (kind, header, payload)."""
        while True:
            message = await asyncio.wait_for(self.conn.read_message(), TIMEOUT)
            if message is None:
                raise ConnectionError("link closed")
            assert isinstance(message, str)
            for line in message.split("\n"):
                kind, _, rest = line.partition("\t")
                header, _, payload = rest.partition("\t")
                if kind == "ping" or (kinds and kind not in kinds):
                    continue
                return kind, json.loads(header), payload or None

    def send(self, kind: str, header: dict[str, Any], payload: str | None = None) -> None:
        line = f"{kind}\t{json.dumps(header)}" + (f"\t{payload}" if payload is not None else "")
        self.conn.write_message(line)

    async def hello(self, **fields: Any) -> dict[str, Any]:
        self.send("hello", {"v": 1, **fields})
        _, header, _ = await self.frame(("welcome",))
        return header

    async def request(self, kind: str, header: dict[str, Any]) -> dict[str, Any]:
        self.ids += 1
        self.send(kind, {**header, "id": self.ids})
        while True:
            _, answer, _ = await self.frame(("result",))
            if answer.get("id") == self.ids:
                return answer

    def close(self) -> None:
        self.conn.close()
