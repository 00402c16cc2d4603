"""SQLite writers of one process take turns in arrival order (bastion.store.turns)."""

from __future__ import annotations

import threading
import time
from typing import Any

from bastion.store.turns import Turns


def _wait_until(condition: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    assert condition(), "timed out"  # type: ignore[operator]


def test_waiting_threads_get_their_turn_in_arrival_order() -> None:
    turns = Turns()
    order: list[int] = []
    waiting: list[int] = []
    threads = []

    def writer(n: int) -> None:
        waiting.append(n)
        with turns.turn():
            order.append(n)

    with turns.turn():
        for n in range(5):
            thread = threading.Thread(target=writer, args=(n,))
            thread.start()
            threads.append(thread)
            _wait_until(lambda n=n: len(waiting) == n + 1 and turns._next_ticket == n + 2)
        assert order == []
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_a_thread_that_writes_in_a_loop_cannot_jump_the_queue() -> None:
    """The starvation SQLite's own retries allowed: the looping holder comes back
    at once, but the thread that was already waiting goes first."""
    turns = Turns()
    events: list[str] = []
    stop = threading.Event()

    def looping() -> None:
        while not stop.is_set():
            with turns.turn():
                events.append("batch")
                time.sleep(0.01)

    loop = threading.Thread(target=looping)
    loop.start()
    _wait_until(lambda: len(events) >= 2)
    with turns.turn():
        events.append("other")
        batches_before = events.count("batch")
    stop.set()
    loop.join(10)
    # The other writer waited for the batch under way, and at most one more
    # that had already queued.
    assert batches_before - 2 <= 2


def test_the_holder_may_take_its_turn_again() -> None:
    turns = Turns()
    with turns.turn(), turns.turn():
        pass
    with turns.turn():
        pass


class _Interrupted(Exception):
    pass


class _Impatient(threading.Condition):
    """A condition whose waits end at once, with an error, on the "impatient" thread."""

    def wait_for(self, predicate: Any, timeout: float | None = None) -> Any:
        if threading.current_thread().name == "impatient":
            raise _Interrupted
        return super().wait_for(predicate, timeout)


def test_a_waiter_that_gives_up_does_not_block_those_after_it() -> None:
    turns = Turns()
    turns._changed = _Impatient()
    outcome: list[str] = []

    def impatient() -> None:
        try:
            with turns.turn():
                outcome.append("impatient had a turn")
        except _Interrupted:
            outcome.append("gave up")

    def later() -> None:
        with turns.turn():
            outcome.append("later had a turn")

    with turns.turn():
        first = threading.Thread(target=impatient, name="impatient")
        first.start()
        first.join(10)
        after = threading.Thread(target=later)
        after.start()
        _wait_until(lambda: turns._next_ticket == 3)
    after.join(10)
    assert outcome == ["gave up", "later had a turn"]
