"""The Engine.IO session state machine, driven with a fake clock (``now`` values)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyter_sio.config import HubConfig
from jupyter_sio.exceptions import RemoteProtocolError
from jupyter_sio.protocol.eio_codec import EnginePacket, EnginePacketType, decode_packet
from jupyter_sio.protocol.eio_session import (
    Closed,
    CloseReason,
    EngineSession,
    Heartbeat,
    ProbeReply,
    SessionState,
    Transport,
    Upgraded,
)

T = EnginePacketType
CONFIG = HubConfig(ping_interval=25, ping_timeout=20, upgrade_timeout=10, max_payload=12345)
T0 = 1000.0


def session(transport: Transport = Transport.POLLING, config: HubConfig = CONFIG) -> EngineSession:
    return EngineSession("sid1", config, transport, T0)


def state(s: EngineSession) -> SessionState:
    """The current state (a call, so type checkers do not narrow it across transitions)."""
    return s.state


def upgrading(now: float = T0) -> EngineSession:
    s = session()
    s.begin_probe(now)
    return s


# -- handshake -------------------------------------------------------------------------------
def open_body(s: EngineSession) -> Any:
    packet = decode_packet(s.open_packet())
    assert packet.type is T.OPEN
    return json.loads(str(packet.data))


def test_open_packet_fields() -> None:
    assert open_body(session()) == {
        "sid": "sid1",
        "upgrades": ["websocket"],
        "pingInterval": 25000,
        "pingTimeout": 20000,
        "maxPayload": 12345,
    }


@pytest.mark.parametrize(
    ("transport", "settings", "upgrades"),
    [
        (Transport.POLLING, {}, ["websocket"]),
        (Transport.WEBSOCKET, {}, []),
        (Transport.POLLING, {"allow_upgrades": False}, []),
        (Transport.POLLING, {"transports": ("polling",)}, []),
        (Transport.WEBSOCKET, {"transports": ("websocket",)}, []),
    ],
)
def test_open_packet_upgrades(
    transport: Transport, settings: dict[str, Any], upgrades: list[str]
) -> None:
    assert open_body(session(transport, CONFIG.replace(**settings)))["upgrades"] == upgrades


@pytest.mark.parametrize(
    ("interval", "timeout", "ms"),
    [(0.1, 0.05, (100, 50)), (1.2345, 2.0, (1234, 2000)), (60, 5, (60000, 5000))],
)
def test_open_packet_times_in_ms(interval: float, timeout: float, ms: tuple[int, int]) -> None:
    body = open_body(session(config=CONFIG.replace(ping_interval=interval, ping_timeout=timeout)))
    assert (body["pingInterval"], body["pingTimeout"]) == ms


def test_new_session_state() -> None:
    s = session()
    assert state(s) is SessionState.OPEN
    assert s.transport is Transport.POLLING
    assert not s.closed
    assert s.close_reason is None
    assert s.deadline == T0 + 25


# -- heartbeat -------------------------------------------------------------------------------
def test_ping_at_interval() -> None:
    s = session()
    assert s.tick(T0) is Heartbeat.NOTHING
    assert s.tick(T0 + 24.999) is Heartbeat.NOTHING
    assert s.tick(T0 + 25) is Heartbeat.SEND_PING
    assert s.deadline == T0 + 25 + 20  # now waiting for the pong
    assert s.tick(T0 + 26) is Heartbeat.NOTHING  # one ping at a time


def test_timed_out_without_pong() -> None:
    s = session()
    assert s.tick(T0 + 25) is Heartbeat.SEND_PING
    assert s.tick(T0 + 44.999) is Heartbeat.NOTHING
    assert s.tick(T0 + 45) is Heartbeat.TIMED_OUT
    assert s.closed
    assert s.close_reason is CloseReason.PING_TIMEOUT
    assert s.tick(T0 + 100) is Heartbeat.NOTHING  # closed sessions stay quiet


def test_late_tick_still_pings_then_times_out() -> None:
    s = session()
    assert s.tick(T0 + 30) is Heartbeat.SEND_PING  # pong due 20 s after the ping was sent
    assert s.deadline == T0 + 50
    assert s.tick(T0 + 49) is Heartbeat.NOTHING
    assert s.tick(T0 + 50) is Heartbeat.TIMED_OUT


def test_pong_resets_the_interval_from_the_pong() -> None:
    s = session()
    s.tick(T0 + 25)
    assert s.receive_control(EnginePacket(T.PONG), T0 + 30) is None
    assert s.deadline == T0 + 30 + 25
    assert s.tick(T0 + 54.9) is Heartbeat.NOTHING
    assert s.tick(T0 + 55) is Heartbeat.SEND_PING
    s.receive_control(EnginePacket(T.PONG), T0 + 56)
    assert s.tick(T0 + 80.9) is Heartbeat.NOTHING
    assert s.tick(T0 + 81) is Heartbeat.SEND_PING


def test_unsolicited_pong_changes_nothing() -> None:
    s = session()
    assert s.receive_control(EnginePacket(T.PONG), T0 + 10) is None
    assert s.deadline == T0 + 25


def test_noop_is_ignored() -> None:
    s = session()
    assert s.receive_control(EnginePacket(T.NOOP), T0) is None
    assert state(s) is SessionState.OPEN


@pytest.mark.parametrize("ptype", [T.OPEN, T.PING, T.MESSAGE, T.UPGRADE])
def test_unexpected_control_packet_is_a_remote_error(ptype: EnginePacketType) -> None:
    # v4 heartbeat is server-initiated: a client PING is a protocol error.
    with pytest.raises(RemoteProtocolError):
        session().receive_control(EnginePacket(ptype), T0)


def test_deadline_includes_probe() -> None:
    s = session()
    s.begin_probe(T0 + 1)
    assert s.deadline == T0 + 11
    s.abort_probe()
    assert s.deadline == T0 + 25


# -- long-polling ----------------------------------------------------------------------------
def test_poll_cycle() -> None:
    s = session()
    s.begin_poll()
    assert s.polling_active
    s.end_poll()
    assert not s.polling_active
    s.begin_poll()  # the next GET is fine


def test_overlapping_poll_closes_the_session() -> None:
    s = session()
    s.begin_poll()
    with pytest.raises(RemoteProtocolError) as info:
        s.begin_poll()
    assert info.value.hint == "Bad request"
    assert s.closed
    assert s.close_reason is CloseReason.TRANSPORT_ERROR


def test_poll_on_a_closed_session() -> None:
    s = session()
    s.close(CloseReason.FORCED_CLOSE)
    with pytest.raises(RemoteProtocolError) as info:
        s.begin_poll()
    assert info.value.hint == "Session ID unknown"


def test_poll_on_a_websocket_session() -> None:
    with pytest.raises(RemoteProtocolError):
        session(Transport.WEBSOCKET).begin_poll()


# -- upgrade ---------------------------------------------------------------------------------
def test_probe_flow() -> None:
    s = upgrading()
    assert state(s) is SessionState.UPGRADING
    assert s.receive_probe(EnginePacket(T.PING, "probe")) == ProbeReply()
    assert state(s) is SessionState.UPGRADING
    assert s.receive_probe(EnginePacket(T.UPGRADE)) == Upgraded()
    assert state(s) is SessionState.OPEN
    assert s.transport is Transport.WEBSOCKET
    assert s.probe_deadline is None
    with pytest.raises(RemoteProtocolError):
        s.begin_poll()  # polling is over for this session
    with pytest.raises(RemoteProtocolError):
        s.begin_probe(T0)  # no second upgrade


@pytest.mark.parametrize(
    "packet",
    [
        EnginePacket(T.PING),  # "2" without "probe"
        EnginePacket(T.PING, "other"),
        EnginePacket(T.MESSAGE, "hello"),
        EnginePacket(T.MESSAGE, b"bin"),
        EnginePacket(T.PONG, "probe"),
        EnginePacket(T.CLOSE),
        EnginePacket(T.NOOP),
    ],
)
def test_unexpected_packet_during_probe_aborts(packet: EnginePacket) -> None:
    s = upgrading()
    with pytest.raises(RemoteProtocolError) as info:
        s.receive_probe(packet)
    assert info.value.hint == "Bad request"
    assert state(s) is SessionState.OPEN
    assert s.transport is Transport.POLLING
    assert s.probe_deadline is None
    assert not s.closed  # the session keeps polling


def test_probe_packet_when_not_upgrading_is_refused() -> None:
    with pytest.raises(RemoteProtocolError):
        session().receive_probe(EnginePacket(T.PING, "probe"))


@pytest.mark.parametrize(
    ("transport", "settings"),
    [
        (Transport.WEBSOCKET, {}),
        (Transport.POLLING, {"allow_upgrades": False}),
        (Transport.POLLING, {"transports": ("polling",)}),
    ],
)
def test_begin_probe_refused(transport: Transport, settings: dict[str, Any]) -> None:
    s = session(transport, CONFIG.replace(**settings))
    with pytest.raises(RemoteProtocolError):
        s.begin_probe(T0)
    assert state(s) is SessionState.OPEN


def test_begin_probe_refused_while_upgrading_or_closed() -> None:
    s = upgrading()
    with pytest.raises(RemoteProtocolError):
        s.begin_probe(T0)
    s.close(CloseReason.FORCED_CLOSE)
    with pytest.raises(RemoteProtocolError):
        s.begin_probe(T0)


def test_probe_expired() -> None:
    s = upgrading(T0)
    assert not s.probe_expired(T0 + 9.9)
    assert state(s) is SessionState.UPGRADING
    assert s.probe_expired(T0 + 10)
    assert state(s) is SessionState.OPEN
    assert s.transport is Transport.POLLING
    assert not s.probe_expired(T0 + 100)  # reported once
    s.begin_probe(T0 + 100)  # a new probe may start
    assert state(s) is SessionState.UPGRADING


def test_abort_probe_keeps_polling() -> None:
    s = upgrading()
    s.abort_probe()
    assert state(s) is SessionState.OPEN
    assert s.transport is Transport.POLLING


def test_heartbeat_runs_during_probe() -> None:
    s = upgrading(T0)
    assert s.tick(T0 + 25) is Heartbeat.SEND_PING
    assert s.tick(T0 + 45) is Heartbeat.TIMED_OUT
    assert s.closed


# -- close -----------------------------------------------------------------------------------
def test_close_packet() -> None:
    s = session()
    assert s.receive_control(EnginePacket(T.CLOSE), T0) == Closed(CloseReason.TRANSPORT_CLOSE)
    assert s.closed
    assert s.close_reason is CloseReason.TRANSPORT_CLOSE
    assert Closed(CloseReason.TRANSPORT_CLOSE).reason == "transport close"


def test_close_twice() -> None:
    s = session()
    s.tick(T0 + 25)
    assert s.close(CloseReason.SERVER_SHUTDOWN) == Closed(CloseReason.SERVER_SHUTDOWN)
    assert s.close(CloseReason.FORCED_CLOSE) is None
    assert s.close_reason is CloseReason.SERVER_SHUTDOWN
    assert s.pong_deadline is None
    assert s.receive_control(EnginePacket(T.CLOSE), T0) is None


def test_close_during_probe_clears_the_probe() -> None:
    s = upgrading()
    s.close(CloseReason.FORCED_CLOSE)
    assert state(s) is SessionState.CLOSED
    assert s.probe_deadline is None


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (CloseReason.TRANSPORT_CLOSE, "transport close"),
        (CloseReason.TRANSPORT_ERROR, "transport error"),
        (CloseReason.PING_TIMEOUT, "ping timeout"),
        (CloseReason.PARSE_ERROR, "parse error"),
        (CloseReason.FORCED_CLOSE, "forced close"),
        (CloseReason.SERVER_SHUTDOWN, "server shutting down"),
    ],
)
def test_close_reasons_use_socket_io_words(reason: CloseReason, text: str) -> None:
    assert reason == text
