"""Writers of one SQLite store in this process, let in first come, first served.

SQLite has one writer at a time, and a writer that finds the database
locked sleeps and retries (up to 100 ms apart) rather than queueing.  A
bulk import or an exchange's sync commits batch after batch with almost no
gap between them, so a retrying writer could miss gap after gap: another
bank's add was measured waiting 5.4 s, several batches, behind a first sync.
``bastion serve`` runs the scheduled syncs and the API's writes in one
process, so handing out turns in arrival order here bounds the wait to the
batch being written.  PostgreSQL needs none: its lock waiters queue.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Turns:
    """A first-come-first-served lock that the thread holding it may take again."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._holder: int | None = None
        self._depth = 0
        #: Tickets of threads that stopped waiting (interrupted): skipped.
        self._abandoned: set[int] = set()

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for every thread that came earlier, then hold the turn."""
        me = threading.get_ident()
        with self._changed:
            if self._holder == me:
                self._depth += 1
            else:
                ticket = self._next_ticket
                self._next_ticket += 1
                try:
                    self._changed.wait_for(lambda: self._serving == ticket)
                except BaseException:
                    self._abandoned.add(ticket)
                    self._skip_abandoned()
                    raise
                self._holder, self._depth = me, 1
        try:
            yield
        finally:
            with self._changed:
                self._depth -= 1
                if not self._depth:
                    self._holder = None
                    self._serving += 1
                    self._skip_abandoned()

    def _skip_abandoned(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._changed.notify_all()
