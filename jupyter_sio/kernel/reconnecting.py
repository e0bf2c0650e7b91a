"""What the kernel's two WebSocket clients share: connect, keep the connection up, reconnect.

:class:`~.link_client.LinkClient` (the kernel link) and :class:`~.sio_client.SocketIOClient`
(a widget's comm relay) differ in what they say once connected and how they read; the life
around that is the same and lives here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from urllib.parse import urlencode, urlsplit, urlunsplit

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from ..exceptions import ConnectionRefused, Disconnected, Forbidden, RemoteProtocolError

log = logging.getLogger("jupyter_sio.kernel")

#: failures after which a reconnect is tried again later
RECONNECT_ERRORS = (
    OSError,
    HTTPClientError,
    Disconnected,
    RemoteProtocolError,
    ConnectionRefused,
    asyncio.TimeoutError,
    WebSocketClosedError,
)


def websocket_url(url: str, query: dict[str, str] | None = None) -> str:
    """``http://host/base/x/`` → ``ws://host/base/x/?<query>``."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query or {}), ""))


async def open_websocket(url: str, headers: dict[str, str], timeout: float
                         ) -> WebSocketClientConnection:
    """A WebSocket with Nagle's algorithm off; a 403 becomes :class:`Forbidden`."""
    request = HTTPRequest(url, headers=headers, connect_timeout=timeout, request_timeout=timeout)
    try:
        ws = await websocket_connect(request, max_message_size=64 * 1024 * 1024)
    except HTTPClientError as exc:
        if exc.code == 403:
            raise Forbidden(f"the hub at {url.split('?')[0]} refused this connection (403)"
                            ) from None
        raise
    # Small frames go out at once: with Nagle's algorithm a join written right after another
    # frame could wait for a delayed ACK (~40 ms) and lose a race with other peers' emits.
    ws.protocol.set_nodelay(True)  # type: ignore[union-attr]
    return ws


class ReconnectingClient:
    """Runs ``_open`` then ``_read_loop`` again and again, with backoff, until closed.

    Subclasses implement :meth:`_open` (connect and handshake, or raise), :meth:`_read_loop`
    (read until the connection drops; returns the reason) and :meth:`_lost`.
    """

    #: reasons after which the client does not reconnect (the server said so)
    final_reasons: frozenset[str] = frozenset()

    def __init__(self, url: str, *, reconnect: bool, backoff: tuple[float, float]) -> None:
        self.url = url
        self.reconnect = reconnect
        self.backoff = backoff
        self.closed = False
        self.reconnects = 0
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect once (raising on failure), then keep the connection up in the background."""
        await self._open()
        self._runner = asyncio.ensure_future(self._run())

    async def _stop_runner(self) -> None:
        self.closed = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner

    async def _run(self) -> None:
        while not self.closed:
            reason = await self._read_loop()
            self._lost(reason)
            if self.closed or not self.reconnect or reason in self.final_reasons:
                return
            delay = self.backoff[0]
            while not self.closed:
                await asyncio.sleep(delay * (0.5 + random.random()))
                try:
                    await self._open()
                except RECONNECT_ERRORS as exc:
                    log.debug("reconnect to %s failed: %r", self.url, exc)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                self.reconnects += 1
                log.info("reconnected to %s", self.url)
                self._reconnected()
                break

    async def _open(self) -> None:
        raise NotImplementedError

    async def _read_loop(self) -> str:
        raise NotImplementedError

    def _lost(self, reason: str) -> None:
        raise NotImplementedError

    def _reconnected(self) -> None:
        """After a successful reconnect (the first connect is :meth:`start`)."""
