"""The kernel link's session state machines, with the time passed in."""

from __future__ import annotations

import pytest

from jupyter_sio.exceptions import RemoteProtocolError
from jupyter_sio.protocol.link_codec import LinkFrame, LinkKind
from jupyter_sio.protocol.link_session import (
    LinkClientSession,
    LinkHeartbeat,
    LinkServerSession,
    LinkState,
    Welcome,
)

WELCOME = Welcome("sid1", 1000, 2000, 5.0, 3.0, (("/", "r"),))


def frame(kind: LinkKind, **header: object) -> LinkFrame:
    return LinkFrame(kind, dict(header))


def test_hub_side_needs_hello_first_then_opens() -> None:
    session = LinkServerSession(5, 3, now=0)
    with pytest.raises(RemoteProtocolError, match="before hello"):
        session.receive(frame(LinkKind.EMIT), 1)
    session = LinkServerSession(5, 3, now=0)
    session.receive(frame(LinkKind.HELLO, v=1), 1)
    session.welcomed()
    assert session.state is LinkState.OPEN
    session.receive(frame(LinkKind.EMIT), 2)
    with pytest.raises(RemoteProtocolError, match="hello on an open link"):
        session.receive(frame(LinkKind.HELLO, v=1), 3)


def test_hub_side_refuses_other_versions() -> None:
    with pytest.raises(RemoteProtocolError, match="version"):
        LinkServerSession(5, 3, now=0).receive(frame(LinkKind.HELLO, v=99), 0)


def test_hub_pings_each_interval_and_drops_a_silent_kernel() -> None:
    session = LinkServerSession(5, 3, now=0)
    session.receive(frame(LinkKind.HELLO, v=1), 0)
    session.welcomed()
    assert session.tick(4.9) is LinkHeartbeat.NOTHING
    assert session.deadline == 5
    assert session.tick(5) is LinkHeartbeat.SEND_PING
    session.receive(frame(LinkKind.PONG), 6)  # anything from the kernel counts
    assert session.tick(10) is LinkHeartbeat.SEND_PING
    assert session.tick(13.9) is LinkHeartbeat.NOTHING
    assert session.tick(14) is LinkHeartbeat.TIMED_OUT
    assert session.state is LinkState.CLOSED and session.close_reason == "ping timeout"
    with pytest.raises(RemoteProtocolError):
        session.receive(frame(LinkKind.PONG), 15)


def test_kernel_side_opens_on_welcome_and_times_out_a_silent_hub() -> None:
    session = LinkClientSession(now=0)
    assert session.deadline is None and not session.timed_out(100)
    with pytest.raises(RemoteProtocolError, match="before welcome"):
        LinkClientSession(now=0).receive(frame(LinkKind.EVENT), 0)
    session.receive(frame(LinkKind.NOTICE, type="x", message="y"), 0)  # allowed early
    welcome = session.receive(LinkFrame(LinkKind.WELCOME, WELCOME.header()), 1)
    assert welcome == WELCOME and session.open
    assert session.deadline == 9
    session.receive(frame(LinkKind.PING), 5)
    assert not session.timed_out(12.9)
    assert session.timed_out(13)
    with pytest.raises(RemoteProtocolError, match="welcome on an open link"):
        session.receive(LinkFrame(LinkKind.WELCOME, WELCOME.header()), 6)


def test_a_bad_welcome_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError, match="invalid welcome"):
        LinkClientSession(now=0).receive(frame(LinkKind.WELCOME, sid="x"), 0)


def test_request_ids_are_fresh() -> None:
    session = LinkServerSession(5, 3, now=0)
    assert [session.next_id() for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ping_interval", "nan"),  # float("nan") would switch the heartbeat off
        ("ping_interval", "inf"),
        ("ping_timeout", -1),
        ("ping_timeout", 0),
        ("ping_interval", True),
        ("max_payload", 1.0e300),  # int(1e999) would raise OverflowError
        ("max_payload", -5),
        ("max_message", "2000"),
        ("max_message", 0),
        ("sid", 5),
        ("rooms", {"/": "r"}),
        ("rooms", [["/", "r", "x"]]),
        ("rooms", [["/", 1]]),
        ("rooms", "ab"),
    ],
)
def test_every_welcome_field_is_checked(field: str, value: object) -> None:
    header = {**WELCOME.header(), field: value}
    with pytest.raises(RemoteProtocolError, match="invalid welcome"):
        Welcome.from_header(header)
    with pytest.raises(RemoteProtocolError, match="invalid welcome"):
        LinkClientSession(now=0).receive(LinkFrame(LinkKind.WELCOME, header), 0)


def test_welcome_accepts_integer_seconds() -> None:
    header = {**WELCOME.header(), "ping_interval": 5, "ping_timeout": 3}
    assert Welcome.from_header(header) == WELCOME


@pytest.mark.parametrize("version", [True, 1.0, "1", [1], None, 2])
def test_hello_version_must_be_the_integer(version: object) -> None:
    with pytest.raises(RemoteProtocolError, match="version"):
        LinkServerSession(5, 3, now=0).receive(frame(LinkKind.HELLO, v=version), 0)
