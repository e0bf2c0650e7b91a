"""Kernel-side helpers: the metric convention and polls (with a fake sio, and a real one)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_sio.kernel.sio import KernelSio
from jupyter_sio.widgets import PollHandle, metric, start_poll
from jupyter_sio.widgets.publish import METRIC_HISTORY


class FakeSio:
    def __init__(self) -> None:
        self.emits: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.handlers: dict[str, Callable[..., Any]] = {}

    def emit(self, event: str, *args: Any, **kwargs: Any) -> None:
        self.emits.append((event, args, kwargs))

    def on(self, event: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        self.handlers[event] = handler
        return handler


class Peer:
    def __init__(self, sid: str, user: str = "ann") -> None:
        self.sid = sid
        self.user = user


def test_metric_emits_a_retained_keyed_value() -> None:
    sio = FakeSio()
    metric(sio, "dash", "cpu", 0.5, t=123.0)
    metric(sio, "dash", "state", "ok", history=1)
    assert sio.emits[0] == (
        "metric",
        ({"key": "cpu", "value": 0.5, "t": 123.0},),
        {"to": "dash", "key": "cpu", "retain": METRIC_HISTORY},  # a chart's recent past
    )
    assert sio.emits[1][2]["retain"] is True
    assert isinstance(sio.emits[1][1][0]["t"], float)
    for bad in (True, None, [1], {"a": 1}):
        with pytest.raises(TypeError):
            metric(sio, "dash", "x", bad)


def test_poll_publishes_counts_votes_and_replaces_votes() -> None:
    sio = FakeSio()
    poll = start_poll(sio, "class", "Tabs or spaces?", ["tabs", "spaces"], poll_id="p1")
    assert isinstance(poll, PollHandle)
    assert sio.emits == [
        (
            "poll",
            (
                {
                    "id": "p1",
                    "question": "Tabs or spaces?",
                    "options": ["tabs", "spaces"],
                    "closed": False,
                },
            ),
            {"to": "class", "key": "poll", "retain": True},
        ),
        (
            "poll_result",
            ({"id": "p1", "counts": [0, 0], "total": 0},),
            {"to": "class", "key": "poll_result", "retain": True},
        ),
    ]
    vote = sio.handlers["vote"]
    assert vote(Peer("s1"), {"poll": "p1", "choice": 1}) == {
        "ok": True,
        "choice": 1,
        "counts": [0, 1],
        "total": 1,
    }
    assert vote(Peer("s2"), {"poll": "p1", "choice": "tabs"})["counts"] == [1, 1]
    assert vote(Peer("s1"), {"poll": "p1", "choice": 0})["counts"] == [2, 0]  # changed vote
    assert sio.emits[-1][1][0] == {"id": "p1", "counts": [2, 0], "total": 2}
    assert poll.tally() == {"tabs": 2, "spaces": 0}
    assert "Tabs or spaces?" in repr(poll)

    assert vote(Peer("s3"), {"poll": "p1", "choice": 5})["ok"] is False
    assert vote(Peer("s3"), {"poll": "p1", "choice": True})["ok"] is False
    assert vote(Peer("s3"), {"poll": "nope", "choice": 0}) == {"ok": False, "error": "no such poll"}
    assert vote(Peer("s3"), "junk")["ok"] is False

    poll.close()
    assert sio.emits[-2][1][0]["closed"] is True
    assert vote(Peer("s4"), {"poll": "p1", "choice": 0}) == {
        "ok": False,
        "error": "the poll is closed",
    }


def test_one_vote_handler_serves_many_polls_and_per_user_voting() -> None:
    sio = FakeSio()
    a = start_poll(sio, "r", "A?", ["x", "y"], poll_id="a", per="user")
    handler = sio.handlers["vote"]
    b = start_poll(sio, "r", "B?", ["x", "y", "z"])
    assert sio.handlers["vote"] is handler  # registered once per sio
    handler(Peer("s1", "ann"), {"poll": "a", "choice": 0})
    handler(Peer("s2", "ann"), {"poll": "a", "choice": 1})  # same user, other tab
    assert a.counts == [0, 1]
    handler(Peer("s1"), {"poll": b.id, "choice": 2})
    assert b.counts == [0, 0, 1]
    with pytest.raises(ValueError):
        start_poll(sio, "r", "?", ["only one"])


def test_votes_from_threads_are_all_counted() -> None:
    sio = FakeSio()
    poll = start_poll(sio, "r", "?", ["a", "b"], poll_id="t")
    vote = sio.handlers["vote"]
    threads = [
        threading.Thread(
            target=lambda k=k: [
                vote(Peer(f"{k}-{i}"), {"poll": "t", "choice": i % 2}) for i in range(100)
            ]
        )
        for k in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert poll.counts == [400, 400]


def test_poll_with_a_real_sio(embedded_sio: KernelSio) -> None:
    poll = start_poll(embedded_sio, "class", "Q?", ["a", "b"], poll_id="real")
    assert ("/", "vote") in embedded_sio.handlers
    assert poll.results() == {"id": "real", "counts": [0, 0], "total": 0}
