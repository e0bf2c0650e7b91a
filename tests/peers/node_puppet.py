"""Drive the official Node ``socket.io-client`` from asyncio tests.

``tests/js/puppet.mjs`` runs as a subprocess and owns named client sockets; this
module talks to it with JSON lines::

    async with NodePuppet() as p:
        a = await p.connect("http://127.0.0.1:N/", transports=["websocket"], auth={"user": "u"})
        welcome = await a.wait_event("welcome", timeout=10)
        res = await a.emit_ack("echo", 1, b"\\x00", timeout=10)
        await a.emit("disconnect_me")
        assert await a.wait_disconnect() == "io server disconnect"

Every wait is bounded; on expiry the error shows the socket's reports and the last
lines the puppet printed. Binary values are ``bytes`` on the Python side.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from .common import (
    DEFAULT_TIMEOUT,
    AckError,
    ClientSocketBase,
    PeerError,
    PeerTimeout,
    RecentLines,
    ReportLog,
    from_wire,
    to_wire,
)

JS_DIR = Path(__file__).resolve().parent.parent / "js"
PUPPET = JS_DIR / "puppet.mjs"

# Report fields that carry values which may hold binaries.
_VALUE_FIELDS = ("args", "data")


def node_executable() -> str:
    node = os.environ.get("NODE") or shutil.which("node")
    if not node:
        raise PeerError("node is not on PATH (set $NODE to the Node 20 executable)")
    return node


class NodeSocket(ClientSocketBase):
    """One ``socket.io-client`` socket living in the puppet."""

    kind = "node"

    def __init__(self, puppet: NodePuppet, sid_name: str, url: str) -> None:
        self.puppet = puppet
        self.name = sid_name
        self.url = url
        self.log = ReportLog(f"node socket {sid_name!r} ({url})", context=puppet.recent_output)
        self.closed = False

    def __repr__(self) -> str:
        return f"<NodeSocket {self.name} {self.url}>"

    @property
    def sid(self) -> str | None:
        """The sid of the latest ``connect`` report."""
        connects = self.reports("connect")
        return connects[-1].get("sid") if connects else None

    async def _emit(self, event: str, args: list) -> None:
        await self.puppet.command("emit", id=self.name, event=event, args=to_wire(args))

    async def emit_volatile(self, event: str, *args: Any) -> None:
        await self.puppet.command(
            "emit", id=self.name, event=event, args=to_wire(list(args)), volatile=True
        )

    async def _emit_ack(self, event: str, args: list, timeout: float) -> list:
        # The puppet's own ack timeout fires first; ours only guards a dead puppet.
        req, fut = self.puppet.new_ack_waiter()
        await self.puppet.command(
            "emit",
            req=req,
            id=self.name,
            event=event,
            args=to_wire(args),
            ack=True,
            timeout=int(timeout * 1000),
        )
        try:
            res = await asyncio.wait_for(asyncio.shield(fut), timeout + 2)
        except asyncio.TimeoutError:
            raise PeerTimeout(
                f"{self.name}: no ack for {event!r} within {timeout}s\n" + self.log.describe()
            ) from None
        finally:
            self.puppet.drop_ack_waiter(req)
        if "error" in res:
            raise AckError(
                f"{self.name}: ack for {event!r} failed: {res['error']}\n" + self.log.describe()
            )
        return res["args"]

    async def _answer(self, event: str, template: list, mode: str) -> None:
        await self.puppet.command(
            "answer", id=self.name, event=event, args=to_wire(template), mode=mode
        )

    async def disconnect(self) -> None:
        """``socket.disconnect()`` (client-side namespace disconnect)."""
        await self.puppet.command("disconnect", id=self.name)

    async def connect_again(self) -> None:
        """``socket.connect()`` after a disconnect."""
        await self.puppet.command("connect_again", id=self.name)

    async def close_engine(self) -> None:
        """Close the Engine.IO connection under this socket (abrupt transport close)."""
        await self.puppet.command("close_engine", id=self.name)

    async def state(self) -> dict:
        return await self.puppet.command("state", id=self.name)

    async def transport(self) -> str | None:
        return (await self.state())["transport"]

    async def wait_transport(self, name: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until the Engine.IO transport is ``name`` (e.g. after an upgrade)."""
        if await self.transport() == name:
            return
        await self.wait_report("upgrade", timeout=timeout, transport=name)
        assert await self.transport() == name

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.puppet.alive:
            with contextlib.suppress(PeerError, PeerTimeout):
                await self.puppet.command("remove", id=self.name, timeout=5)


class NodePuppet:
    """The puppet subprocess. Use as ``async with NodePuppet() as p``."""

    def __init__(self, *, start_timeout: float = 15.0) -> None:
        self.start_timeout = start_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self.sockets: dict[str, NodeSocket] = {}
        self._reqs = itertools.count(1)
        self._names = itertools.count(1)
        self._replies: dict[int, asyncio.Future] = {}
        self._acks: dict[int, asyncio.Future] = {}
        self._stdout = RecentLines(80)
        self._stderr = RecentLines(40)
        self._tasks: list[asyncio.Task] = []
        self._ready: asyncio.Future | None = None
        self._dead: str | None = None

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> NodePuppet:
        if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
            raise PeerError(f"socket.io-client is not installed: run `npm ci --prefix {JS_DIR}`")
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self.proc = await asyncio.create_subprocess_exec(
            node_executable(),
            str(PUPPET),
            cwd=str(JS_DIR),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,  # one report line can carry a large binary
        )
        self._tasks = [
            loop.create_task(self._read_stdout()),
            loop.create_task(self._read_stderr()),
        ]
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), self.start_timeout)
        except asyncio.TimeoutError:
            await self.aclose()
            raise PeerTimeout("the Node puppet did not start\n" + self.recent_output()) from None
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self._dead is None

    async def aclose(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            try:
                if proc.stdin and not proc.stdin.is_closing():
                    proc.stdin.write(b'{"op":"exit"}\n')
                    await proc.stdin.drain()
                    proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError, RuntimeError):
                pass
            try:
                await asyncio.wait_for(proc.wait(), 3)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._fail_all("the puppet was closed")

    async def __aenter__(self) -> NodePuppet:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # -- plumbing -----------------------------------------------------------------
    def recent_output(self) -> str:
        state = (
            "running"
            if self.alive
            else f"dead ({self._dead or (self.proc and self.proc.returncode)})"
        )
        return (
            f"--- Node puppet: {state}\n"
            + self._stdout.text("puppet stdout")
            + "\n"
            + self._stderr.text("puppet stderr")
        )

    def _fail_all(self, why: str) -> None:
        for fut in list(self._replies.values()) + list(self._acks.values()):
            if not fut.done():
                fut.set_exception(PeerError(why + "\n" + self.recent_output()))

    async def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        try:
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    break
                text = line.decode("utf-8", "replace").rstrip("\n")
                self._stdout.add(text)
                try:
                    msg = json.loads(text)
                except ValueError:
                    continue
                self._dispatch(msg)
        finally:
            self._dead = self._dead or "stdout closed"
            if self._ready and not self._ready.done():
                self._ready.set_exception(PeerError("the puppet exited\n" + self.recent_output()))
            self._fail_all("the Node puppet exited")

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self._stderr.add(line.decode("utf-8", "replace").rstrip("\n"))

    def _dispatch(self, msg: dict) -> None:
        kind = msg.get("type")
        if kind == "ready":
            if self._ready and not self._ready.done():
                self._ready.set_result(msg)
            return
        if kind == "reply":
            fut = self._replies.pop(msg.get("req"), None)
            if fut is not None and not fut.done():
                if msg.get("ok"):
                    fut.set_result(from_wire(msg.get("result")))
                else:
                    fut.set_exception(PeerError(f"puppet: {msg.get('error')}"))
            return
        if kind == "ack":
            fut = self._acks.get(msg.get("req"))
            if fut is not None and not fut.done():
                fut.set_result(
                    {"args": from_wire(msg["args"])}
                    if "args" in msg
                    else {"error": msg.get("error")}
                )
            return
        for field in _VALUE_FIELDS:
            if field in msg:
                msg[field] = from_wire(msg[field])
        sock = self.sockets.get(msg.get("id"))
        if sock is not None:
            sock.log.add(msg)

    def new_ack_waiter(self) -> tuple[int, asyncio.Future]:
        req = next(self._reqs)
        fut = asyncio.get_running_loop().create_future()
        self._acks[req] = fut
        return req, fut

    def drop_ack_waiter(self, req: int) -> None:
        self._acks.pop(req, None)

    async def command(self, op: str, *, req: int | None = None, timeout: float = 10, **fields: Any):
        """Send one command and wait for the puppet's reply; return its result."""
        if not self.alive:
            raise PeerError(f"the Node puppet is not running (op {op})\n" + self.recent_output())
        if req is None:
            req = next(self._reqs)
        fut = asyncio.get_running_loop().create_future()
        self._replies[req] = fut
        line = json.dumps({"op": op, "req": req, **fields}) + "\n"
        assert self.proc and self.proc.stdin
        try:
            self.proc.stdin.write(line.encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._replies.pop(req, None)
            raise PeerError(f"cannot write to the puppet: {exc}\n" + self.recent_output()) from exc
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise PeerTimeout(
                f"no reply from the puppet to {op}\n" + self.recent_output()
            ) from None
        finally:
            self._replies.pop(req, None)

    # -- API ----------------------------------------------------------------------
    async def connect(
        self,
        url: str,
        *,
        name: str | None = None,
        share: NodeSocket | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
        **opts: Any,
    ) -> NodeSocket:
        """Create a socket for ``url`` (``http://host:port/namespace``).

        ``opts`` are socket.io-client options (``transports``, ``auth``, ``path``,
        ``reconnection``, ``reconnectionDelay``, ``upgrade``, ``extraHeaders``,
        ``query``, ...). Each socket has its own Manager (Engine.IO connection)
        unless ``share`` names a socket whose Manager to reuse. With ``wait`` the
        call returns once connected and raises :class:`PeerConnectError` on a
        ``connect_error``.
        """
        name = name or f"s{next(self._names)}"
        sock = NodeSocket(self, name, url)
        self.sockets[name] = sock
        fields: dict[str, Any] = {"id": name, "url": url, "opts": to_wire(opts)}
        if share is not None:
            fields["share"] = share.name
        await self.command("connect", **fields)
        if wait:
            try:
                await sock.wait_connect(timeout=timeout)
            except BaseException:
                await sock.close()
                raise
        return sock


async def _demo(url: str) -> None:  # pragma: no cover - manual smoke test
    async with NodePuppet() as p:
        a = await p.connect(url, transports=["websocket"], auth={"user": "demo"})
        print("welcome", await a.wait_event("welcome"))
        print("echo", await a.emit_ack("echo", 1, b"\x00\x01", {"n": [b"\xff"]}))


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(_demo(sys.argv[1]))
