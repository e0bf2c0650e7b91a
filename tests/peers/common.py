"""Shared pieces of the interop peers (Node puppet sockets and python-socketio clients).

Both kinds of client socket keep every report they get (connect, connect_error,
disconnect, event, ...) in a :class:`ReportLog`; the tests wait on it with bounded
waits that fail with the recent history instead of hanging.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import json
from collections.abc import Callable, Iterable
from typing import Any

DEFAULT_TIMEOUT = 10.0


class PeerTimeout(AssertionError):
    """A bounded wait on a peer expired; the message shows what the peer saw."""


class PeerError(RuntimeError):
    """A peer (the Node puppet, a python client) failed or answered with an error."""


class PeerConnectError(Exception):
    """The server refused a namespace connection (a CONNECT_ERROR packet).

    ``message`` and ``data`` are the fields of the CONNECT_ERROR payload.
    """

    def __init__(self, message: Any, data: Any = None) -> None:
        super().__init__(f"connect_error: message={message!r} data={data!r}")
        self.message = message
        self.data = data


class AckError(AssertionError):
    """An ack did not come (client-side ack timeout) or could not be delivered."""


# ---- binary <-> JSON (the puppet's wire format) ------------------------------------
def to_wire(value: Any) -> Any:
    """Python value -> puppet JSON: bytes-likes become ``{"$bytes": base64}``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def from_wire(value: Any) -> Any:
    """Puppet JSON -> Python value: ``{"$bytes": base64}`` become ``bytes``."""
    if isinstance(value, dict):
        if len(value) == 1 and "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


# ---- ack answer templates --------------------------------------------------------
def ARG(i: int) -> dict:
    """In an answer template: the i-th argument the server sent with the event."""
    return {"$arg": i}


ALL_ARGS = {"$args": True}
"""In an answer template: the list of all the arguments the server sent."""


def fill_template(template: Any, received: list) -> Any:
    """Python twin of the puppet's template filling (see tests/js/puppet.mjs)."""
    if isinstance(template, dict):
        if len(template) == 1 and "$arg" in template:
            i = template["$arg"]
            return received[i] if i < len(received) else None
        if len(template) == 1 and "$args" in template:
            return list(received)
        return {k: fill_template(v, received) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return [fill_template(v, received) for v in template]
    return template


def short(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(to_wire(value), default=repr)
    except Exception:  # pragma: no cover - defensive
        text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


# ---- the report log --------------------------------------------------------------
class ReportLog:
    """Every report of one client socket, in arrival order, with consuming waits.

    A report is a dict with at least ``"type"`` (``connect``, ``connect_error``,
    ``disconnect``, ``event``, ``upgrade``, ...). ``wait`` returns the first report
    not yet consumed that matches, and marks it consumed, so that successive waits
    see successive reports.
    """

    def __init__(self, name: str, context: Callable[[], str] | None = None) -> None:
        self.name = name
        self.reports: list[dict] = []
        self._consumed: set[int] = set()
        self._waiters: set[asyncio.Future] = set()
        self._context = context

    def add(self, report: dict) -> None:
        self.reports.append(report)
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _find(self, match: Callable[[dict], bool]) -> int | None:
        for i, r in enumerate(self.reports):
            if i not in self._consumed and match(r):
                return i
        return None

    async def wait(
        self,
        match: Callable[[dict], bool],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        what: str = "a report",
        consume: bool = True,
        fail_on: Callable[[dict], bool] | None = None,
    ) -> dict:
        """Wait for a matching report; ``fail_on`` reports (unconsumed) abort the wait."""

        def pick() -> dict | None:
            i = self._find(match)
            if i is not None:
                if consume:
                    self._consumed.add(i)
                return self.reports[i]
            if fail_on is not None:
                j = self._find(fail_on)
                if j is not None:
                    raise PeerError(
                        f"{self.name}: while waiting for {what}, got {short(self.reports[j])}\n"
                        + self.describe()
                    )
            return None

        async def waiter() -> dict:
            while True:
                found = pick()
                if found is not None:
                    return found
                fut = asyncio.get_running_loop().create_future()
                self._waiters.add(fut)
                try:
                    await fut
                finally:
                    self._waiters.discard(fut)

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except asyncio.TimeoutError:
            raise PeerTimeout(
                f"{self.name}: no {what} within {timeout}s\n" + self.describe()
            ) from None

    def all(self, match: Callable[[dict], bool]) -> list[dict]:
        return [r for r in self.reports if match(r)]

    def describe(self, last: int = 25) -> str:
        lines = [f"--- last {min(last, len(self.reports))} reports of {self.name}:"]
        for i, r in list(enumerate(self.reports))[-last:]:
            mark = " " if i not in self._consumed else "x"
            lines.append(f"  [{mark}] {short(r)}")
        if self._context is not None:
            lines.append(self._context())
        return "\n".join(lines)


def is_event(name: str, predicate: Callable[[list], bool] | None = None):
    def match(r: dict) -> bool:
        return (
            r.get("type") == "event"
            and r.get("event") == name
            and (predicate is None or predicate(r["args"]))
        )

    return match


def is_type(*types: str) -> Callable[[dict], bool]:
    return lambda r: r.get("type") in types


class ClientSocketBase:
    """The API that the tests use, common to Node puppet sockets and python clients.

    Subclasses implement ``_emit``, ``_emit_ack``, ``_answer``, ``disconnect``,
    ``transport`` and ``close``.
    """

    kind = "?"
    log: ReportLog
    url: str

    # -- waits --------------------------------------------------------------------
    async def wait_connect(self, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The next ``connect`` report; a ``connect_error`` first raises PeerConnectError."""
        r = await self.log.wait(
            is_type("connect", "connect_error"), timeout=timeout, what="connect or connect_error"
        )
        if r["type"] == "connect_error":
            raise PeerConnectError(r.get("message"), r.get("data"))
        return r

    async def wait_reconnect(self, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The next ``connect`` report, skipping the ``connect_error`` reports of the
        failed attempts (server unreachable) on the way."""
        return await self.log.wait(is_type("connect"), timeout=timeout, what="a (re)connect")

    async def wait_connect_error(self, timeout: float = DEFAULT_TIMEOUT) -> dict:
        r = await self.log.wait(
            is_type("connect", "connect_error"), timeout=timeout, what="connect_error"
        )
        if r["type"] == "connect":
            raise AssertionError(f"{self.log.name}: connected instead of connect_error: {r}")
        return r

    async def wait_event(
        self,
        name: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        predicate: Callable[[list], bool] | None = None,
    ) -> list:
        """Arguments of the next (not yet consumed) event ``name``."""
        r = await self.log.wait(is_event(name, predicate), timeout=timeout, what=f"event {name!r}")
        return r["args"]

    async def wait_disconnect(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The reason of the next ``disconnect`` report."""
        r = await self.log.wait(is_type("disconnect"), timeout=timeout, what="disconnect")
        return r.get("reason")

    async def wait_report(
        self, type_: str, timeout: float = DEFAULT_TIMEOUT, **fields: Any
    ) -> dict:
        return await self.log.wait(
            lambda r: r.get("type") == type_ and all(r.get(k) == v for k, v in fields.items()),
            timeout=timeout,
            what=f"{type_} report {fields or ''}",
        )

    def events(self, name: str) -> list[list]:
        """Arguments of every event ``name`` received so far (consumed or not)."""
        return [r["args"] for r in self.log.all(is_event(name))]

    def reports(self, type_: str) -> list[dict]:
        return self.log.all(is_type(type_))

    # -- actions ------------------------------------------------------------------
    async def emit(self, event: str, *args: Any) -> None:
        await self._emit(event, list(args))

    async def emit_ack(self, event: str, *args: Any, timeout: float = DEFAULT_TIMEOUT) -> list:
        """Emit with an ack; return the list of the ack's arguments."""
        return await self._emit_ack(event, list(args), timeout)

    async def call(self, event: str, *args: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Emit with an ack that must carry exactly one argument; return it."""
        res = await self.emit_ack(event, *args, timeout=timeout)
        assert len(res) == 1, f"{self.log.name}: ack of {event!r} carried {res!r}"
        return res[0]

    async def answer(self, event: str, template: Iterable[Any] = (), *, mode: str = "template"):
        """Answer server->client acks for ``event`` with ``template`` (see ARG, ALL_ARGS).

        mode "ignore": never answer.
        """
        await self._answer(event, list(template), mode)

    async def barrier(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """A round trip through the server on this connection (echo with ack).

        Whatever the server sent to this socket before answering is received
        by the time it returns: this is how the tests check that something did
        *not* arrive, without any timing assumption.
        """
        token = f"barrier-{id(self)}-{len(self.log.reports)}"
        assert await self.emit_ack("echo", token, timeout=timeout) == [token]

    # to be implemented
    async def _emit(self, event: str, args: list) -> None:  # pragma: no cover
        raise NotImplementedError

    async def _emit_ack(self, event: str, args: list, timeout: float) -> list:  # pragma: no cover
        raise NotImplementedError

    async def _answer(self, event: str, template: list, mode: str) -> None:  # pragma: no cover
        raise NotImplementedError

    async def disconnect(self) -> None:  # pragma: no cover
        raise NotImplementedError

    async def transport(self) -> str | None:  # pragma: no cover
        raise NotImplementedError

    async def close(self) -> None:  # pragma: no cover
        raise NotImplementedError


class RecentLines:
    """A bounded buffer of raw lines (puppet stdout/stderr) for error messages."""

    def __init__(self, maxlen: int = 60) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=maxlen)

    def add(self, line: str) -> None:
        self.lines.append(line if len(line) <= 400 else line[:400] + "...")

    def text(self, title: str) -> str:
        return f"--- {title} (last {len(self.lines)} lines):\n" + "\n".join(
            "  " + x for x in self.lines
        )
