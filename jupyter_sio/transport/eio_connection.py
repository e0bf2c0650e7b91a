"""Engine.IO connections on asyncio: the I/O half of :mod:`jupyter_sio.protocol.eio_session`.

An :class:`EngineConnection` owns one :class:`EngineSession` (the protocol state), its
:class:`Outbox`, the current transport (a held long-poll GET or a WebSocket) and its place
in the server's one heartbeat schedule (:mod:`.heartbeat`). It is the hub's
:class:`~jupyter_sio.hub.sio_connection.Channel`.

The write path is built for broadcast: :meth:`EngineConnection.send` gets an
:class:`Outgoing` encoded once for all recipients. On a WebSocket it gives the cached frame
bytes to :meth:`~jupyter_sio.transport.ws_stream.WebSocketStream.write_frame`, i.e. one
``transport.write`` (on an idle socket one ``send`` system call, no future, no copy). Past
``write_high_water`` unsent bytes asyncio pauses the stream's writing: the connection is
congested, packets wait in the bounded outbox under their policy, and reading from that
client pauses while a reliable packet waits for room; ``resume_writing`` flushes them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import BufferFull, Disconnected, RemoteProtocolError
from ..hub.delivery import Pending, Stall
from ..hub.sio_connection import Client, Handshake
from ..protocol.eio_codec import EnginePacket, EnginePacketType, decode_packet, decode_payload
from ..protocol.eio_session import (
    Closed,
    CloseReason,
    EngineSession,
    Heartbeat,
    ProbeReply,
    Transport,
    Upgraded,
)
from ..protocol.frames import CLOSE, NOOP, PING, Outgoing
from ..protocol.outbox import Outbox, PushResult
from .heartbeat import Heartbeats

if TYPE_CHECKING:
    from ..config import HubConfig

log = logging.getLogger("jupyter_sio.transport")


class WebSocketPeer(Protocol):
    """The parts of a WebSocket a connection uses (a
    :class:`~jupyter_sio.transport.ws_stream.WebSocketStream`, in practice)."""

    #: Past the high water mark set below, until back under the low one.
    congested: bool

    def write_frame(self, frame: bytes) -> None:
        """Write pre-built frames (never raises; a closed peer drops them)."""

    def write_text(self, text: str) -> None: ...

    def pending_bytes(self) -> int: ...

    def set_write_buffer_limits(self, high: int, low: int | None = None) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self, code: int | None = 1000, reason: str = "") -> None: ...


class Receiver(Protocol):
    """What an :class:`EngineApp` hands back for each connection: where its messages go."""

    def on_message(self, data: str | bytes) -> None: ...


class EngineApp(Protocol):
    """What an :class:`EngineServer` serves: a :class:`~jupyter_sio.hub.hub.Hub`
    (Socket.IO), or :class:`jupyter_sio.engine.EngineIO` (plain Engine.IO messages)."""

    @property
    def config(self) -> HubConfig: ...

    def connect_client(self, channel: Any, handshake: Handshake) -> Any:
        """A connection opened: its :class:`Receiver`."""

    def client_closed(self, client: Any, reason: str) -> None: ...


class EngineServer:
    """The registry of Engine.IO connections of one hub (or plain Engine.IO app)."""

    def __init__(self, hub: EngineApp) -> None:
        self.hub = hub
        #: one timer for every connection's heartbeat (see :mod:`.heartbeat`)
        self.heartbeats = Heartbeats()
        self.config = hub.config
        self.connections: dict[str, EngineConnection] = {}

    def open(self, transport: Transport, handshake: Handshake) -> EngineConnection:
        """A handshake: create the session and its Socket.IO client."""
        sid = secrets.token_urlsafe(15)
        loop = asyncio.get_running_loop()
        session = EngineSession(sid, self.config, transport, loop.time())
        conn = EngineConnection(self, session, handshake)
        self.connections[sid] = conn
        return conn

    def get(self, sid: str) -> EngineConnection | None:
        return self.connections.get(sid)

    def forget(self, conn: EngineConnection) -> None:
        if self.connections.get(conn.sid) is conn:
            del self.connections[conn.sid]

    async def close(self) -> None:
        """Close every connection (server shutdown)."""
        for conn in list(self.connections.values()):
            conn.close(CloseReason.SERVER_SHUTDOWN.value)
        await asyncio.sleep(0)


class EngineConnection:
    """One client's Engine.IO connection over polling and/or WebSocket."""

    __slots__ = (
        "_hold",
        "_linger",
        "_paused",
        "_poll",
        "_probe",
        "_stall",
        "_timer",
        "client",
        "outbox",
        "server",
        "session",
        "sid",
        "ws",
    )

    def __init__(self, server: EngineServer, session: EngineSession, handshake: Handshake) -> None:
        config = server.config
        self.server = server
        self.session = session
        self.sid = session.sid
        self.outbox = Outbox(
            max_packets=config.max_buffer_packets, max_bytes=config.max_buffer_bytes
        )
        self.ws: WebSocketPeer | None = None
        self._probe: WebSocketPeer | None = None
        self._paused: WebSocketPeer | None = None  # the WebSocket not read while stalled
        self._poll: asyncio.Future[None] | None = None  # a held GET waits on it
        self._hold: asyncio.TimerHandle | None = None  # its polling_timeout, if set
        self._stall: Stall | None = None  # the one reliable packet waiting for room
        self._linger: asyncio.TimerHandle | None = None
        self._timer: float | None = None  # the heartbeat deadline it is scheduled for
        server.heartbeats.schedule(self, session.deadline)
        self.client: Client = server.hub.connect_client(self, handshake)  # or a Receiver

    # -- Channel interface -----------------------------------------------------------------
    @property
    def transport_name(self) -> str:
        return self.session.transport.value

    def send(self, packet: Outgoing) -> bool:
        """Write or queue by policy; ``False`` when a reliable packet finds no room."""
        if self.session.closed:
            return True  # a closed connection swallows output, like a socket.io server
        reliable = packet.key is None and not packet.volatile
        if self._stall is not None and reliable:
            return False  # keep order behind the packet already waiting for room
        ws = self.ws
        if ws is not None and not ws.congested and not self.outbox:
            ws.write_frame(packet.ws_frame)
            return True
        if ws is None and packet.volatile:
            # A polling client counts as congested while packets wait for its next GET;
            # with nothing queued the packet goes out with the held (or the next) GET.
            # (Node drops unless a GET is held at that instant: socket.io#3350.)
            if self.outbox:
                self.outbox.dropped += 1
            else:
                self.outbox.push_control(packet)
                self._wake()
            return True
        result = self.outbox.push(packet)
        if result is PushResult.FULL:
            return False
        if result is PushResult.QUEUED:
            self._wake()
        return True

    def send_when_room(self, packet: Outgoing) -> Pending:
        """Hold ``packet`` until the outbox has room (see :mod:`jupyter_sio.hub.delivery`).

        At most one packet is held: a second reliable packet that finds the outbox full,
        or a held packet still waiting after ``send_timeout``, means the client does not
        read, and the connection is closed.
        """
        if self.session.closed:
            return Pending.failed(Disconnected(self.session.close_reason or "closed"))
        if self._stall is not None:
            return self._stuck("its outbound buffer is full and a packet is already waiting")
        timeout = self.server.config.send_timeout
        self._stall = Stall(packet, timeout, self._stall_expired)
        if self.ws is not None:
            # Its own requests would only add answers it cannot take: read no more of them.
            self._paused = self.ws
            self.ws.pause_reading()
        return self._stall.delivery

    def _stall_expired(self) -> None:
        if self._stall is not None:
            self._stuck(
                f"its outbound buffer stayed full for send_timeout="
                f"{self.server.config.send_timeout} s"
            )

    def _stuck(self, why: str) -> Pending:
        """Close a client that does not read; once, with one log line."""
        error = BufferFull(
            f"client {self.sid} is not reading: {why} ({len(self.outbox)} "
            f"packets, {self.outbox.size} bytes queued)"
        )
        stall, self._stall = self._stall, None
        if stall is not None:
            stall.fail(error)
            self._unstalled()
        if not self.session.closed:
            log.warning("disconnecting %s: %s", self.sid, error)
            self.close(CloseReason.FORCED_CLOSE.value)
        return Pending.failed(error)

    def _admit_stalled(self) -> None:
        """Move the waiting reliable packet into the outbox once there is room."""
        stall = self._stall
        if stall is not None and self.outbox.has_room(stall.packet.size):
            self._stall = None
            self.outbox.push(stall.packet)
            stall.release()
            self._unstalled()

    def _unstalled(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None:
            paused.resume_reading()

    # -- WebSocket writes ------------------------------------------------------------------
    def websocket_drained(self, ws: WebSocketPeer) -> None:
        """The stream's write buffer fell under its low water mark: send what waits."""
        if ws is self.ws and not self.session.closed:
            self._flush_ws()

    def _flush_ws(self) -> None:
        ws = self.ws
        if ws is None:
            return
        high_water = self.server.config.write_high_water
        while self.outbox and not ws.congested:
            batch = self.outbox.drain(high_water)
            self._admit_stalled()
            ws.write_frame(b"".join(p.ws_frame for p in batch))
        if not self.outbox:
            self._admit_stalled()
            if self.outbox and not ws.congested:
                self._flush_ws()

    # -- long-polling ----------------------------------------------------------------------
    # A GET is served in up to three steps, so that a front end needs no coroutine for it:
    # start_poll answers at once when it can (packets waiting, session closed, probe
    # answered); otherwise the GET is held on one future, released by _wake (a packet, a
    # heartbeat ping, a close) or, with ``polling_timeout`` set, by one timer; finish_poll
    # then drains. Without ``polling_timeout`` the heartbeat is the hold's only timer: a
    # ping goes out every ``ping_interval`` and releases the GET, as in Node's engine.io.
    def start_poll(self) -> str | None:
        """Begin serving a GET: its payload text, or ``None`` when it is held (wait for
        :meth:`held_poll`, then call :meth:`finish_poll`). Raises
        :class:`RemoteProtocolError` for a GET the session refuses."""
        session = self.session
        if session.closed and self._linger is not None:
            # Closed by the server with no GET held: this one takes what is left, the
            # close packet last (Node's engine.io waits for the next GET the same way).
            config = self.server.config
            left = self.outbox.drain(config.max_payload, config.max_poll_packets)
            if not left or left[-1] is not CLOSE:
                left.append(CLOSE)
            self._finish_close()
            return "\x1e".join(p.poll_text for p in left)
        try:
            session.begin_poll()
        except RemoteProtocolError:
            if session.closed and session.close_reason is not None:
                # An overlapping GET closed the session: tear down (the hub hears of it
                # and the GET held releases with the close packet).
                self._closed(session.close_reason)
            raise
        if not self.outbox and not session.closed and not session.probe_answered:
            loop = asyncio.get_running_loop()
            self._poll = loop.create_future()
            hold = self.server.config.polling_timeout
            if hold is not None:
                self._hold = loop.call_later(hold, self._wake)
            return None
        return self.finish_poll()

    def held_poll(self) -> asyncio.Future[None]:
        """The future a held GET waits on (done when :meth:`finish_poll` can answer)."""
        assert self._poll is not None, "no GET is held"
        return self._poll

    def finish_poll(self) -> str:
        """End the GET :meth:`start_poll` began: the payload text (a noop when empty)."""
        session = self.session
        self._poll = None
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.cancel()
        try:
            config = self.server.config
            items = self.outbox.drain(config.max_payload, config.max_poll_packets)
            self._admit_stalled()
            if session.closed:
                # The server closing says so; a client that closed (its POST of "1") gets
                # its held GET back with a noop, as from Node's engine.io.
                by_client = session.close_reason is CloseReason.TRANSPORT_CLOSE
                if not by_client and (not items or items[-1] is not CLOSE):
                    items.append(CLOSE)
                self._finish_close()
        finally:
            session.end_poll()
        if not items:
            return NOOP.poll_text
        if len(items) == 1:
            return items[0].poll_text
        return "\x1e".join(p.poll_text for p in items)

    async def poll(self) -> str:
        """Serve one GET: wait for packets (or a heartbeat), return the payload text."""
        payload = self.start_poll()
        if payload is not None:
            return payload
        poll = self.held_poll()
        try:
            await poll
        except BaseException:
            self.cancel_poll(poll)
            raise
        return self.finish_poll()

    def cancel_poll(self, poll: asyncio.Future[None]) -> None:
        """Give up the GET held on ``poll`` without answering it (its waiter was cancelled):
        the session goes on and takes the next GET."""
        if self._poll is not poll:
            return  # finish_poll ran
        self._poll = None
        hold, self._hold = self._hold, None
        if hold is not None:
            hold.cancel()
        self.session.end_poll()
        if self.session.closed:
            self._finish_close()  # (_closed left that to the held GET)

    def abort_poll(self) -> None:
        """The GET's HTTP connection dropped before we answered: the transport failed."""
        if self._poll is not None and self.session.transport is Transport.POLLING:
            self._closed(CloseReason.TRANSPORT_ERROR)

    def receive_payload(self, body: str) -> None:
        """Serve one POST: packets from a polling client."""
        session = self.session
        if session.closed:
            raise RemoteProtocolError("session closed", hint="Session ID unknown")
        if session.transport is not Transport.POLLING:
            raise RemoteProtocolError("POST on an upgraded session", hint="Bad request")
        if body[:1] == "4" and "\x1e" not in body:
            # Hot path: one message packet, straight to the hub (as receive_ws does).
            self.client.on_message(body[1:])
            return
        try:
            packets = decode_payload(body)
        except RemoteProtocolError:
            self._closed(CloseReason.PARSE_ERROR)
            raise
        for packet in packets:
            self._receive(packet)
            if session.closed:
                break

    def _wake(self) -> None:
        poll = self._poll
        if poll is not None and not poll.done():
            poll.set_result(None)

    # -- WebSocket transport ---------------------------------------------------------------
    # A WebSocketStream calls receive_ws, websocket_drained and websocket_closed: the
    # connection is the stream's app (see open_websocket).
    def attach_websocket(self, ws: WebSocketPeer) -> None:
        """A direct WebSocket connection (no polling first): it is the transport."""
        self.ws = ws
        ws.set_write_buffer_limits(self.server.config.write_high_water)
        ws.write_text(self.session.open_packet())

    def attach_probe(self, ws: WebSocketPeer) -> None:
        """A WebSocket for an existing polling session: the upgrade starts."""
        ws.set_write_buffer_limits(self.server.config.write_high_water)
        loop = asyncio.get_running_loop()
        self.session.begin_probe(loop.time())
        self._probe = ws
        self._reschedule()

    def receive_ws(self, ws: WebSocketPeer, message: str | bytes) -> None:
        """A WebSocket message, on the session's socket or on an upgrade probe."""
        if self.session.closed:
            return
        if ws is self.ws:
            # Hot path: Socket.IO traffic goes straight to the hub.
            if type(message) is str and message[:1] == "4":
                self.client.on_message(message[1:])
                return
            if type(message) is bytes:
                self.client.on_message(message)
                return
            try:
                self._receive(decode_packet(message))
            except RemoteProtocolError as exc:
                log.info("closing %s: %s", self.sid, exc)
                self._closed(CloseReason.PARSE_ERROR)
            return
        if ws is not self._probe:
            return
        try:
            event = self.session.receive_probe(decode_packet(message))
        except RemoteProtocolError as exc:
            log.info("upgrade of %s failed: %s", self.sid, exc)
            self._probe = None
            ws.close()
            return
        if isinstance(event, ProbeReply):
            ws.write_text("3probe")
            # Release a held GET so the client can pause polling and send "5" (a GET that
            # comes later is answered at once, see poll); nothing goes on the WebSocket.
            if self._poll is not None:
                self.outbox.push_control(NOOP)
                self._wake()
        elif isinstance(event, Upgraded):
            self.ws, self._probe = ws, None
            self._wake()  # a GET still held returns (with a noop) and the client stops polling
            self._reschedule()
            self._flush_ws()

    def websocket_closed(self, ws: WebSocketPeer) -> None:
        if ws is self._probe:
            self._probe = None
            self.session.abort_probe()
        elif ws is self.ws:
            self._closed(CloseReason.TRANSPORT_CLOSE)

    # -- shared inbound --------------------------------------------------------------------
    def _receive(self, packet: EnginePacket) -> None:
        if packet.type is EnginePacketType.MESSAGE:
            self.client.on_message(packet.data)
            return
        loop = asyncio.get_running_loop()
        event = self.session.receive_control(packet, loop.time())
        if isinstance(event, Closed):
            self._closed(event.reason)

    # -- heartbeat -------------------------------------------------------------------------
    def _on_timer(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        session = self.session
        if session.probe_expired(now) and self._probe is not None:
            self._probe.close()
            self._probe = None
        action = session.tick(now)
        if action is Heartbeat.SEND_PING:
            self._send_control(PING)
        elif action is Heartbeat.TIMED_OUT:
            log.info("closing %s: ping timeout", self.sid)
            self._closed(CloseReason.PING_TIMEOUT)
            return
        if not session.closed:
            self.server.heartbeats.schedule(self, session.deadline)

    def _reschedule(self) -> None:
        self.server.heartbeats.schedule(self, self.session.deadline)

    def _send_control(self, packet: Outgoing) -> None:
        ws = self.ws
        if ws is not None and not ws.congested and not self.outbox:
            ws.write_frame(packet.ws_frame)
        else:
            self.outbox.push_control(packet)
            self._wake()
            if ws is not None and not ws.congested:
                self._flush_ws()

    # -- close -----------------------------------------------------------------------------
    def close(self, reason: str = "forced close") -> None:
        """Close from the server side, after flushing what is queued where possible."""
        try:
            close_reason = CloseReason(reason)
        except ValueError:
            close_reason = CloseReason.FORCED_CLOSE
        if self.session.transport is Transport.POLLING and not self.session.closed:
            self.outbox.push_control(CLOSE)
            self._closed(close_reason, linger=True)
            self._wake()
        else:
            self._closed(close_reason)

    def _closed(self, reason: CloseReason, *, linger: bool = False) -> None:
        """Tear down once: tell the hub, fail waiters, release transports."""
        client = self.client
        if client is None:
            return
        self.client = None  # type: ignore[assignment]
        self.session.close(reason)
        self.server.heartbeats.cancel(self)
        stall, self._stall = self._stall, None
        if stall is not None:
            stall.fail(Disconnected(reason.value))
        self.server.hub.client_closed(client, reason.value)
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        ws = self.ws
        if ws is not None:
            self.outbox.clear()
            ws.close()
        if linger and self._poll is None:
            # Keep the session reachable so the next GET receives the close packet.
            loop = asyncio.get_running_loop()
            self._linger = loop.call_later(self.server.config.ping_timeout, self._finish_close)
        else:
            self._wake()
            if self._poll is None:
                self._finish_close()

    def _finish_close(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        self.outbox.clear()
        self.server.forget(self)

    def stats(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "transport": self.transport_name,
            "queued": len(self.outbox),
            "queued_bytes": self.outbox.size,
            "dropped": self.outbox.dropped,
            "conflated": self.outbox.conflated,
            "waiting": int(self._stall is not None),
        }


def open_websocket(
    server: EngineServer,
    ws: WebSocketPeer,
    sid: str | None,
    handshake: Callable[[], Handshake],
) -> EngineConnection | None:
    """The connection a new WebSocket serves, its app from now on.

    Without ``sid`` a new session whose transport is ``ws`` (its open packet is written);
    with one, the upgrade probe of that polling session. An unknown ``sid``, or a session
    that cannot upgrade, closes ``ws`` with 1008 and returns ``None``.
    """
    if sid is None:
        conn = server.open(Transport.WEBSOCKET, handshake())
        conn.attach_websocket(ws)
        return conn
    probed = server.get(sid)
    try:
        if probed is None:
            raise RemoteProtocolError("unknown sid")
        probed.attach_probe(ws)
    except RemoteProtocolError as exc:
        log.info("refusing WebSocket for sid %s: %s", sid, exc)
        ws.close(1008, "bad upgrade")
        return None
    return probed
