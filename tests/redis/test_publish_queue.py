"""The bounded queue of commands that wait for Redis."""

from __future__ import annotations

import pytest

from jupyter_sio.exceptions import ConfigError
from jupyter_sio.hub.publish_queue import PublishQueue


def publish(n: int, size: int = 10) -> tuple[bytes, ...]:
    return (b"PUBLISH", b"c", str(n).encode().rjust(size - 8, b"."))  # `size` bytes in all


def numbers(queue: PublishQueue) -> list[int]:
    return [int(command[2].strip(b".")) for command in queue.take(len(queue))]


def test_the_count_bound_drops_the_oldest_and_counts_them() -> None:
    queue = PublishQueue(max_count=3, max_bytes=1_000)
    for n in range(5):
        queue.push(publish(n))
    assert (len(queue), queue.dropped) == (3, 2)
    assert numbers(queue) == [2, 3, 4]  # the newest survive
    assert (len(queue), queue.nbytes) == (0, 0)


def test_the_byte_bound_drops_as_many_old_ones_as_needed() -> None:
    queue = PublishQueue(max_count=100, max_bytes=30)
    for n in range(3):
        queue.push(publish(n))
    assert queue.nbytes == 30
    queue.push(publish(3, size=25))
    assert queue.dropped == 3 and queue.nbytes == 25
    assert numbers(queue) == [3]


def test_a_command_larger_than_the_whole_bound_is_dropped_alone() -> None:
    queue = PublishQueue(max_count=100, max_bytes=30)
    queue.push(publish(1))
    queue.push(publish(2, size=31))
    assert queue.dropped == 1 and numbers(queue) == [1]


def test_take_keeps_order_and_counters_cover_every_loss() -> None:
    queue = PublishQueue(max_count=100, max_bytes=1_000)
    for n in range(5):
        queue.push(publish(n))
    batch = queue.take(2)
    assert [c[2].strip(b".") for c in batch] == [b"0", b"1"] and queue.nbytes == 30
    queue.lost(len(batch))  # the write of that batch failed
    queue.refuse()  # a volatile publication while down
    queue.clear()  # closing while down
    assert (len(queue), queue.nbytes, queue.dropped) == (0, 0, 2 + 1 + 3)


@pytest.mark.parametrize(("count", "nbytes"), [(0, 10), (10, 0)])
def test_bounds_must_be_positive(count: int, nbytes: int) -> None:
    with pytest.raises(ConfigError, match="max_pending"):
        PublishQueue(count, nbytes)
