"""One hub process's link to Redis: a subscriber, an ordered writer, and healing.

Every namespace adapter of a hub (:class:`~.redis_adapter.RedisAdapter`) is a member of
one :class:`RedisBus`: one subscriber connection for all their channels, one writer task
that sends their commands in order, batched in pipelines, and one health state
(:mod:`.bus_health`) for ``Hub.stats()["adapter"]``.

A *session* is one life of the connections: subscribe every member's channels (and wait
until Redis confirmed them), send what was queued meanwhile, let each member resync its
state from Redis, then run the listener and the writer until either fails. Any failure
(Redis restarted, a socket error, a PING left unanswered for ``ping_interval``) ends the
session: the state becomes RECONNECTING (one warning), members settle their pending
requests, every connection is dropped, and after a jittered, capped backoff a new session
starts; success logs one info line. The redis-py client is built with its own retries off,
so this loop is the only one deciding when to try again.

While the bus is down, publications wait in a bounded :class:`~.publish_queue.PublishQueue`
(volatile ones are dropped at once); what does not fit, and a batch in flight when the
connection broke, is counted in ``dropped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .bus_health import BusHealth, BusState, StateChange
from .publish_queue import Command, PublishQueue

if TYPE_CHECKING:
    from .redis_adapter import RedisSettings

log = logging.getLogger("jupyter_sio.hub.redis")

#: failures that mean "Redis is not reachable right now": reconnect with backoff
LINK_ERRORS = (RedisError, OSError, asyncio.TimeoutError)
#: commands per pipeline
BATCH = 512


class BusMember(Protocol):
    """What the bus needs from an adapter."""

    @property
    def channels(self) -> tuple[bytes, ...]: ...

    async def receive(self, data: bytes) -> None:
        """A message on one of ``channels``."""

    async def resync(self) -> None:
        """Connected (again): read back whatever state Redis keeps for this member."""

    def lost(self) -> None:
        """The connection broke: settle what waits for answers from other nodes."""


class RedisBus:
    """Connections, tasks and health shared by the adapters of one hub (see module doc)."""

    def __init__(
        self,
        client: Any,
        settings: RedisSettings,
        *,
        where: str,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.settings = settings
        self.where = where  # for log lines: the URL without credentials
        self.queue = PublishQueue(settings.max_pending, settings.max_pending_bytes)
        self.health = BusHealth(settings.backoff, time.time())
        self._rng = rng
        self._members: list[BusMember] = []
        self._routes: dict[bytes, list[BusMember]] = {}
        self._pubsub: Any = None
        self._runner: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()  # the first attempt of this run succeeded or failed
        self._wake = asyncio.Event()  # something was queued
        self._closing = False
        self._refused: str | None = None  # the last command error logged

    @property
    def connected(self) -> bool:
        return self.health.state is BusState.CONNECTED

    def status(self) -> dict[str, Any]:
        return {
            "kind": "redis",
            **self.health.status(),
            "dropped": self.queue.dropped,
            "pending": len(self.queue),
            "pending_bytes": self.queue.nbytes,
        }

    # -- publishing (synchronous: never waits) ---------------------------------------------
    def send(self, command: Command, *, volatile: bool = False) -> None:
        """Queue a command for the writer; a volatile one is dropped while disconnected."""
        if volatile and not self.connected:
            self.queue.refuse()
            return
        self.queue.push(command)
        self._wake.set()

    async def subscribers(self, channel: bytes) -> int | None:
        """How many connections (nodes) subscribe to ``channel``; None if Redis cannot say
        within ``connect_timeout`` (the listener will notice a real outage)."""
        try:
            numsub = await asyncio.wait_for(
                self.client.pubsub_numsub(channel), self.settings.connect_timeout
            )
        except LINK_ERRORS as exc:
            log.debug("counting the subscribers of %r failed: %r", channel, exc)
            return None
        return int(numsub[0][1]) if numsub else 0

    # -- members ---------------------------------------------------------------------------
    async def attach(self, member: BusMember) -> None:
        """Add a member; the first one starts the bus and waits for its first attempt
        (a Redis that is down then leaves the hub running degraded, not failing)."""
        self._members.append(member)
        self._route()
        if self._runner is None:
            self.health = BusHealth(self.settings.backoff, time.time())
            self._closing = False
            self._settled = asyncio.Event()
            self._wake = asyncio.Event()  # events of an earlier run may belong to another loop
            self._runner = asyncio.ensure_future(self._run())
            await self._settled.wait()
        elif self.connected:
            # A namespace created on a running hub. A session starting now covers it; if
            # this fails, the listener notices and the next session subscribes it.
            try:
                await self._pubsub.subscribe(*member.channels)
                await member.resync()
            except LINK_ERRORS as exc:
                log.debug("subscribing a new namespace failed: %r", exc)

    async def detach(self, member: BusMember) -> None:
        """Remove a member; the last one stops the bus (flushing what is queued, briefly)."""
        if member in self._members:
            self._members.remove(member)
            self._route()
        if not self._members:
            await self._stop()
            return
        unused = [c for c in member.channels if c not in self._routes]
        if unused and self.connected:
            with contextlib.suppress(*LINK_ERRORS):
                await self._pubsub.unsubscribe(*unused)

    def _route(self) -> None:
        routes: dict[bytes, list[BusMember]] = {}
        for member in self._members:
            for channel in member.channels:
                routes.setdefault(channel, []).append(member)
        self._routes = routes

    async def _stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing = True
        self._wake.set()
        if self.connected:
            await asyncio.wait([runner], timeout=2)  # the writer sends what is queued, stops
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        self._settled.set()  # an attach still waiting for the first attempt returns
        self.queue.clear()
        await self._disconnect()
        self._report(self.health.closed(time.time()))

    # -- sessions --------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._session()
                return  # closing: the writer flushed and stopped
            except LINK_ERRORS as exc:
                error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug must not end the bus silently either
                log.exception("Redis bus session failed unexpectedly")
                error = f"{type(exc).__name__}: {exc}"
            if self._closing:
                return
            self._report(self.health.failed(time.time(), error))
            self._settled.set()
            for member in list(self._members):
                member.lost()
            await self._disconnect()
            await asyncio.sleep(self.health.next_delay(self._rng()))

    async def _session(self) -> None:
        pubsub = self._pubsub = self.client.pubsub()
        await self._prepare(pubsub)
        self._report(self.health.connected(time.time()))
        self._settled.set()
        listener = asyncio.ensure_future(self._listen(pubsub))
        writer = asyncio.ensure_future(self._write())
        try:
            done, _ = await asyncio.wait([listener, writer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (listener, writer):
                task.cancel()
            await asyncio.gather(listener, writer, return_exceptions=True)
        for task in done:
            task.result()  # the failure that ended the session, if any

    async def _prepare(self, pubsub: Any) -> None:
        """Subscribe, send what was queued while down, resync members; repeat for members
        that attached meanwhile, so none is left out when the state says CONNECTED."""
        subscribed: set[bytes] = set()
        synced: list[BusMember] = []
        while True:
            missing = [c for c in self._routes if c not in subscribed]
            pending = [m for m in self._members if m not in synced]
            if not missing and not pending:
                return
            if missing:
                await self._subscribe(pubsub, missing)
                subscribed.update(missing)
            while self.queue:
                await self._execute(self.queue.take(BATCH))
            for member in pending:
                await member.resync()
                synced.append(member)

    async def _subscribe(self, pubsub: Any, channels: list[bytes]) -> None:
        """SUBSCRIBE and wait for Redis to confirm each channel: from then on nothing
        published there is missed."""
        await pubsub.subscribe(*channels)
        waiting = set(channels)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.connect_timeout
        while waiting:
            left = deadline - loop.time()
            if left <= 0:
                raise RedisConnectionError(
                    f"no SUBSCRIBE confirmation within {self.settings.connect_timeout} s"
                )
            message = await pubsub.get_message(timeout=left)
            if message is None:
                continue
            if message["type"] == "subscribe":
                waiting.discard(message["channel"])
            elif message["type"] == "message":
                await self._dispatch(message)

    async def _disconnect(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
        # Pooled connections to a Redis that restarted are dead: start afresh.
        with contextlib.suppress(Exception):
            await self.client.connection_pool.disconnect()

    def _report(self, change: StateChange | None) -> None:
        """The one log line of a state change."""
        if change is None:
            return
        if change.degraded:
            log.warning(
                "Redis at %s unreachable (%s): cross-node delivery paused, local delivery "
                "goes on; reconnecting with backoff",
                self.where,
                change.error,
            )
        elif change.recovered:
            log.info(
                "Redis at %s reachable again after %.1f s; cross-node delivery resumed "
                "(%d publications dropped so far)",
                self.where,
                change.outage or 0.0,
                self.queue.dropped,
            )
        else:
            log.info("Redis at %s: %s", self.where, change.new.value)

    # -- the two loops of a session --------------------------------------------------------
    async def _listen(self, pubsub: Any) -> None:
        interval = self.settings.ping_interval
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=interval)
            if message is None:
                if pinged:  # a silent half-open connection: no EOF would ever come
                    raise RedisConnectionError(f"Redis did not answer a PING within {interval} s")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            if message["type"] == "message":
                await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        for member in self._routes.get(message["channel"], ()):
            try:
                await member.receive(message["data"])
            except Exception:
                log.exception("bad message on Redis channel %r", message["channel"])

    async def _write(self) -> None:
        """One writer: commands leave in the order they were queued, batched."""
        while True:
            if not self.queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._execute(self.queue.take(BATCH))

    async def _execute(self, batch: list[Command]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for command in batch:
            pipe.execute_command(*command)
        try:
            results = await pipe.execute(raise_on_error=False)
        except BaseException:
            self.queue.lost(len(batch))  # at most once: a broken batch is not sent again
            raise
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            text = f"{type(errors[0]).__name__}: {errors[0]}"
            if text != self._refused:  # a misconfigured key fails every batch: say it once
                log.error("Redis refused %d of %d commands: %s", len(errors), len(batch), text)
                self._refused = text
