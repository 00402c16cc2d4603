"""What one serving process holds: the store, the match index, the queue, the cases.

The index is loaded in the background when the process starts (``/status``
answers 503 until it is) and then kept current by a thread that applies the
store's changes every ``BASTION_INDEX_REFRESH_SECONDS``.  A refresh works on
a copy and swaps it in, so a request always searches one consistent index;
the memory-mapped base segment is shared between the copies.
"""

from __future__ import annotations

import logging
import threading
import time

from bastion.accounts import Accounts
from bastion.cases.analysts import Analysts
from bastion.cases.reading import CaseReader
from bastion.config import Settings
from bastion.errors import BastionError
from bastion.exchanges.schedule import ExchangeScheduler
from bastion.generation import GenerationChecker, check_detector
from bastion.matching.index import Index
from bastion.reports.reporting import Reporting
from bastion.review.queue import ReviewQueue
from bastion.service.limits import LoginThrottle, RateLimiter
from bastion.stamping import Stamper
from bastion.store import Store

log = logging.getLogger("bastion.service")

#: Media of decided items past retention is deleted this often (seconds).
PURGE_EVERY = 3600


class NotReady(BastionError, RuntimeError):
    """The index has not been loaded yet, or has not been refreshed lately."""

    code = "not-ready"
    status = 503


class ServiceState:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.accounts = Accounts(store)
        self.queue = ReviewQueue(store, settings)
        self.reports = Reporting(store, settings, self.queue.vault)
        self.stamper = Stamper(settings)
        self.generation = GenerationChecker(
            self.queue, self.stamper, settings, detector=check_detector(settings)
        )
        self.cases = Analysts(store, settings)
        self.case_reader = CaseReader(store)
        self.rate_limiter = RateLimiter(settings.rate_limit)
        self.logins = LoginThrottle()
        self._index: Index | None = None
        self._refreshed_at = 0.0
        self._load_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.exchanges = ExchangeScheduler(store, settings.exchange_interval)

    # --- lifecycle ---------------------------------------------------------

    def start(self, *, wait: bool = False) -> None:
        self._thread = threading.Thread(target=self._run, name="bastion-index", daemon=True)
        self._thread.start()
        self.exchanges.start()
        if wait:
            deadline = time.monotonic() + 600
            while self._index is None and self._load_error is None and time.monotonic() < deadline:
                time.sleep(0.01)

    def stop(self) -> None:
        self.exchanges.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.accounts.flush_failed_logins()
        self.store.dispose()

    def _run(self) -> None:
        last_purge = 0.0
        while not self._stop.is_set():
            try:
                if self._index is None:
                    self._index = Index.open(self.store, self.settings)
                    self._load_error = None
                else:
                    fresh = self._index.copy()
                    if fresh.refresh():
                        self._index = fresh
                self._refreshed_at = time.monotonic()
                if time.monotonic() - last_purge > PURGE_EVERY:
                    self.queue.purge()
                    last_purge = time.monotonic()
            except Exception as exc:
                self._load_error = f"{type(exc).__name__}: {exc}"
                log.exception("index refresh failed")
            self._stop.wait(self.settings.index_refresh_seconds)

    # --- readiness ---------------------------------------------------------

    @property
    def index(self) -> Index:
        if self._index is None:
            raise NotReady(self._load_error or "the match index is still loading")
        return self._index

    def readiness(self) -> str | None:
        """None when ready to answer lookups, else why not."""
        if self._index is None:
            return self._load_error or "the match index is still loading"
        allowed = max(10.0, 5.0 * self.settings.index_refresh_seconds)
        age = time.monotonic() - self._refreshed_at
        if age > allowed:
            return f"the match index is stale: last refreshed {age:.0f} s ago ({self._load_error})"
        return None

    def refresh_now(self) -> None:
        """Apply bank changes made by this process at once (its own writes)."""
        if self._index is not None:
            fresh = self._index.copy()
            if fresh.refresh():
                self._index = fresh
