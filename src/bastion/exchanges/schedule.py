"""Scheduled syncs: what ``bastion serve`` runs every ``BASTION_EXCHANGE_INTERVAL`` seconds.

Several serving processes may share one store.  Which exchanges are due is
read from the store (the last sync's start), and each sync takes the
exchange's lease, so exactly one process fetches an exchange at a time and
the others skip it; a process that dies mid-sync loses its lease when it
expires, and the next due run resumes from the committed checkpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bastion.exchanges.http import Retrying
from bastion.exchanges.lease import ExchangeBusy, new_holder
from bastion.exchanges.registry import ExchangeInfo, ExchangeNotFound, Exchanges
from bastion.exchanges.sync import SyncReport, sync_exchange
from bastion.store import Store

log = logging.getLogger("bastion.exchanges")

#: The longest the scheduler sleeps between looks at what is due (seconds).
MAX_TICK = 30.0


def is_due(info: ExchangeInfo, interval: float, now: datetime) -> bool:
    """Whether an enabled exchange's last sync started ``interval`` seconds ago or more
    (or never ran).  A sync running elsewhere is not due: its lease says so."""
    if not info.enabled or info.syncing_by is not None:
        return False
    started = info.last_started_at
    return started is None or now - started >= timedelta(seconds=interval)


class ExchangeScheduler:
    """Syncs every due exchange of ``store``, in a background thread while started.

    ``interval`` 0 (or less) turns the schedule off: ``start`` does nothing.
    """

    def __init__(
        self,
        store: Store,
        interval: float,
        *,
        http: Callable[[], Retrying] | None = None,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        self.store = store
        self.interval = interval
        self._http = http
        self._on_report = on_report
        self._holder = new_holder()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="bastion-exchanges", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the delta being applied; a sync cut short resumes at the next run."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        tick = min(self.interval, MAX_TICK)
        while not self._stop.wait(tick):
            try:
                self.run_due()
            except Exception:
                log.exception("scheduled exchange syncs failed")

    def run_due(self) -> list[SyncReport]:
        """Sync each exchange that is due now, one after another; the reports of those run."""
        reports: list[SyncReport] = []
        now = datetime.now(UTC)
        for info in Exchanges(self.store, actor="scheduler").list():
            if self._stop.is_set():
                break
            if not is_due(info, self.interval, now):
                continue
            report = self._sync(info.name)
            if report is not None:
                reports.append(report)
        return reports

    def _sync(self, name: str) -> SyncReport | None:
        http = self._http() if self._http is not None else None
        try:
            report = sync_exchange(self.store, name, holder=self._holder, http=http)
        except ExchangeBusy:
            log.info("exchange %s is being synced by another process; skipped", name)
            return None
        except ExchangeNotFound:
            return None  # removed since it was listed
        finally:
            if http is not None:
                http.close()
        if report.status == "ok":
            log.info("exchange %s synced: %s", name, _counts(report))
        else:
            log.warning("exchange %s sync ended %s: %s", name, report.status, report.error)
        if self._on_report is not None:
            self._on_report(report)
        return report


def _counts(report: SyncReport) -> str:
    counts = report.counts
    return (
        f"fetched {report.fetched}, added {counts['added']}, updated {counts['updated']}, "
        f"withdrawn {counts['withdrawn']}, rejected {counts['rejected']}"
    )
