"""The hub over RecordingChannels: connect, dispatch, acks, rooms, broadcast, backpressure."""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

import pytest

from jupyter_sio.config import HubConfig
from jupyter_sio.exceptions import (
    AckTimeout,
    BufferFull,
    ConfigError,
    ConnectionRefused,
    Disconnected,
)
from jupyter_sio.hub import Hub, Socket
from jupyter_sio.hub.delivery import DONE, Pending
from jupyter_sio.protocol.sio_codec import SocketPacket, SocketPacketType
from tests.helpers import RecordingChannel, connect, feed, open_client, settle

T = SocketPacketType
P = SocketPacket


def event(name: str, *args: Any, ns: str = "/", ack: int | None = None) -> SocketPacket:
    return P(T.EVENT, ns, [name, *args], ack)


# -- connect ---------------------------------------------------------------------------------
@pytest.mark.parametrize("namespace", ["/", "/admin"])
async def test_connect_answers_with_sid(namespace: str) -> None:
    hub = Hub()
    hub.of(namespace)
    client, channel = open_client(hub)
    feed(client, P(T.CONNECT, namespace))
    await settle()
    socket = client.sockets[namespace]
    assert channel.packets == [P(T.CONNECT, namespace, {"sid": socket.id})]
    assert hub.get_socket(socket.id, namespace) is socket
    assert socket.rooms == {socket.id}
    assert socket.connected
    assert hub.clients[channel.sid] is client


async def test_connect_passes_auth_to_handler_and_middleware() -> None:
    hub = Hub()
    seen: list[Any] = []
    hub.use(lambda socket, auth: seen.append(("mw", auth)))

    @hub.on("connect")
    def on_connect(socket: Socket, auth: dict[str, Any]) -> None:
        seen.append(("connect", auth, socket.auth))

    await connect(hub, auth={"token": "x"})
    assert seen == [("mw", {"token": "x"}), ("connect", {"token": "x"}, {"token": "x"})]


async def test_connect_handler_with_socket_only() -> None:
    hub = Hub()
    seen: list[Socket] = []
    hub.on("connect", lambda socket: seen.append(socket))
    _, _, socket = await connect(hub)
    assert seen == [socket]


async def test_async_middleware_runs_in_order() -> None:
    hub = Hub()
    order: list[str] = []

    async def first(socket: Socket, auth: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        order.append("first")

    hub.use(first)
    hub.use(lambda s, a: order.append("second"))
    await connect(hub)
    assert order == ["first", "second"]


@pytest.mark.parametrize(
    ("exc", "payload"),
    [
        (ConnectionRefused("no token", {"code": 7}), {"message": "no token", "data": {"code": 7}}),
        (ConnectionRefused("no token"), {"message": "no token"}),
        (ConnectionRefused(), {"message": "Connection refused"}),
        (
            ConnectionRefusedError("no token", {"code": 7}),
            {"message": "no token", "data": {"code": 7}},
        ),
        (ConnectionRefusedError("no token"), {"message": "no token"}),
        (ConnectionRefusedError(), {"message": "Connection refused"}),
    ],
    ids=["sio-data", "sio", "sio-default", "builtin-data", "builtin", "builtin-default"],
)
@pytest.mark.parametrize("where", ["middleware", "async-middleware", "connect-handler"])
async def test_refusal_sends_connect_error(
    exc: Exception, payload: dict[str, Any], where: str
) -> None:
    hub = Hub()
    disconnects: list[str] = []

    def refuse(socket: Socket, auth: dict[str, Any]) -> None:
        raise exc

    async def refuse_async(socket: Socket, auth: dict[str, Any]) -> None:
        raise exc

    if where == "middleware":
        hub.use(refuse)
    elif where == "async-middleware":
        hub.use(refuse_async)
    else:
        hub.on("connect", refuse)
    hub.on("disconnect", lambda s, reason: disconnects.append(reason))
    client, channel = open_client(hub)
    client.on_message("0")
    await settle()
    assert channel.packets == [P(T.CONNECT_ERROR, "/", payload)]
    assert client.sockets == {}
    assert hub.default.sockets == {}
    assert hub.default.adapter.rooms == {}
    assert disconnects == []  # never connected, so never disconnected


@pytest.mark.parametrize("is_async", [False, True])
async def test_connect_handler_returning_false_refuses(is_async: bool) -> None:
    hub = Hub()

    async def async_no(socket: Socket) -> bool:
        return False

    hub.on("connect", async_no if is_async else (lambda socket: False))
    client, channel = open_client(hub)
    client.on_message("0")
    await settle()
    assert channel.packets == [
        P(T.CONNECT_ERROR, "/", {"message": "Connection refused by the server"})
    ]
    assert client.sockets == {}


async def test_failing_connect_handler_is_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub()

    def broken(socket: Socket) -> None:
        raise RuntimeError("boom")

    hub.on("connect", broken)
    client, channel = open_client(hub)
    with caplog.at_level(logging.ERROR, "jupyter_sio.hub"):
        client.on_message("0")
        await settle()
    assert channel.packets == [P(T.CONNECT_ERROR, "/", {"message": "Internal server error"})]
    assert "boom" in caplog.text


@pytest.mark.parametrize("namespace", ["/nope", "/admin/x"])
async def test_unknown_namespace(namespace: str) -> None:
    hub = Hub()
    hub.of("/admin")
    client, channel = open_client(hub)
    feed(client, P(T.CONNECT, namespace))
    await settle()
    assert channel.packets == [P(T.CONNECT_ERROR, namespace, {"message": "Invalid namespace"})]
    assert namespace not in hub.namespaces


async def test_emit_from_connect_handler_reaches_the_client() -> None:
    hub = Hub()
    hub.on("connect", lambda socket: socket.emit("hello", 1))
    client, channel = open_client(hub)
    client.on_message("0")
    await settle()
    # socket.io's order: the CONNECT packet, then what the connect handler emitted
    assert channel.packets[0].type is T.CONNECT
    assert channel.packets[1] == event("hello", 1)


async def test_disconnect_inside_connect_handler_sends_connect_then_disconnect() -> None:
    hub = Hub()
    hub.on("connect", lambda socket: socket.disconnect())
    client, channel = open_client(hub)
    client.on_message("0")
    await settle()
    assert [p.type for p in channel.packets] == [T.CONNECT, T.DISCONNECT]
    assert client.sockets == {}


async def test_second_connect_to_same_namespace_is_ignored() -> None:
    hub = Hub()
    client, channel, socket = await connect(hub)
    client.on_message("0")
    await settle()
    assert channel.packets == []
    assert client.sockets == {"/": socket}


async def test_duplicate_connect_in_one_read_makes_one_socket() -> None:
    # Both CONNECTs arrive before admission runs (one WebSocket read or one polling POST).
    # Every socket the hub creates must belong to the client, or it is never disconnected.
    hub = Hub()
    client, channel = open_client(hub)
    client.on_message("0")
    client.on_message("0")
    await settle()
    assert len(hub.default.sockets) == 1
    assert [p.type for p in channel.packets] == [T.CONNECT]
    hub.client_closed(client, "transport close")
    assert hub.default.sockets == {}
    assert hub.default.adapter.sids == {}


async def test_refused_client_gets_no_broadcast_sent_during_its_middleware() -> None:
    # socket.io only adds a socket to its namespace once the middleware accepted it, so a
    # refused client never receives what the namespace broadcast in the meantime.
    hub = Hub()
    gate = asyncio.Event()

    async def slow_auth(socket: Socket, auth: dict[str, Any]) -> None:
        await gate.wait()
        raise ConnectionRefused("bad token")

    hub.use(slow_auth)
    client, channel = open_client(hub)
    client.on_message("0")
    await settle()
    hub.emit("secret", "for members only")
    gate.set()
    await settle()
    assert channel.events("secret") == []
    assert channel.packets == [P(T.CONNECT_ERROR, "/", {"message": "bad token"})]


async def test_refused_client_events_sent_before_refusal_run_no_handler() -> None:
    # socket.io's Client.ondecoded drops packets for a namespace it has not joined yet, so
    # a client cannot reach handlers before (or without) passing the middleware.
    hub = Hub()
    gate = asyncio.Event()
    calls: list[Any] = []

    async def slow_auth(socket: Socket, auth: dict[str, Any]) -> None:
        await gate.wait()
        raise ConnectionRefused("bad token")

    hub.use(slow_auth)
    hub.on("delete_everything", lambda socket: calls.append(socket))
    client, _channel = open_client(hub)
    client.on_message("0")
    await settle()
    feed(client, event("delete_everything"))
    gate.set()
    await settle()
    assert calls == []


async def test_connect_timeout_closes_a_client_without_namespace() -> None:
    hub = Hub(connect_timeout=0.01)
    _client, channel = open_client(hub)
    while not channel.closed:
        await asyncio.sleep(0.005)
    assert channel.closed == ["forced close"]


async def test_connect_timeout_spares_a_connected_client() -> None:
    hub = Hub(connect_timeout=0.01)
    client, channel, _ = await connect(hub)
    assert client._connect_timer is None  # cancelled on admission
    assert channel.closed == []


# -- dynamic namespaces -----------------------------------------------------------------------
async def test_dynamic_namespace_by_regex() -> None:
    hub = Hub()
    dyn = hub.of(re.compile(r"/room-\d+"))
    got: list[tuple[str, Any]] = []
    dyn.on("ev", lambda socket, x: got.append((socket.namespace.name, x)))
    _, _, s1 = await connect(hub, "/room-1")
    client2, _, _ = await connect(hub, "/room-22")
    feed(s1.client, event("ev", 1, ns="/room-1"))
    feed(client2, event("ev", 2, ns="/room-22"))
    assert got == [("/room-1", 1), ("/room-22", 2)]
    assert {ns.name for ns in dyn.children} == {"/room-1", "/room-22"}

    client3, channel3 = open_client(hub)
    feed(client3, P(T.CONNECT, "/room-x"))  # fullmatch only
    await settle()
    assert channel3.packets == [P(T.CONNECT_ERROR, "/room-x", {"message": "Invalid namespace"})]


async def test_dynamic_namespace_by_predicate() -> None:
    hub = Hub()
    dyn = hub.of(lambda name, auth: name.startswith("/team-") and auth.get("ok") is True)
    dyn.use(lambda socket, auth: socket.data.update(team=socket.namespace.name))
    _, _, socket = await connect(hub, "/team-a", auth={"ok": True})
    assert socket.data == {"team": "/team-a"}

    client, channel = open_client(hub)
    feed(client, P(T.CONNECT, "/team-b", {"ok": False}))
    await settle()
    assert channel.packets == [P(T.CONNECT_ERROR, "/team-b", {"message": "Invalid namespace"})]


async def test_failing_predicate_is_logged_and_refuses(caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub()

    def predicate(name: str, auth: dict[str, Any]) -> bool:
        raise KeyError("oops")

    hub.of(predicate)
    client, channel = open_client(hub)
    with caplog.at_level(logging.ERROR, "jupyter_sio.hub"):
        feed(client, P(T.CONNECT, "/x"))
        await settle()
    assert channel.packets[0].type is T.CONNECT_ERROR
    assert "predicate" in caplog.text


async def test_dynamic_emit_reaches_every_child() -> None:
    hub = Hub()
    dyn = hub.of(re.compile(r"/d\d"))
    _, ch1, _ = await connect(hub, "/d1")
    _, ch2, _ = await connect(hub, "/d2")
    dyn.emit("tick", 1)
    assert ch1.packets == [event("tick", 1, ns="/d1")]
    assert ch2.packets == [event("tick", 1, ns="/d2")]


# -- events and acks -------------------------------------------------------------------------
async def test_sync_handler_gets_args() -> None:
    hub = Hub()
    got: list[Any] = []
    hub.on("ev", lambda socket, *args: got.append((socket, args)))
    client, _, socket = await connect(hub)
    feed(client, event("ev", 1, {"a": [2]}, b"\x03"))
    assert got == [(socket, (1, {"a": [2]}, b"\x03"))]


@pytest.mark.parametrize(
    ("result", "ack_args"),
    [
        ("ok", ["ok"]),
        (None, []),
        ((1, "two"), [1, "two"]),
        ((), []),
        ([1, 2], [[1, 2]]),
        ({"a": 1}, [{"a": 1}]),
        (b"\x00\x01", [b"\x00\x01"]),
        ((b"x", {"y": b"z"}), [b"x", {"y": b"z"}]),
    ],
)
@pytest.mark.parametrize("is_async", [False, True])
async def test_return_value_answers_ack(result: Any, ack_args: list[Any], is_async: bool) -> None:
    hub = Hub()

    async def async_handler(socket: Socket, *args: Any) -> Any:
        await asyncio.sleep(0)
        return result

    hub.on("ask", async_handler if is_async else (lambda socket, *args: result))
    client, channel, _ = await connect(hub)
    feed(client, event("ask", 1, ack=13))
    await settle()
    assert channel.packets == [P(T.ACK, "/", ack_args, 13)]


async def test_no_ack_without_ack_id() -> None:
    hub = Hub()
    hub.on("ev", lambda socket: "ignored")
    client, channel, _ = await connect(hub)
    feed(client, event("ev"))
    await settle()
    assert channel.packets == []


async def test_ack_in_other_namespace() -> None:
    hub = Hub()
    hub.on("ask", lambda socket: "from admin", namespace="/admin")
    client, channel, _ = await connect(hub, "/admin")
    feed(client, event("ask", ns="/admin", ack=0))
    assert channel.packets == [P(T.ACK, "/admin", ["from admin"], 0)]


async def test_catch_all_gets_event_name() -> None:
    hub = Hub()
    caught: list[Any] = []
    hub.on("known", lambda socket, x: caught.append(("known", x)))
    hub.on("*", lambda socket, name, *args: caught.append(("*", socket, name, args)))
    client, _, socket = await connect(hub)
    feed(client, event("known", 1))
    feed(client, event("other", 2, 3))
    assert caught == [("known", 1), ("*", socket, "other", (2, 3))]


async def test_catch_all_answers_ack() -> None:
    hub = Hub()
    hub.on("*", lambda socket, name, *args: name.upper())
    client, channel, _ = await connect(hub)
    feed(client, event("hey", ack=4))
    assert channel.packets == [P(T.ACK, "/", ["HEY"], 4)]


async def test_event_without_handler_and_without_ack_is_ignored() -> None:
    hub = Hub()
    client, channel, socket = await connect(hub)
    feed(client, event("nobody", 1))
    await settle()
    assert channel.packets == []
    assert socket.connected


async def test_unhandled_ack_is_answered_with_an_error() -> None:
    hub = Hub()
    client, channel, _ = await connect(hub)
    feed(client, event("nobody", ack=1))
    (packet,) = channel.packets
    assert (packet.type, packet.id) == (T.ACK, 1)
    (answer,) = packet.data
    assert answer["error"] == "unhandled"
    assert answer["event"] == "nobody"


async def test_unhandled_ack_left_to_time_out_when_configured() -> None:
    hub = Hub(answer_unhandled=False)
    client, channel, socket = await connect(hub)
    feed(client, event("nobody", ack=1))
    await settle()
    assert channel.packets == []
    assert socket.connected


async def test_event_for_unconnected_namespace_is_ignored() -> None:
    hub = Hub()
    calls: list[Any] = []
    hub.on("ev", lambda socket: calls.append(socket), namespace="/admin")
    client, channel, _ = await connect(hub)
    feed(client, event("ev", ns="/admin"))
    assert calls == []
    assert channel.closed == []


async def test_binary_event_from_client() -> None:
    hub = Hub()
    got: list[Any] = []
    hub.on("up", lambda socket, meta, blob: got.append((meta, blob)))
    client, _, _ = await connect(hub)
    client.on_message('51-["up",{"n":1},{"_placeholder":true,"num":0}]')
    assert got == []
    client.on_message(b"\x00\xff")
    assert got == [({"n": 1}, b"\x00\xff")]


@pytest.mark.parametrize(
    "messages",
    [
        ["garbage"],
        ['2["connect"]'],
        [b"\x01"],
        ['52-["a",1]', '2["b"]'],
        ["5" + "1" * 3 + '-["a"]'],
    ],
)
async def test_protocol_error_closes_the_connection(messages: list[str | bytes]) -> None:
    hub = Hub()
    client, channel, _ = await connect(hub)
    for message in messages:
        client.on_message(message)
    assert channel.closed == ["parse error"]


async def test_attachment_limits_follow_config() -> None:
    hub = Hub(max_attachments=1, max_payload=4)
    client, channel, _ = await connect(hub)
    client.on_message('51-["a",{"_placeholder":true,"num":0}]')
    client.on_message(b"12345")
    assert channel.closed == ["parse error"]


@pytest.mark.parametrize(
    "text",
    ["2" + "1" * 5000 + '["ev"]', '2\u00b2["ev"]', "2" + "[" * 100_000],
    ids=["huge-ack-id", "superscript-ack-id", "deep-nesting"],
)
async def test_hostile_text_closes_the_connection_instead_of_raising(text: str) -> None:
    hub = Hub()
    client, channel, _ = await connect(hub)
    client.on_message(text)  # must not raise into the transport
    assert channel.closed == ["parse error"]


# -- handler failures -----------------------------------------------------------------------
@pytest.mark.parametrize("is_async", [False, True])
async def test_handler_exception_is_logged_and_socket_survives(
    is_async: bool, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub()

    def sync_fail(socket: Socket) -> None:
        raise RuntimeError("handler boom")

    async def async_fail(socket: Socket) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("handler boom")

    hub.on("fail", async_fail if is_async else sync_fail)
    hub.on("ok", lambda socket: "fine")
    client, channel, socket = await connect(hub)
    with caplog.at_level(logging.ERROR, "jupyter_sio.hub"):
        feed(client, event("fail", ack=1))
        feed(client, event("ok", ack=2))
        await settle()
    assert "handler boom" in caplog.text
    assert socket.connected
    assert channel.closed == []
    assert channel.packets == [P(T.ACK, "/", ["fine"], 2)]  # no answer for the failed one


async def test_unserializable_return_value_does_not_raise_into_the_transport(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A handler bug (returning a value JSON cannot carry) must be logged like any other
    # handler exception, not raised out of Client.on_message into the transport.
    hub = Hub()
    hub.on("ask", lambda socket: object())
    client, _, socket = await connect(hub)
    with caplog.at_level(logging.ERROR, "jupyter_sio.hub"):
        feed(client, event("ask", ack=1))
    assert socket.connected


async def test_unserializable_async_return_value_does_not_stall_the_socket() -> None:
    # With in_order (the default) an exception escaping _run_in_order leaves the socket's
    # queue set, so every later event of that socket would wait forever.
    hub = Hub()

    async def bad(socket: Socket) -> object:
        return object()

    hub.on("bad", bad)
    hub.on("ok", lambda socket: "fine")
    client, channel, _ = await connect(hub)
    logging.getLogger("jupyter_sio.hub").disabled = True
    try:
        feed(client, event("bad", ack=1))
        await settle()
        feed(client, event("ok", ack=2))
        await settle()
    finally:
        logging.getLogger("jupyter_sio.hub").disabled = False
    assert P(T.ACK, "/", ["fine"], 2) in channel.packets


# -- ordering ---------------------------------------------------------------------------------
async def _two_slow_events(in_order: bool) -> list[str]:
    hub = Hub(in_order=in_order)
    log: list[str] = []
    gates = {"a": asyncio.Event(), "b": asyncio.Event()}

    @hub.on("slow")
    async def slow(socket: Socket, name: str) -> str:
        log.append(f"start {name}")
        await gates[name].wait()
        log.append(f"end {name}")
        return name

    client, channel, _ = await connect(hub)
    feed(client, event("slow", "a", ack=1))
    feed(client, event("slow", "b", ack=2))
    await settle()
    gates["b"].set()
    await settle()
    gates["a"].set()
    await settle()
    acks = [p.id for p in channel.packets if p.type is T.ACK]
    log.append(f"acks {acks}")
    return log


async def test_handlers_of_one_socket_run_in_order() -> None:
    assert await _two_slow_events(in_order=True) == [
        "start a",
        "end a",
        "start b",
        "end b",
        "acks [1, 2]",
    ]


async def test_handlers_overlap_without_in_order() -> None:
    assert await _two_slow_events(in_order=False) == [
        "start a",
        "start b",
        "end b",
        "end a",
        "acks [2, 1]",
    ]


async def test_sync_handler_waits_behind_async_one_in_order() -> None:
    hub = Hub()
    log: list[str] = []
    gate = asyncio.Event()

    @hub.on("slow")
    async def slow(socket: Socket) -> None:
        await gate.wait()
        log.append("slow")

    hub.on("fast", lambda socket: log.append("fast"))
    client, _, _ = await connect(hub)
    feed(client, event("slow"))
    feed(client, event("fast"))
    await settle()
    assert log == []
    gate.set()
    await settle()
    assert log == ["slow", "fast"]
    feed(client, event("fast"))  # the queue is idle again: runs at once
    assert log == ["slow", "fast", "fast"]


async def test_sockets_do_not_wait_for_each_other() -> None:
    hub = Hub()
    log: list[str] = []
    gate = asyncio.Event()

    @hub.on("slow")
    async def slow(socket: Socket) -> None:
        await gate.wait()

    hub.on("fast", lambda socket: log.append(socket.id))
    c1, _, _ = await connect(hub)
    c2, _, s2 = await connect(hub)
    feed(c1, event("slow"))
    feed(c2, event("fast"))
    assert log == [s2.id]
    gate.set()
    await settle()


async def test_failing_async_handler_does_not_stall_the_queue() -> None:
    hub = Hub()
    log: list[str] = []

    @hub.on("fail")
    async def fail(socket: Socket) -> None:
        await asyncio.sleep(0)
        raise ValueError("x")

    hub.on("next", lambda socket: log.append("next"))
    client, _, _ = await connect(hub)
    logging.getLogger("jupyter_sio.hub").disabled = True
    try:
        feed(client, event("fail"))
        feed(client, event("next"))
        await settle()
    finally:
        logging.getLogger("jupyter_sio.hub").disabled = False
    assert log == ["next"]


# -- rooms and broadcast ----------------------------------------------------------------------
async def three(hub: Hub) -> list[tuple[Any, RecordingChannel, Socket]]:
    return [await connect(hub) for _ in range(3)]


async def test_join_leave_and_room_broadcast() -> None:
    hub = Hub()
    (_, c1, s1), (_, c2, s2), (_, c3, s3) = await three(hub)
    s1.join("r")
    s2.join(["r", "other"])
    assert s2.rooms == {s2.id, "r", "other"}
    hub.to("r").emit("news", 1)
    assert (c1.events(), c2.events(), c3.events()) == ([["news", 1]], [["news", 1]], [])
    s2.leave("r")
    hub.to("r").emit("news", 2)
    assert c2.events() == [["news", 1]]
    assert c1.events() == [["news", 1], ["news", 2]]
    assert s3.rooms == {s3.id}


async def test_emit_to_everyone_and_to_a_sid() -> None:
    hub = Hub()
    (_, c1, s1), (_, c2, _), (_, c3, _) = await three(hub)
    hub.emit("all", 0)
    hub.to(s1.id).emit("one", 1)
    assert c1.events() == [["all", 0], ["one", 1]]
    assert c2.events() == c3.events() == [["all", 0]]


async def test_socket_to_excludes_sender() -> None:
    hub = Hub()
    (_, c1, s1), (_, c2, s2), (_, c3, s3) = await three(hub)
    for s in (s1, s2, s3):
        s.join("r")
    s1.to("r").emit("chat", "hi")
    s1.broadcast.emit("everyone-else")
    assert c1.events() == []
    assert c2.events() == c3.events() == [["chat", "hi"], ["everyone-else"]]


async def test_union_of_rooms_sends_once_per_socket() -> None:
    hub = Hub()
    (_, c1, s1), (_, c2, s2), (_, c3, s3) = await three(hub)
    s1.join("a", "b")
    s2.join("a")
    s3.join("b")
    hub.to("a").to("b").emit("u")
    hub.to("a", "b").emit("v")
    hub.emit("w", to=["a", "b"])
    for channel in (c1, c2, c3):
        assert channel.events() == [["u"], ["v"], ["w"]]


@pytest.mark.parametrize("how", ["operator", "keyword", "sid"])
async def test_exclude(how: str) -> None:
    hub = Hub()
    (_, c1, s1), (_, c2, s2), (_, c3, s3) = await three(hub)
    for s in (s1, s2, s3):
        s.join("r")
    s2.join("muted")
    if how == "operator":
        hub.to("r").exclude("muted").emit("x")
    elif how == "keyword":
        hub.emit("x", to="r", exclude="muted")
    else:
        hub.exclude(s2.id).emit("x")
    assert c2.events() == []
    assert c1.events() == c3.events() == [["x"]]


async def test_broadcast_is_encoded_once() -> None:
    hub = Hub()
    channels = [c for _, c, _ in await three(hub)]
    hub.emit("big", {"data": list(range(100))}, b"\x01")
    first = channels[0].sent[0]
    assert all(c.sent[0] is first for c in channels)
    assert len(first.attachments) == 1


async def test_namespaces_are_separate() -> None:
    hub = Hub()
    hub.of("/admin")
    _, c_root, s_root = await connect(hub)
    _, c_admin, s_admin = await connect(hub, "/admin")
    s_root.join("r")
    s_admin.join("r")
    hub.of("/admin").to("r").emit("x")
    hub.emit("y", namespace="/admin")
    assert c_root.packets == []
    assert c_admin.packets == [event("x", ns="/admin"), event("y", ns="/admin")]


async def test_server_side_room_operations() -> None:
    hub = Hub()
    (_, c1, s1), (_, c2, s2), (_, _, s3) = await three(hub)
    s1.join("a")
    s2.join("a")
    await hub.to("a").join("b")
    assert {s.id for s in await hub.to("b").fetch_sockets()} == {s1.id, s2.id}
    await hub.to("b").exclude(s1.id).leave("b")
    assert {s.id for s in hub.to("b").sockets()} == {s1.id}
    await hub.to("a").disconnect()
    assert not s1.connected and not s2.connected and s3.connected
    assert c1.packets == c2.packets == [P(T.DISCONNECT, "/")]


async def test_stats() -> None:
    hub = Hub()
    (_, _, s1), _, _ = await three(hub)
    s1.join("r")
    assert hub.stats() == {
        "clients": 3,
        "namespaces": {"/": {"sockets": 3, "rooms": 4, "deliveries": 0, "retained": 0}},
        "adapter": {"kind": "memory", "state": "connected"},
    }
    detail = hub.stats(detail=True)
    assert detail["rooms"] == {"/": {"r": 1}}
    assert len(detail["connections"]) == 3


# -- emit flags --------------------------------------------------------------------------------
async def test_volatile_and_keyed_emits_carry_their_flags() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    socket.emit("a", volatile=True)
    socket.emit("b", key="pos")
    hub.volatile.emit("c")
    hub.emit("d", volatile=True)
    hub.emit("e", key="k")
    hub.to(socket.id).volatile.emit("f", key="k2")
    socket.emit("g")
    flags = [(o.volatile, o.key) for o in channel.sent]
    assert flags == [
        (True, None),
        (False, "pos"),
        (True, None),
        (True, None),
        (False, "k"),
        (True, "k2"),
        (False, None),
    ]
    assert [p.data[0] for p in channel.packets] == list("abcdefg")


@pytest.mark.parametrize("name", ["connect", "disconnect", "connect_error", "newListener", 5])
async def test_reserved_event_names_cannot_be_emitted(name: Any) -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    with pytest.raises(ValueError):
        socket.emit(name)
    with pytest.raises(ValueError):
        hub.emit(name)
    assert channel.sent == []


async def test_send_is_a_message_event() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    socket.send("hi", 2)
    assert channel.events() == [["message", "hi", 2]]


async def test_emit_on_disconnected_socket_raises() -> None:
    hub = Hub()
    _, _, socket = await connect(hub)
    socket.disconnect()
    with pytest.raises(Disconnected):
        socket.emit("x")
    with pytest.raises(Disconnected):
        socket.call("x")


# -- backpressure ----------------------------------------------------------------------------
async def test_emit_with_room_is_done_at_once() -> None:
    hub = Hub()
    _, _, socket = await connect(hub)
    delivery = socket.emit("x")
    assert delivery is DONE
    await delivery
    assert hub.emit("y") is DONE


async def test_socket_emit_waits_for_room() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    channel.full = True
    delivery = socket.emit("x", 1)
    assert delivery is not DONE
    assert isinstance(delivery, Pending)
    assert not delivery.done()
    assert channel.sent == []
    channel.make_room()
    await delivery
    assert channel.events() == [["x", 1]]


async def test_broadcast_waits_for_room_on_full_channels_only() -> None:
    hub = Hub()
    (_, c1, _), (_, c2, _), _ = await three(hub)
    c2.full = True
    delivery = hub.emit("x")
    assert not delivery.done()
    assert c1.events() == [["x"]]
    await settle()
    assert not delivery.done()
    c2.make_room()
    await delivery
    assert c2.events() == [["x"]]
    assert c2.sent[0] is c1.sent[0]


async def test_a_stuck_recipient_never_fails_the_broadcast() -> None:
    """The stuck client's connection closes it (tests/transport); the emitter goes on."""
    hub = Hub()
    _, c1, _ = await connect(hub)
    _, c2, _ = await connect(hub)
    c1.full = True
    delivery = hub.emit("x")
    await settle()
    c1.fail_waiting(BufferFull("stuck"))
    await delivery
    assert c2.events() == [["x"]]


async def test_socket_emit_buffer_full_reaches_the_emitter() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    channel.full = True
    delivery = socket.emit("x")
    channel.fail_waiting(BufferFull("stuck"))
    with pytest.raises(BufferFull):
        await delivery


async def test_volatile_and_keyed_emits_never_wait() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    channel.full = True
    assert socket.emit("v", volatile=True) is DONE
    assert socket.emit("k", key="k") is DONE
    assert hub.volatile.emit("v2") is DONE
    assert len(channel.dropped) == 3


async def test_ack_answer_waits_for_room() -> None:
    hub = Hub()
    hub.on("ask", lambda socket: "yes")
    client, channel, _ = await connect(hub)
    channel.full = True
    feed(client, event("ask", ack=9))
    assert channel.sent == []
    channel.make_room()
    assert channel.packets == [P(T.ACK, "/", ["yes"], 9)]


# -- server → client acks (call) ---------------------------------------------------------------
async def test_call_resolves_with_the_client_ack() -> None:
    hub = Hub()
    client, channel, socket = await connect(hub)
    first = socket.call("q", 1)
    second = socket.call("q", 2)
    assert channel.packets == [event("q", 1, ack=1), event("q", 2, ack=2)]
    feed(client, P(T.ACK, "/", ["two"], 2))
    feed(client, P(T.ACK, "/", [1, 2], 1))
    assert await second == "two"
    assert await first == (1, 2)


@pytest.mark.parametrize(
    ("args", "result"), [([], None), ([5], 5), ([5, 6], (5, 6)), ([b"z"], b"z")]
)
async def test_call_result_shapes(args: list[Any], result: Any) -> None:
    hub = Hub()
    client, _, socket = await connect(hub)
    future = socket.call("q")
    feed(client, P(T.ACK, "/", args, 1))
    assert await future == result


async def test_call_times_out() -> None:
    hub = Hub()
    _, _, socket = await connect(hub)
    with pytest.raises(AckTimeout, match="'q'"):
        await socket.call("q", timeout=0.02)
    assert socket._acks == {}


async def test_call_default_timeout_from_config() -> None:
    hub = Hub(ack_timeout=0.02)
    _, _, socket = await connect(hub)
    with pytest.raises(AckTimeout):
        await socket.call("q")


async def test_late_or_unknown_ack_is_ignored() -> None:
    hub = Hub()
    client, channel, socket = await connect(hub)
    with pytest.raises(AckTimeout):
        await socket.call("q", timeout=0.02)
    feed(client, P(T.ACK, "/", ["late"], 1))
    feed(client, P(T.ACK, "/", ["never asked"], 99))
    assert socket.connected
    assert channel.closed == []


@pytest.mark.parametrize("how", ["client-disconnect", "server-disconnect", "transport-close"])
async def test_call_fails_when_socket_goes_away(how: str) -> None:
    hub = Hub()
    client, _, socket = await connect(hub)
    future = socket.call("q", timeout=5)
    if how == "client-disconnect":
        feed(client, P(T.DISCONNECT, "/"))
        reason = "client namespace disconnect"
    elif how == "server-disconnect":
        socket.disconnect()
        reason = "server namespace disconnect"
    else:
        hub.client_closed(client, "transport close")
        reason = "transport close"
    with pytest.raises(Disconnected) as info:
        await future
    assert info.value.reason == reason


async def test_call_fails_when_its_packet_finds_no_room() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    channel.full = True
    future = socket.call("q", timeout=5)
    channel.fail_waiting(BufferFull("stuck"))
    with pytest.raises(BufferFull):
        await future


async def test_broadcast_call_gathers_per_socket_results() -> None:
    hub = Hub()
    (cl1, c1, s1), (cl2, c2, s2), (_, c3, s3) = await three(hub)
    for s in (s1, s2, s3):
        s.join("r")
    task = asyncio.ensure_future(hub.to("r").call("vote", timeout=0.05))
    await settle()
    assert c1.packets == c2.packets == c3.packets == [event("vote", ack=1)]
    feed(cl1, P(T.ACK, "/", ["yes"], 1))
    feed(cl2, P(T.ACK, "/", [], 1))
    results = await task
    assert set(results) == {s1.id, s2.id, s3.id}
    assert results[s1.id] == "yes"
    assert results[s2.id] is None
    assert isinstance(results[s3.id], AckTimeout)


# -- disconnect ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("client", "client namespace disconnect"),
        ("server", "server namespace disconnect"),
        ("transport", "transport close"),
        ("ping", "ping timeout"),
    ],
)
@pytest.mark.parametrize("is_async", [False, True])
async def test_disconnect_handler_gets_the_reason(how: str, reason: str, is_async: bool) -> None:
    hub = Hub()
    got: list[tuple[str, str, bool, set[str]]] = []

    def record(socket: Socket, why: str) -> None:
        got.append((socket.id, why, socket.connected, set(hub.default.adapter.rooms)))

    async def async_record(socket: Socket, why: str) -> None:
        record(socket, why)

    hub.on("disconnect", async_record if is_async else record)
    client, channel, socket = await connect(hub)
    socket.join("r")
    if how == "client":
        feed(client, P(T.DISCONNECT, "/"))
    elif how == "server":
        socket.disconnect()
    else:
        hub.client_closed(client, reason)
    await settle()
    assert got == [(socket.id, reason, False, set())]  # gone from every room
    assert client.sockets == {}
    assert hub.default.sockets == {}
    if how == "server":
        assert channel.packets == [P(T.DISCONNECT, "/")]
        assert channel.closed == []
    if how == "transport":
        assert channel.sid not in hub.clients


async def test_disconnect_runs_once() -> None:
    hub = Hub()
    reasons: list[str] = []
    hub.on("disconnect", lambda socket, why: reasons.append(why))
    client, channel, socket = await connect(hub)
    socket.disconnect()
    socket.disconnect()
    feed(client, P(T.DISCONNECT, "/"))
    hub.client_closed(client, "transport close")
    assert reasons == ["server namespace disconnect"]
    assert channel.packets == [P(T.DISCONNECT, "/")]


async def test_disconnect_with_close_closes_the_connection() -> None:
    hub = Hub()
    _, channel, socket = await connect(hub)
    socket.disconnect(close=True)
    assert channel.closed == ["forced close"]


async def test_transport_close_disconnects_every_namespace() -> None:
    hub = Hub()
    reasons: list[tuple[str, str]] = []
    for ns in ("/", "/admin"):
        hub.on("disconnect", lambda s, why: reasons.append((s.namespace.name, why)), namespace=ns)
    client, _, _ = await connect(hub)
    feed(client, P(T.CONNECT, "/admin"))
    await settle()
    hub.client_closed(client, "ping timeout")
    assert sorted(reasons) == [("/", "ping timeout"), ("/admin", "ping timeout")]


async def test_client_disconnect_from_one_namespace_keeps_the_other() -> None:
    hub = Hub()
    hub.of("/admin")
    client, channel, root = await connect(hub)
    feed(client, P(T.CONNECT, "/admin"))
    await settle()
    admin = client.sockets["/admin"]
    feed(client, P(T.DISCONNECT, "/admin"))
    assert not admin.connected
    assert root.connected
    assert channel.closed == []


async def test_failing_disconnect_handler_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub()

    def broken(socket: Socket, why: str) -> None:
        raise RuntimeError("disc boom")

    hub.on("disconnect", broken)
    client, _, socket = await connect(hub)
    with caplog.at_level(logging.ERROR, "jupyter_sio.hub"):
        feed(client, P(T.DISCONNECT, "/"))
    assert "disc boom" in caplog.text
    assert not socket.connected


async def test_hub_close_closes_every_client() -> None:
    hub = Hub()
    channels = [c for _, c, _ in await three(hub)]
    await hub.close()
    assert all(c.closed == ["server shutting down"] for c in channels)


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"ping_interval": 0}, "ping_interval"),
        ({"ping_interval": -1}, "ping_interval"),
        ({"ping_interval": math.nan}, "ping_interval"),
        ({"ping_timeout": 0}, "ping_timeout"),
        ({"upgrade_timeout": 0}, "upgrade_timeout"),
        ({"send_timeout": -0.5}, "send_timeout"),
        ({"ack_timeout": 0}, "ack_timeout"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"max_payload": 0}, "max_payload"),
        ({"max_payload": 1.5}, "max_payload"),
        ({"max_buffer_packets": 0}, "max_buffer_packets"),
        ({"max_buffer_bytes": -1}, "max_buffer_bytes"),
        ({"write_high_water": 0}, "write_high_water"),
        ({"max_attachments": -1}, "max_attachments"),
        ({"transports": ()}, "transports"),
        ({"transports": ("websocket", "sse")}, "transports"),
    ],
)
def test_config_rejects_bad_values(settings: dict[str, Any], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        HubConfig(**settings)
    with pytest.raises(ConfigError, match=name):
        Hub(**settings)
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize("name", ["ping_interval", "ping_timeout"])
def test_config_rejects_infinite_heartbeat(name: str) -> None:
    # pingInterval / pingTimeout travel in the OPEN packet as integer milliseconds: an
    # infinite value is impossible there (EngineSession.open_packet would raise OverflowError).
    with pytest.raises(ConfigError, match=name):
        settings: dict[str, Any] = {name: math.inf}
        HubConfig(**settings)


@pytest.mark.parametrize("name", ["pingInterval", "ping_intervall", "maxHttpBufferSize"])
def test_config_misspelled_keyword_is_a_type_error(name: str) -> None:
    settings: dict[str, Any] = {name: 5}
    with pytest.raises(TypeError, match=name):
        HubConfig(**settings)
    with pytest.raises(TypeError, match=name):
        Hub(**settings)
    with pytest.raises(TypeError):
        HubConfig().replace(**settings)


def test_config_normalizes_sequences() -> None:
    config = HubConfig(transports=["websocket"], cors_allowed_origins=["https://a"])  # type: ignore[arg-type]
    assert config.transports == ("websocket",)
    assert config.cors_allowed_origins == ("https://a",)
    assert config.origin_allowed("https://a")
    assert not config.origin_allowed("https://b")
    assert HubConfig(cors_allowed_origins=("*",)).origin_allowed("https://b")


def test_hub_keyword_overrides() -> None:
    hub = Hub(ping_interval=5)
    assert hub.config.ping_interval == 5
    assert hub.config.ping_timeout == HubConfig().ping_timeout
    base = HubConfig(ping_timeout=3)
    hub = Hub(base, ping_interval=5)
    assert (hub.config.ping_interval, hub.config.ping_timeout) == (5, 3)
    assert Hub(base).config is base


def test_config_is_frozen() -> None:
    config = HubConfig()
    with pytest.raises(AttributeError):
        config.ping_interval = 1  # type: ignore[misc]
