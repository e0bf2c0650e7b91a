"""A real hub on a loopback port, plus raw HTTP / WebSocket helpers for transport tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.websocket import WebSocketClientConnection, websocket_connect

from jupyter_sio import Hub, HubServer, Socket


@dataclass
class Running:
    hub: Hub
    server: HubServer
    events: list[tuple[str, Any]]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/socket.io/"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/socket.io/"

    async def http(
        self,
        query: str,
        method: str = "GET",
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        return await AsyncHTTPClient().fetch(
            self.base + "?" + query,
            method=method,
            body=body,
            headers=headers,
            raise_error=False,
            request_timeout=10,
        )

    async def handshake(self) -> str:
        """Open a polling session; returns its sid."""
        response = await self.http("EIO=4&transport=polling")
        assert response.code == 200, response.body
        text = response.body.decode()
        assert text.startswith("0")
        return str(json.loads(text[1:])["sid"])

    async def poll(self, sid: str) -> str:
        response = await self.http(f"EIO=4&transport=polling&sid={sid}")
        assert response.code == 200, response.body
        return response.body.decode()

    async def post(self, sid: str, body: str | bytes) -> HTTPResponse:
        return await self.http(f"EIO=4&transport=polling&sid={sid}", "POST", body)

    async def websocket(
        self, query: str = "EIO=4&transport=websocket"
    ) -> WebSocketClientConnection:
        return await websocket_connect(self.ws_base + "?" + query)


def make_hub(**settings: Any) -> tuple[Hub, list[tuple[str, Any]]]:
    events: list[tuple[str, Any]] = []
    hub = Hub(**settings)

    @hub.on("echo")
    def echo(socket: Socket, *args: Any) -> tuple[Any, ...]:
        return args

    @hub.on("disconnect")
    def disconnect(socket: Socket, reason: str) -> None:
        events.append(("disconnect", reason))

    return hub, events


@pytest.fixture(params=["native", "tornado"])
def frontend(request: pytest.FixtureRequest) -> str:
    """HubServer's HTTP front end: every HTTP behaviour must be the same on both."""
    return str(request.param)


@pytest.fixture
async def running(request: pytest.FixtureRequest, frontend: str) -> AsyncIterator[Running]:
    settings = {"ping_interval": 0.3, "ping_timeout": 0.3, "max_payload": 10_000}
    marker = request.node.get_closest_marker("hub_settings")
    if marker is not None:
        settings.update(marker.kwargs)
    hub, events = make_hub(**settings)
    server = HubServer(hub, http=frontend)  # type: ignore[arg-type]
    await server.start("127.0.0.1", 0)
    yield Running(hub, server, events)
    await server.stop()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hub_settings(**kw): HubConfig overrides for `running`")
