"""The python-socketio ``AsyncClient`` behind the same test API as the Node sockets.

One :class:`PySocket` is one ``AsyncClient`` connected to one namespace::

    a = await PySocket.connect("http://127.0.0.1:N/admin", transports=["websocket"],
                               auth={"token": "admin"})
    assert await a.emit_ack("echo", b"\\x00") == [b"\\x00"]
    await a.close()

Its reports mirror the puppet's: ``connect`` (with ``sid``), ``connect_error``
(``message``, ``data``), ``disconnect`` (``reason``: python-socketio's wording,
e.g. ``"server disconnect"``, ``"client disconnect"``, ``"transport close"``),
``event`` (``event``, ``args``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import socketio

from .common import (
    DEFAULT_TIMEOUT,
    AckError,
    ClientSocketBase,
    PeerConnectError,
    PeerTimeout,
    ReportLog,
    fill_template,
)

_names = itertools.count(1)


def split_url(url: str) -> tuple[str, str]:
    """``http://h:p/admin?x=1`` -> (``http://h:p?x=1``, ``/admin``)."""
    parts = urlsplit(url)
    namespace = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, "")), namespace


class PySocket(ClientSocketBase):
    kind = "python"

    def __init__(
        self,
        url: str,
        *,
        reconnection: bool = True,
        reconnection_delay: float = 0.2,
        reconnection_delay_max: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.base_url, self.namespace = split_url(url)
        self.name = name or f"py{next(_names)}"
        self.log = ReportLog(f"python client {self.name!r} ({url})")
        self._answers: dict[str, tuple[str, list]] = {}
        # python-socketio's emit must not run concurrently on one client (a binary
        # packet is several Engine.IO packets that could interleave): serialize.
        self._emit_lock = asyncio.Lock()
        self.sio = socketio.AsyncClient(
            reconnection=reconnection,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
            randomization_factor=0,
            handle_sigint=False,
        )
        ns = self.namespace
        self.sio.on("connect", self._on_connect, namespace=ns)
        self.sio.on("connect_error", self._on_connect_error, namespace=ns)
        self.sio.on("disconnect", self._on_disconnect, namespace=ns)
        self.sio.on("*", self._on_any, namespace=ns)
        self.closed = False

    def __repr__(self) -> str:
        return f"<PySocket {self.name} {self.url}>"

    # -- handlers -----------------------------------------------------------------
    async def _on_connect(self) -> None:
        self.log.add(
            {
                "type": "connect",
                "sid": self.sio.get_sid(self.namespace),
                "transport": self.sio.transport(),
            }
        )

    async def _on_connect_error(self, data: Any = None) -> None:
        if isinstance(data, dict):
            report = {
                "type": "connect_error",
                "message": data.get("message"),
                "data": data.get("data"),
            }
        else:  # an Engine.IO level failure: a string
            report = {"type": "connect_error", "message": data, "data": None}
        self.log.add(report)

    async def _on_disconnect(self, reason: Any = None) -> None:
        self.log.add({"type": "disconnect", "reason": reason})

    async def _on_any(self, event: str, *args: Any) -> Any:
        self.log.add({"type": "event", "event": event, "args": list(args)})
        mode, template = self._answers.get(event) or self._answers.get("*") or ("template", [])
        if mode == "ignore":
            # python-socketio acks whatever the handler returns; it cannot stay silent.
            return None
        filled = fill_template(template, list(args))
        return tuple(filled) if len(filled) != 1 else filled[0]

    # -- API ----------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        transports: list[str] | None = None,
        auth: Any = None,
        headers: dict | None = None,
        path: str = "socket.io",
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        reconnection: bool = True,
        reconnection_delay: float = 0.2,
        reconnection_delay_max: float = 1.0,
        name: str | None = None,
    ) -> PySocket:
        """Connect; raise :class:`PeerConnectError` when the namespace is refused."""
        self = cls(
            url,
            reconnection=reconnection,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
            name=name,
        )
        try:
            await asyncio.wait_for(
                self.sio.connect(
                    self.base_url,
                    headers=headers or {},
                    auth=auth,
                    transports=transports,
                    namespaces=[self.namespace],
                    socketio_path=path,
                    wait=wait,
                    wait_timeout=timeout,
                ),
                timeout + 2,
            )
        except socketio.exceptions.ConnectionError as exc:
            errors = self.reports("connect_error")
            await self.close()
            if errors:
                raise PeerConnectError(errors[-1]["message"], errors[-1]["data"]) from exc
            raise PeerConnectError(str(exc)) from exc
        except asyncio.TimeoutError:
            await self.close()
            raise PeerTimeout(
                f"{self.name}: connect did not finish\n" + self.log.describe()
            ) from None
        if wait:
            # consume the connect report, like NodePuppet.connect does
            await self.wait_connect(timeout=timeout)
        return self

    @property
    def sid(self) -> str | None:
        connects = self.reports("connect")
        return connects[-1].get("sid") if connects else None

    @property
    def reconnecting(self) -> bool:
        """Whether python-socketio has a reconnection task going."""
        return bool(self.sio._reconnect_task)  # no public API for this

    async def _emit(self, event: str, args: list) -> None:
        async with self._emit_lock:
            await self.sio.emit(event, tuple(args), namespace=self.namespace)

    async def _emit_ack(self, event: str, args: list, timeout: float) -> list:
        fut = asyncio.get_running_loop().create_future()

        def callback(*res: Any) -> None:
            if not fut.done():
                fut.set_result(list(res))

        async with self._emit_lock:
            await self.sio.emit(event, tuple(args), namespace=self.namespace, callback=callback)
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise AckError(
                f"{self.name}: no ack for {event!r} within {timeout}s\n" + self.log.describe()
            ) from None

    async def _answer(self, event: str, template: list, mode: str) -> None:
        self._answers[event] = (mode, template)

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def transport(self) -> str | None:
        try:
            return self.sio.transport()
        except Exception:
            return None

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(self.sio.shutdown(), 5)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(self.sio.eio.disconnect(), 5)
