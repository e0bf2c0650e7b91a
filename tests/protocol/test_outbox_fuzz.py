"""The outbox as a state machine under random operation sequences (seeded, 10,000
sequences of up to 40 operations per run; ``JSIO_FUZZ_EXAMPLES`` raises the count).

Invariants after every operation: ``size`` is the sum of what is queued; reliable packets
never take the box past ``max_packets`` / ``max_bytes``; keyed packets never past
``max_bytes``; at most one entry per key, holding the newest packet of that key; reliable
packets come out in the order they went in; nothing is lost without being counted.
"""

from __future__ import annotations

import os
import random

from jupyter_sio.protocol.frames import Outgoing
from jupyter_sio.protocol.outbox import Outbox, PushResult, unwrap

SEQUENCES = int(os.environ.get("JSIO_FUZZ_EXAMPLES", "10000"))


def packet(rng: random.Random, serial: int) -> Outgoing:
    kind = rng.random()
    size = rng.choice((1, 5, 40, 120, 400))
    text = f"4{serial}:".ljust(size, "x")
    if kind < 0.2:
        return Outgoing(text, key=f"k{rng.randrange(4)}")
    if kind < 0.3:
        return Outgoing(text, volatile=True)
    return Outgoing(text)


def check(box: Outbox) -> None:
    entries = unwrap(list(box._queue))
    assert box.size == sum(p.size for p in entries)
    keys = [p.key for p in entries if p.key is not None]
    assert len(keys) == len(set(keys)) == len(box._keys)


def test_outbox_invariants_under_random_operations() -> None:
    rng = random.Random(20261202)
    for _ in range(SEQUENCES):
        box = Outbox(max_packets=rng.choice((1, 3, 8)), max_bytes=rng.choice((50, 300, 1000)))
        reliable_in: list[Outgoing] = []
        reliable_out: list[Outgoing] = []
        newest: dict[str, Outgoing] = {}
        for serial in range(rng.randrange(1, 40)):
            op = rng.random()
            if op < 0.6:
                item = packet(rng, serial)
                before = (len(box), box.size, box.dropped, box.conflated)
                result = box.push(item)
                if item.key is not None:
                    newest[item.key] = item
                    if result is PushResult.QUEUED:
                        assert box.size <= box.max_bytes
                    elif result is PushResult.DROPPED:
                        assert box.dropped == before[2] + 1
                        newest.pop(item.key, None)
                    else:
                        assert result is PushResult.CONFLATED
                elif item.volatile:
                    assert result is PushResult.DROPPED
                elif result is PushResult.QUEUED:
                    reliable_in.append(item)
                    assert len(box) <= box.max_packets and box.size <= box.max_bytes
                else:
                    assert result is PushResult.FULL
                    assert (len(box), box.size) == before[:2]
            elif op < 0.9:
                budget = rng.choice((None, 1, 100, 10_000))
                for item in box.drain(budget, rng.choice((None, 1, 4))):
                    if item.key is not None:
                        assert newest.get(item.key) is item  # only the newest per key
                        newest.pop(item.key)
                    elif not item.volatile:
                        reliable_out.append(item)
            elif op < 0.95:
                for item in unwrap(box.take_all()):
                    if item.key is None and not item.volatile:
                        reliable_out.append(item)
                    elif item.key is not None:
                        newest.pop(item.key, None)
            else:
                box.clear()
                reliable_in, reliable_out = [], []
                newest.clear()
            check(box)
        assert reliable_out == reliable_in[: len(reliable_out)]  # in order, none lost
