"""The bounded per-connection outbound buffer and its reliable / volatile / keyed policies."""

from __future__ import annotations

import pytest

from jupyter_sio.protocol.frames import PING, Outgoing
from jupyter_sio.protocol.outbox import Outbox, PushResult


def out(n: int = 10, *, key: str | None = None, volatile: bool = False, tag: str = "") -> Outgoing:
    """An Outgoing of exactly ``n`` bytes."""
    text = ("4" + tag).ljust(n, "x")
    assert len(text) == n
    return Outgoing(text, key=key, volatile=volatile)


def test_empty_outbox() -> None:
    box = Outbox(max_packets=2, max_bytes=100)
    assert len(box) == 0
    assert not box
    assert box.size == box.dropped == box.conflated == 0
    assert box.drain() == []


@pytest.mark.parametrize("max_packets", [1, 2, 5])
def test_reliable_queued_until_max_packets(max_packets: int) -> None:
    box = Outbox(max_packets=max_packets, max_bytes=10_000)
    for _ in range(max_packets):
        assert box.push(out()) is PushResult.QUEUED
    assert box.push(out()) is PushResult.FULL
    assert len(box) == max_packets
    assert box.size == 10 * max_packets
    assert box.dropped == 0  # FULL is not a drop: the caller waits or fails


@pytest.mark.parametrize(("sizes", "last"), [([40, 40], 20), ([50], 50), ([99], 1)])
def test_reliable_queued_until_max_bytes(sizes: list[int], last: int) -> None:
    box = Outbox(max_packets=100, max_bytes=100)
    for n in sizes:
        assert box.push(out(n)) is PushResult.QUEUED
    assert box.push(out(last)) is PushResult.QUEUED  # exactly max_bytes fits
    assert box.size == 100
    assert box.push(out(2)) is PushResult.FULL
    assert box.size == 100


def test_has_room() -> None:
    box = Outbox(max_packets=2, max_bytes=100)
    assert not box.has_room(10_000)  # the byte limit holds for the first packet too
    box.push(out(60))
    assert box.has_room(40)
    assert not box.has_room(41)
    box.push(out(10))
    assert not box.has_room(1)  # max_packets


def test_empty_outbox_refuses_an_oversized_packet() -> None:
    """The byte limit is the memory bound, so it holds for the first packet too."""
    box = Outbox(max_packets=10, max_bytes=100)
    assert box.push(out(500)) is PushResult.FULL
    assert box.push(out(500, key="k")) is PushResult.DROPPED
    assert box.size == 0
    assert box.push(out(2)) is PushResult.QUEUED


@pytest.mark.parametrize("queued", [0, 1, 3])
def test_volatile_is_dropped_and_counted(queued: int) -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    for _ in range(queued):
        box.push(out())
    assert box.push(out(volatile=True)) is PushResult.DROPPED
    assert box.push(out(volatile=True)) is PushResult.DROPPED
    assert box.dropped == 2
    assert len(box) == queued


def test_keyed_is_conflated_in_place() -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    a = out(10, tag="a")
    k1 = out(10, key="k", tag="k1")
    b = out(10, tag="b")
    assert box.push(a) is PushResult.QUEUED
    assert box.push(k1) is PushResult.QUEUED
    assert box.push(b) is PushResult.QUEUED
    k2 = out(25, key="k", tag="k2")
    assert box.push(k2) is PushResult.CONFLATED
    k3 = out(12, key="k", tag="k3")
    assert box.push(k3) is PushResult.CONFLATED
    assert box.conflated == 2
    assert len(box) == 3
    assert box.size == 10 + 12 + 10
    assert box.drain() == [a, k3, b]  # the newest value, in the first one's place
    assert box.size == 0


def test_keys_are_independent() -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    x1, y1, x2 = out(key="x", tag="x1"), out(key="y", tag="y1"), out(key="x", tag="x2")
    box.push(x1)
    box.push(y1)
    assert box.push(x2) is PushResult.CONFLATED
    assert box.drain() == [x2, y1]


def test_key_is_forgotten_once_sent() -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    first, second = out(key="k", tag="1"), out(key="k", tag="2")
    box.push(first)
    assert box.pop() is first
    assert box.push(second) is PushResult.QUEUED
    assert box.conflated == 0
    assert box.drain() == [second]


def test_keyed_is_never_full() -> None:
    box = Outbox(max_packets=1, max_bytes=100)
    box.push(out(90))
    assert box.push(out(5, key="a")) is PushResult.QUEUED  # past max_packets: keyed never waits
    assert box.push(out(20, key="b")) is PushResult.DROPPED  # a new key past max_bytes
    assert box.dropped == 1
    assert box.push(out(30, key="a")) is PushResult.CONFLATED  # an existing key always fits
    assert box.size == 120
    assert box.push(out(1)) is PushResult.FULL


def test_empty_outbox_drops_an_oversized_keyed_packet() -> None:
    box = Outbox(max_packets=1, max_bytes=10)
    assert box.push(out(50, key="k")) is PushResult.DROPPED
    assert box.dropped == 1


def test_control_packets_ignore_limits() -> None:
    box = Outbox(max_packets=1, max_bytes=10)
    box.push(out(10))
    box.push_control(PING)
    assert len(box) == 2
    assert box.drain()[-1] is PING


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(None, 4), (0, 1), (1, 1), (10, 1), (19, 1), (20, 2), (35, 3), (1000, 4)],
)
def test_drain_budget(budget: int | None, expected: int) -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    items = [out(10), out(10), out(15, key="k"), out(10)]
    for item in items:
        box.push(item)
    drained = box.drain(budget)
    assert drained == items[:expected]  # at least one, in order
    assert len(box) == 4 - expected
    assert box.size == sum(i.size for i in items[expected:])


def test_drain_returns_an_oversized_first_packet() -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    big = out(500)
    box.push(big)
    box.push(out(10))
    assert box.drain(budget=100) == [big]


def test_clear() -> None:
    box = Outbox(max_packets=10, max_bytes=1000)
    box.push(out())
    box.push(out(key="k"))
    box.push_control(PING)
    assert box.clear() == 3
    assert not box
    assert box.size == 0
    later = out(key="k")
    assert box.push(later) is PushResult.QUEUED  # keys forgotten too
    assert box.drain() == [later]
