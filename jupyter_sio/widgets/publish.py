"""Kernel-side helpers that feed the dashboard widgets.

``metric`` emits the ``"metric"`` convention the MetricCard, ValueTable and LiveChart widgets
read; ``start_poll`` runs a poll for the Poll widget: it answers the browsers' ``"vote"``
events (a kernel handler, so votes are counted while cells run) and publishes the question
and live results as retained values, so a page that opens later shows them at once.

Only ``sio.emit`` and ``sio.on`` are used: any object with those methods works (tests use a
fake).
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["METRIC_HISTORY", "PollHandle", "metric", "start_poll"]

#: Values of each metric key the hub keeps for pages that open later (a chart's worth).
METRIC_HISTORY = 200


def metric(sio: Any, room: str, key: str, value: Any, *, t: float | None = None,
           history: int = METRIC_HISTORY) -> None:
    """Emit ``"metric"`` ``{key, value, t}`` to ``room`` as the retained value of ``key``.

    Slow browsers get only the newest value per key; browsers that open later (or reload)
    get the last ``history`` values of each key at once, so a LiveChart shows its recent
    past and a MetricCard its current value (``history=1``: the current value only).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"metric values are numbers or strings, not {type(value).__name__}")
    sio.emit(
        "metric",
        {"key": key, "value": value, "t": time.time() if t is None else t},
        to=room,
        key=key,
        retain=True if history == 1 else history,
    )


class PollHandle:
    """A running poll: counts votes, publishes ``"poll"`` and ``"poll_result"``.

    One vote per voter (``per="socket"``: each browser socket, ``per="user"``: each Jupyter
    user); voting again changes the vote. Thread-safe: votes arrive on the sio handler thread.
    """

    def __init__(
        self,
        sio: Any,
        room: str,
        question: str,
        options: Sequence[str],
        *,
        poll_id: str | None = None,
        per: Literal["socket", "user"] = "socket",
    ) -> None:
        if len(options) < 2:
            raise ValueError("a poll needs at least two options")
        self.sio = sio
        self.room = room
        self.id = poll_id or uuid.uuid4().hex[:12]
        self.question = question
        self.options = [str(o) for o in options]
        self.per = per
        self.closed = False
        self.votes: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- state ----------------------------------------------------------------------------
    @property
    def counts(self) -> list[int]:
        with self._lock:
            return self._counts()

    def _counts(self) -> list[int]:
        counts = [0] * len(self.options)
        for choice in self.votes.values():
            counts[choice] += 1
        return counts

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "options": list(self.options),
            "closed": self.closed,
        }

    def results(self) -> dict[str, Any]:
        with self._lock:
            counts = self._counts()
        return {"id": self.id, "counts": counts, "total": sum(counts)}

    def tally(self) -> dict[str, int]:
        """``{option: count}``, for the notebook."""
        return dict(zip(self.options, self.counts, strict=True))

    # -- publishing -----------------------------------------------------------------------
    def publish(self) -> None:
        self.sio.emit("poll", self.info(), to=self.room, key="poll", retain=True)
        self.publish_results()

    def publish_results(self) -> None:
        self.sio.emit("poll_result", self.results(), to=self.room, key="poll_result", retain=True)

    def close(self) -> None:
        """Stop accepting votes (the widgets show the poll as closed)."""
        self.closed = True
        self.publish()

    # -- voting ---------------------------------------------------------------------------
    def vote(self, voter: str, choice: Any) -> dict[str, Any]:
        """Count ``voter``'s vote; the answer goes back to the voting browser."""
        if self.closed:
            return {"ok": False, "error": "the poll is closed"}
        if isinstance(choice, str) and choice in self.options:
            choice = self.options.index(choice)
        if isinstance(choice, bool) or not isinstance(choice, int):
            return {"ok": False, "error": "choice must be an option index"}
        if not 0 <= choice < len(self.options):
            return {"ok": False, "error": f"no option {choice}"}
        with self._lock:
            self.votes[voter] = choice
            counts = self._counts()
        self.publish_results()
        return {"ok": True, "choice": choice, "counts": counts, "total": sum(counts)}

    def __repr__(self) -> str:
        return f"<PollHandle {self.id} {self.question!r} {self.tally()}>"


# One "vote" handler per sio, dispatching to its polls by id.
_polls: weakref.WeakKeyDictionary[Any, dict[str, PollHandle]] = weakref.WeakKeyDictionary()
_polls_lock = threading.Lock()


def _on_vote(sio: Any) -> Any:
    def on_vote(peer: Any, spec: Any = None, *_: Any) -> dict[str, Any]:
        if not isinstance(spec, dict):
            return {"ok": False, "error": "vote expects {poll, choice}"}
        with _polls_lock:
            poll = _polls.get(sio, {}).get(str(spec.get("poll")))
        if poll is None:
            return {"ok": False, "error": "no such poll"}
        if poll.per == "user":
            voter = str(getattr(peer, "user", None) or getattr(peer, "sid", None))
        else:
            voter = str(getattr(peer, "sid", None) or getattr(peer, "user", None))
        return poll.vote(voter, spec.get("choice"))

    return on_vote


def start_poll(
    sio: Any,
    room: str,
    question: str,
    options: Sequence[str],
    *,
    poll_id: str | None = None,
    per: Literal["socket", "user"] = "socket",
) -> PollHandle:
    """Start a poll in ``room``: registers the ``"vote"`` handler, publishes the question.

    Returns the :class:`PollHandle` (``.tally()``, ``.close()``). Starting another poll in
    the same room replaces the question the widgets show; votes for older polls still count
    until they are closed.
    """
    poll = PollHandle(sio, room, question, options, poll_id=poll_id, per=per)
    with _polls_lock:
        registry = _polls.get(sio)
        fresh = registry is None
        if registry is None:
            registry = _polls[sio] = {}
        registry[poll.id] = poll
    if fresh:
        sio.on("vote", _on_vote(sio))
    poll.publish()
    return poll
