"""The bus health state machine and its backoff, without sockets or clocks."""

from __future__ import annotations

import pytest

from jupyter_sio.exceptions import ConfigError, LocalProtocolError
from jupyter_sio.hub.bus_health import (
    TRANSITIONS,
    Backoff,
    BusEvent,
    BusHealth,
    BusState,
)

S = BusState


def health_in(state: BusState) -> BusHealth:
    health = BusHealth(Backoff(), now=0.0)
    if state is S.CONNECTED:
        health.connected(1.0)
    elif state is S.RECONNECTING:
        health.failed(1.0, "refused")
    elif state is S.CLOSED:
        health.closed(1.0)
    assert health.state is state
    return health


def fire(health: BusHealth, event: BusEvent, now: float) -> object:
    if event is BusEvent.CONNECTED:
        return health.connected(now)
    if event is BusEvent.FAILED:
        return health.failed(now, "boom")
    return health.closed(now)


@pytest.mark.parametrize("state", list(BusState))
@pytest.mark.parametrize("event", list(BusEvent))
def test_every_state_and_event_moves_as_the_table_says_or_raises(
    state: BusState, event: BusEvent
) -> None:
    health = health_in(state)
    target = TRANSITIONS[state].get(event)
    if state is S.CLOSED and event is BusEvent.CLOSED:
        assert fire(health, event, 2.0) is None  # closing twice is harmless
    elif target is None:
        with pytest.raises(LocalProtocolError, match=f"{event.value!r} in state"):
            fire(health, event, 2.0)
        assert health.state is state
    else:
        change = fire(health, event, 2.0)
        assert health.state is target
        assert (change is None) == (target is state)  # a change only when it changed
        assert health.since == (2.0 if change is not None else 1.0)


def test_an_outage_is_one_change_down_and_one_up_however_many_attempts() -> None:
    health = BusHealth(Backoff(), now=0.0)
    first = health.connected(1.0)
    assert first is not None and not first.recovered and not first.degraded
    down = health.failed(10.0, "ConnectionError: closed by server")
    assert down is not None and down.degraded
    assert (down.old, down.new, down.error) == (S.CONNECTED, S.RECONNECTING, down.error)
    for t in (11.0, 12.0, 13.0):
        assert health.failed(t, "ConnectionError: refused") is None
    assert health.attempts == 4 and health.last_error == "ConnectionError: refused"
    up = health.connected(25.0)
    assert up is not None and up.recovered and up.outage == 15.0
    assert (health.reconnects, health.attempts) == (1, 0)
    assert health.status() == {
        "state": "connected",
        "since": 25.0,
        "reconnects": 1,
        "attempts": 0,
        "last_error": "ConnectionError: refused",  # the outage stays explained
    }


def test_a_first_connection_that_fails_is_degraded_too() -> None:
    health = BusHealth(Backoff(), now=0.0)
    change = health.failed(0.5, "refused")
    assert change is not None and change.old is S.CONNECTING and change.degraded
    assert health.status()["state"] == "reconnecting"


def test_delays_double_up_to_the_cap_and_jitter_only_shortens_them() -> None:
    backoff = Backoff(initial=0.1, maximum=3.0, jitter=0.5)
    assert [backoff.delay(n, 0.0) for n in range(1, 8)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0]
    )
    for attempt in (1, 5, 10_000):
        for rand in (0.0, 0.25, 0.999):
            delay = backoff.delay(attempt, rand)
            full = backoff.delay(attempt, 0.0)
            assert full * 0.5 <= delay <= full <= 3.0


def test_the_next_delay_follows_the_failures_in_a_row() -> None:
    health = BusHealth(Backoff(initial=1.0, maximum=4.0, jitter=0.0), now=0.0)
    delays = []
    for t in range(5):
        health.failed(float(t), "x")
        delays.append(health.next_delay(0.7))
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    health.connected(9.0)
    health.failed(10.0, "x")
    assert health.next_delay(0.7) == 1.0  # a fresh outage starts small again


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"initial": 0.0}, "initial"),
        ({"initial": 5.0, "maximum": 1.0}, "maximum"),
        ({"jitter": 1.0}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
    ],
)
def test_impossible_backoffs_are_refused_by_name(settings: dict[str, float], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Backoff(**settings)
