"""The comm relay: batching (unit, fake clock) and a real relay against an embedded hub."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_sio.kernel.sio import KernelSio
from jupyter_sio.widgets import Chat, MetricCard, metric
from jupyter_sio.widgets.relay import MAX_RATE, Batcher, CommRelay, jsonable, relay_endpoint


class FakeTimers:
    """A fake clock with ``call_later``."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, fn))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now + 1e-12]
        self.timers = [t for t in self.timers if t[0] > self.now + 1e-12]
        for _, fn in sorted(due, key=lambda t: t[0]):
            fn()


def make(interval: float = 0.1, max_items: int = 1000) -> tuple[Batcher, FakeTimers, list[Any]]:
    timers = FakeTimers()
    sent: list[Any] = []
    batcher = Batcher(
        sent.append,
        timers.call_later,
        interval=interval,
        max_items=max_items,
        clock=lambda: timers.now,
    )
    return batcher, timers, sent


def test_first_item_goes_at_once_then_one_message_per_interval() -> None:
    b, timers, sent = make()
    b.add({"n": 1})
    timers.advance(0)
    assert sent == [{"type": "batch", "items": [{"n": 1}]}]
    b.add({"n": 2})
    b.add({"n": 3})
    timers.advance(0.05)
    assert len(sent) == 1
    timers.advance(0.05)
    assert sent[1] == {"type": "batch", "items": [{"n": 2}, {"n": 3}]}


def test_a_flood_becomes_at_most_rate_messages_per_second() -> None:
    b, timers, sent = make(interval=1 / MAX_RATE)
    for i in range(5000):  # 5000 events over one second
        b.add({"n": i})
        timers.advance(1 / 5000)
    timers.advance(1)
    assert len(sent) <= MAX_RATE + 2
    assert [item["n"] for m in sent for item in m["items"]] == list(range(5000))
    assert b.sent_items == 5000 and b.sent_messages == len(sent)


def test_backlog_is_bounded_and_drops_are_reported() -> None:
    b, timers, sent = make(max_items=3)
    b.add({"n": 0})
    timers.advance(0)
    for i in range(1, 8):
        b.add({"n": i})
    timers.advance(0.1)
    assert sent[1] == {"type": "batch", "items": [{"n": 5}, {"n": 6}, {"n": 7}], "dropped": 4}
    b.add({"n": 8})
    timers.advance(0.1)
    assert "dropped" not in sent[2]


def test_closed_batcher_and_failing_send() -> None:
    timers = FakeTimers()

    def broken(_: Any) -> None:
        raise RuntimeError("comm closed")

    b = Batcher(broken, timers.call_later, interval=0.1, clock=lambda: timers.now)
    b.add({"n": 1})
    timers.advance(0)  # the error is swallowed
    b.close()
    b.add({"n": 2})
    timers.advance(1)
    assert not b.items


def test_add_from_many_threads_schedules_one_flush_at_a_time() -> None:
    b, timers, sent = make(max_items=5000)
    lock = threading.Lock()
    original = timers.call_later

    def locked(delay: float, fn: Callable[[], None]) -> None:
        with lock:
            original(delay, fn)

    b.call_later = locked

    def adder() -> None:
        for _ in range(500):
            b.add({"x": 1})

    threads = [threading.Thread(target=adder) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(timers.timers) == 1
    timers.advance(1)
    assert sum(len(m["items"]) for m in sent) == 2000


def test_jsonable_turns_bytes_into_base64() -> None:
    assert jsonable({"a": b"\x01\x02", "b": [bytearray(b"x"), (1, "s")]}) == {
        "a": "AQI=",
        "b": ["eA==", [1, "s"]],
    }


# -- a real relay ---------------------------------------------------------------------------
class Front:
    """Records what the relay sends to the front end; waits for items."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.cond = threading.Condition()

    def send(self, content: dict[str, Any]) -> None:
        with self.cond:
            self.messages.append(content)
            self.cond.notify_all()

    @property
    def items(self) -> list[dict[str, Any]]:
        with self.cond:
            return [i for m in self.messages for i in m["items"]]

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                items: list[dict[str, Any]] = [i for m in self.messages for i in m["items"]]
                for item in items:
                    if pred(item):
                        return item
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching item; got {self.items}")
                self.cond.wait(left)


def call(relay: CommRelay, front: Front, call_id: str, event: str, *args: Any) -> dict[str, Any]:
    relay.handle({"type": "call", "id": call_id, "event": event, "args": list(args), "timeout": 5})
    return front.wait(lambda i: i.get("type") == "reply" and i.get("id") == call_id)


def test_relay_endpoint_of_an_embedded_hub_is_the_browser_endpoint(
    embedded_sio: KernelSio,
) -> None:
    url, headers = relay_endpoint(embedded_sio)
    assert embedded_sio.embedded is not None
    assert url == embedded_sio.url and url.endswith("/socket.io/")
    assert headers == {"Authorization": f"token {embedded_sio.embedded.token}"}
    with pytest.raises(Exception, match="not connected"):
        relay_endpoint(KernelSio())


def test_relay_subscribes_receives_room_traffic_and_answers_calls(
    embedded_sio: KernelSio,
) -> None:
    front = Front()
    relay = CommRelay(embedded_sio, front.send)
    try:
        metric(embedded_sio, "dash", "cpu", 1.0)  # retained before the relay subscribes
        relay.handle({"type": "hello", "mode": "comm"})
        front.wait(lambda i: i == {"type": "status", "connected": True})
        reply = call(relay, front, "a:1", "sio:subscribe", {"rooms": ["dash"]})
        assert reply["ok"] is True
        assert reply["args"][0]["ok"] is True and reply["args"][0]["rooms"] == ["dash"]
        me = reply["args"][0]["me"]
        assert me["user"] == "guest" and me["kernel"] is None  # a browser-like client
        front.wait(lambda i: i.get("event") == "metric" and i["args"][0]["value"] == 1.0)

        # the kernel's room traffic, batched
        before = len(front.messages)
        for n in range(300):
            embedded_sio.emit("tick", n, b"\x00", to="dash")
        front.wait(lambda i: i.get("event") == "tick" and i["args"][0] == 299)
        ticks = [i for i in front.items if i.get("event") == "tick"]
        assert [t["args"][0] for t in ticks] == list(range(300))
        assert ticks[0]["args"][1] == "AA=="
        assert len(front.messages) - before < 60  # not one comm message per event

        # events outside the rooms do not come through
        embedded_sio.emit("tick", "elsewhere", to="other")

        # a kernel handler answers through the relay
        embedded_sio.on("echo", lambda peer, *args: {"args": list(args), "user": peer.user})
        embedded_sio.sockets()
        answer = call(relay, front, "a:2", "echo", 1, "x")
        assert answer["args"] == [{"args": [1, "x"], "user": "guest"}]

        # an emit (fire and forget) reaches a kernel handler
        received: list[Any] = []
        embedded_sio.on("chat", lambda peer, msg: received.append(msg))
        embedded_sio.sockets()  # a round trip: the hub has taken the handler
        relay.handle({"type": "emit", "event": "chat", "args": [{"text": "hi"}]})
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received == [{"text": "hi"}]

        # failures come back as replies, not exceptions
        refused = call(relay, front, "a:3", "sio:subscribe", {"rooms": []})
        assert refused["ok"] is True and refused["args"][0]["ok"] is False
        assert not any(i.get("args") == ["elsewhere"] for i in front.items)
    finally:
        relay.close()
        relay.close()


def test_a_second_hello_reports_the_running_relay(embedded_sio: KernelSio) -> None:
    front = Front()
    relay = CommRelay(embedded_sio, front.send)
    try:
        relay.handle({"type": "hello", "mode": "comm"})
        front.wait(lambda i: i.get("type") == "status")
        relay.handle({"type": "hello", "mode": "comm"})
        deadline = time.monotonic() + 5
        while len([i for i in front.items if i.get("type") == "status"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        statuses = [i for i in front.items if i.get("type") == "status"]
        assert statuses[-1]["connected"] is True
    finally:
        relay.close()


def test_calls_before_the_relay_connects_fail_cleanly(embedded_sio: KernelSio) -> None:
    front = Front()
    relay = CommRelay(embedded_sio, front.send)
    try:
        reply = call(relay, front, "b:1", "sio:whoami")
        assert reply == {"type": "reply", "id": "b:1", "ok": False, "error": "not connected"}
    finally:
        relay.close()


def test_widget_starts_a_relay_on_hello(kernel_sio: KernelSio) -> None:
    w = MetricCard("dash", "cpu")
    assert w._transport == "comm"
    front = Front()
    w.send = front.send  # type: ignore[method-assign]
    try:
        w._handle_custom_msg({"type": "hello", "mode": "comm", "namespace": "/"}, [])
        assert w.relay is not None
        front.wait(lambda i: i == {"type": "status", "connected": True})
        w._handle_custom_msg(
            {"type": "call", "id": "c:1", "event": "sio:subscribe", "args": [{"rooms": ["dash"]}]},
            [],
        )
        front.wait(lambda i: i.get("id") == "c:1" and i["ok"])
        metric(kernel_sio, "dash", "cpu", 7)
        item = front.wait(lambda i: i.get("event") == "metric")
        assert item["args"][0]["key"] == "cpu" and item["args"][0]["value"] == 7
    finally:
        w.close()
    assert w.relay is None


def test_widget_with_an_unconnected_sio_reports_the_failure() -> None:
    w = Chat("r", sio=KernelSio())
    front = Front()
    w.send = front.send  # type: ignore[method-assign]
    try:
        w._handle_custom_msg({"type": "hello", "mode": "comm"}, [])
        item = front.wait(lambda i: i.get("type") == "status")
        assert item["connected"] is False and "not connected" in item["reason"]
    finally:
        w.close()
        assert w._sio is not None
        w._sio.close()


def _browsers(sio: KernelSio) -> list[dict[str, Any]]:
    """The hub's browser-like sockets (a relay's is one; the kernel's own is not)."""
    return [s for s in sio.sockets() if s.get("user") == "guest"]


def _wait_browsers(sio: KernelSio, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Poll the hub (bounded) until ``count`` browser-like sockets are connected."""
    deadline = time.monotonic() + timeout
    while True:
        found = _browsers(sio)
        if len(found) == count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_the_relay_socket_lives_while_a_front_end_says_it_uses_it(
    embedded_sio: KernelSio,
) -> None:
    """The comm fallback follows the views, as a browser socket does: the last front end's
    ``bye`` closes the relay's hub connection, a later ``hello`` opens it again."""
    front = Front()
    relay = CommRelay(embedded_sio, front.send)
    try:
        relay.handle({"type": "hello", "mode": "comm", "id": "tab-a"})
        relay.handle({"type": "hello", "mode": "comm", "id": "tab-b"})
        front.wait(lambda i: i == {"type": "status", "connected": True})
        assert len(_wait_browsers(embedded_sio, 1)) == 1
        relay.handle({"type": "bye", "id": "tab-a"})
        call(relay, front, "b:1", "sio:whoami")  # a round trip through the relay
        assert len(_browsers(embedded_sio)) == 1, "tab-b still uses it"

        relay.handle({"type": "bye", "id": "tab-b"})
        assert _wait_browsers(embedded_sio, 0) == []
        assert relay.conn is None and not relay.closed

        statuses = len([i for i in front.items if i.get("type") == "status"])
        relay.handle({"type": "hello", "mode": "comm", "id": "tab-b2"})
        front.wait(
            lambda i: (
                i == {"type": "status", "connected": True}
                and len([j for j in front.items if j.get("type") == "status"]) > statuses
            )
        )
        assert len(_wait_browsers(embedded_sio, 1)) == 1
        assert call(relay, front, "b:2", "sio:whoami")["ok"] is True
    finally:
        relay.close()


def test_widget_passes_the_front_ends_bye_to_its_relay(kernel_sio: KernelSio) -> None:
    w = MetricCard("dash", "cpu")
    front = Front()
    w.send = front.send  # type: ignore[method-assign]
    try:
        w._handle_custom_msg({"type": "bye", "id": "early"}, [])  # no relay yet: ignored
        assert w.relay is None
        w._handle_custom_msg({"type": "hello", "mode": "comm", "id": "v1"}, [])
        front.wait(lambda i: i == {"type": "status", "connected": True})
        assert len(_wait_browsers(kernel_sio, 1)) == 1
        w._handle_custom_msg({"type": "bye", "id": "v1"}, [])
        assert _wait_browsers(kernel_sio, 0) == []
    finally:
        w.close()
