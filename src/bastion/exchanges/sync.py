"""Syncing an exchange: each fetched delta and its checkpoint in one transaction.

A sync takes the exchange's lease (one fetcher at a time, however many
servers share the store), then applies delta after delta.  Each
transaction holds whole deltas (one, or with read-ahead the few fetched
meanwhile): their items, the newest version applied of each remote item
(``exchange_versions``), the last one's checkpoint and the lease's renewal;
so a sync killed at any point leaves the bank exactly as of some delta, and
the next sync resumes after it, with no entry lost and none twice.

For one remote key only a newer version is applied (a deletion wins a tie),
whatever order the server sends them in: a creation that arrives after its
own deletion is recognised as older and ignored.

The sync adds all its changes to one import record, and writes one audit
record when it ends, ok or not, with the exchange as actor and the counts.
A sync that was killed is audited by the next one (``interrupted``).
Rows that cannot be used are kept out, counted, and make the sync end as
an error naming the first of them, after every usable row is applied.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bastion import audit
from bastion.banks.importer import COUNTS, ImportReport, merge_records
from bastion.errors import BastionError
from bastion.exchanges import lease
from bastion.exchanges.api import Delta, ExchangeApi, RemoteItem
from bastion.exchanges.http import Retrying
from bastion.exchanges.registry import ExchangeInfo, build_api, exchange_row, info_of
from bastion.formats.records import Record, Reject
from bastion.store import Store
from bastion.store.bulk import insert_rows, one_of
from bastion.store.models import Exchange, ExchangeVersion, ImportRecord, table

VERSIONS = table(ExchangeVersion)
#: Keys withdrawn per statement when a whole-list run ends.
BATCH = 5000
#: Deltas fetched ahead of the one being applied, and the items applied in
#: one transaction at most (see ``_read_ahead``).
READ_AHEAD = 8
GROUP_ITEMS = 5000
#: Rejected rows kept in a sync's report (all are counted).
REJECT_SAMPLE = 20


@dataclass(slots=True)
class SyncReport:
    """What one sync fetched and changed; also the exchange's ``last_counts``."""

    exchange: str
    bank: str
    status: str = "running"
    error: str | None = None
    error_code: str | None = None
    resumed: bool = False
    full: bool = False
    deltas: int = 0
    fetched: int = 0
    #: Remote items older than what was already applied for their key.
    stale: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    rejects: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return self.counts["rejected"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "bank": self.bank,
            "status": self.status,
            "error": self.error,
            "error_code": self.error_code,
            "resumed": self.resumed,
            "full": self.full,
            "deltas": self.deltas,
            "fetched": self.fetched,
            "stale": self.stale,
            **{name: self.counts[name] for name in COUNTS},
            "skipped": dict(sorted(self.skipped.items())),
            "rejects": self.rejects,
            "seconds": round(self.seconds, 3),
        }

    def add_rejects(self, rejects: list[Reject]) -> None:
        self.counts["rejected"] += len(rejects)
        room = REJECT_SAMPLE - len(self.rejects)
        self.rejects.extend({"where": r.location, "reason": r.reason} for r in rejects[:room])


def _newest(items: list[RemoteItem]) -> dict[str, RemoteItem]:
    """The newest item of each key in a delta (a deletion wins a tie)."""
    newest: dict[str, RemoteItem] = {}
    for item in items:
        seen = newest.get(item.key)
        if seen is None or (item.version, item.deleted) > (seen.version, seen.deleted):
            newest[item.key] = item
    return newest


def _is_addition(record: Record | Reject) -> bool:
    return isinstance(record, Record) and record.signal is not None


class _Applier:
    """Applies deltas of one sync, each in its own transaction."""

    def __init__(self, store: Store, info: ExchangeInfo, holder: str, report: SyncReport) -> None:
        self.store = store
        self.info = info
        self.holder = holder
        self.report = report
        self.source = f"exchange:{info.name}"
        #: Version and deletion applied of the keys of the delta being applied.
        self._known: dict[str, tuple[int, bool]] = {}

    def apply(self, deltas: list[Delta]) -> None:
        """Apply consecutive deltas, each as if alone, and the last one's checkpoint,
        in one transaction."""
        with self.store.transaction() as session:
            row = exchange_row(session, self.info.name)
            lease.renew(session, row.id, self.holder)
            import_row = self._import_row(session, row)
            for delta in deltas:
                self._apply_one(session, row, import_row, delta)
            import_row.finished_at = datetime.now(UTC)
            row.checkpoint = json.dumps(deltas[-1].checkpoint, sort_keys=True)
            row.last_counts = json.dumps(self.report.to_dict())

    def _apply_one(
        self, session: Session, row: Exchange, import_row: ImportRecord, delta: Delta
    ) -> None:
        newest = _newest(delta.items)
        self.report.stale += len(delta.items) - len(newest)
        fresh = self._fresh(session, row.id, newest)
        # Deletions first, then additions: one withdrawal and one merge per
        # delta (not one per change of kind), and a hash that another item
        # of the delta still lists stays in the bank.
        records: list[Record | Reject] = sorted(
            (r for item in fresh for r in item.records), key=_is_addition
        )
        part = ImportReport(self.info.bank, self.source, self.info.api, False)
        merge_records(session, self.store, row.bank_id, records, part, into=import_row)
        self._remember(session, row.id, fresh)
        if delta.snapshot_version is not None:
            self._withdraw_absent(session, row.id, delta.snapshot_version, part, import_row)
        report = self.report
        report.deltas += 1
        report.fetched += delta.fetched
        report.skipped.update(delta.skipped)
        report.add_rejects(delta.rejects + part.rejects)
        for name in COUNTS:
            if name != "rejected":
                report.counts[name] += getattr(part, name)
        import_row.rejected += len(delta.rejects)

    def _withdraw_absent(
        self,
        session: Session,
        exchange_id: int,
        version: int,
        part: ImportReport,
        import_row: ImportRecord,
    ) -> None:
        """Withdraw the keys a whole-list run did not see (their version is older)."""
        absent = select(ExchangeVersion.key).where(
            ExchangeVersion.exchange_id == exchange_id,
            ExchangeVersion.version < version,
            ExchangeVersion.deleted.is_(False),
        )
        while keys := session.execute(absent.limit(BATCH)).scalars().all():
            gone = [
                RemoteItem(
                    key, version, True, (Record(key, None, external_id=key, withdrawn=True),)
                )
                for key in keys
            ]
            tombstones: list[Record | Reject] = [item.records[0] for item in gone]
            merge_records(
                session, self.store, import_row.bank_id, tombstones, part, into=import_row
            )
            self._known = dict.fromkeys(keys, (version, False))
            self._remember(session, exchange_id, gone)

    def _import_row(self, session: Session, row: Exchange) -> ImportRecord:
        if row.import_id is not None:
            found = session.get(ImportRecord, row.import_id)
            if found is not None:
                return found
        now = datetime.now(UTC)
        created = ImportRecord(
            bank_id=row.bank_id,
            source=self.source,
            format=self.info.api,
            started_at=now,
            finished_at=now,
            added=0,
            updated=0,
            restored=0,
            withdrawn=0,
            unchanged=0,
            rejected=0,
        )
        session.add(created)
        session.flush()
        row.import_id = created.id
        return created

    def _fresh(
        self, session: Session, exchange_id: int, newest: dict[str, RemoteItem]
    ) -> list[RemoteItem]:
        """The items newer than what was applied for their key (which ``_known`` keeps)."""
        self._known = {}
        self.store.ensure_statistics(session, VERSIONS.name)
        if newest:
            rows = session.execute(
                select(ExchangeVersion.key, ExchangeVersion.version, ExchangeVersion.deleted).where(
                    ExchangeVersion.exchange_id == exchange_id,
                    one_of(ExchangeVersion.key, list(newest), session.get_bind().dialect.name),
                )
            )
            self._known = {key: (version, bool(deleted)) for key, version, deleted in rows}
        fresh: list[RemoteItem] = []
        for key, item in newest.items():
            known = self._known.get(key)
            if known is not None and (item.version, item.deleted) <= known:
                self.report.stale += 1
                continue
            fresh.append(item)
        return fresh

    def _remember(self, session: Session, exchange_id: int, fresh: list[RemoteItem]) -> None:
        """Store the version applied of each fresh item, in the delta's transaction."""
        connection = session.connection()
        inserts = [
            (exchange_id, item.key, item.version, item.deleted)
            for item in fresh
            if item.key not in self._known
        ]
        updates = [
            {"of_key": item.key, "version": item.version, "deleted": item.deleted}
            for item in fresh
            if item.key in self._known
        ]
        insert_rows(connection, VERSIONS, ("exchange_id", "key", "version", "deleted"), inserts)
        if updates:
            connection.execute(
                VERSIONS.update().where(
                    VERSIONS.c.exchange_id == exchange_id, VERSIONS.c.key == bindparam("of_key")
                ),
                updates,
            )


def sync_exchange(
    store: Store,
    name: str,
    *,
    full: bool = False,
    holder: str | None = None,
    http: Retrying | None = None,
    api: ExchangeApi | None = None,
    on_delta: Callable[[SyncReport], None] | None = None,
    read_ahead: bool = False,
) -> SyncReport:
    """Sync the exchange ``name`` once; the report says how it ended.

    A sync that fails ends with ``status == "error"`` and the error in the
    report and in ``exchange show`` (it does not raise); another process
    syncing the same exchange raises ``ExchangeBusy`` before anything runs.
    ``full`` fetches the list from its beginning.  ``read_ahead`` fetches
    the next page while one is applied (see ``_read_ahead``): a first sync
    of millions of entries then takes about as long as the slower of the
    two, not their sum; without it nothing is fetched before ``on_delta``
    has seen the delta before.
    """
    holder = holder or lease.new_holder()
    with store.sessions() as session:
        row = exchange_row(session, name)
        info, exchange_id = info_of(session, row), row.id
    report = SyncReport(info.name, info.bank, full=full)
    started = time.perf_counter()
    lease.take(store, exchange_id, holder)
    try:
        checkpoint = _begin(store, info, report)
        client = api or build_api(info, http)
        applier = _Applier(store, info, holder, report)
        deltas = client.fetch(checkpoint)
        for group in _read_ahead(deltas) if read_ahead else ([delta] for delta in deltas):
            applier.apply(group)
            if on_delta is not None:
                on_delta(report)
    except BastionError as exc:
        report.status, report.error, report.error_code = "error", str(exc), exc.code
    except Exception as exc:
        report.status, report.error_code = "error", "internal"
        report.error = f"internal error: {type(exc).__name__}: {exc}"
        raise
    else:
        if report.rejected:
            first = report.rejects[0]
            report.status, report.error_code = "error", "exchange-rejects"
            report.error = (
                f"{report.rejected:,} rows could not be used (every other row was applied); "
                f"first: {first['where']}: {first['reason']}"
            )
        else:
            report.status = "ok"
    finally:
        if report.status == "running":
            report.status, report.error = "interrupted", "the sync was stopped"
        report.seconds = time.perf_counter() - started
        _finish(store, exchange_id, holder, report)
    return report


def _read_ahead(deltas: Iterator[Delta]) -> Iterator[list[Delta]]:
    """``deltas`` as they come, fetched (on a thread) while earlier ones are applied.

    The network and the store then wait for each other once per sync, not
    once per page.  The deltas fetched while one group was applied come as
    the next group (up to ``GROUP_ITEMS`` items), applied in one transaction,
    each delta as if alone (the bank ends the same however they were
    grouped): a store slower than the network then commits fewer, larger
    transactions instead of falling further behind.  The thread's error is raised here, in its
    place: after every delta fetched before it.  Leaving the loop early
    stops the thread once it has fetched the deltas ahead.
    """
    ahead: queue.Queue[tuple[Delta | None, BaseException | None]] = queue.Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for delta in deltas:
                ahead.put((delta, None))
                if stop.is_set():
                    return
            ahead.put((None, None))
        except BaseException as exc:  # noqa: BLE001 - re-raised by the consumer
            ahead.put((None, exc))

    thread = threading.Thread(target=fetch, name="exchange-fetch", daemon=True)
    thread.start()
    group: list[Delta] = []
    try:
        while True:
            if group and (sum(len(d.items) for d in group) >= GROUP_ITEMS or ahead.empty()):
                yield group
                group = []
            delta, error = ahead.get()
            if error is not None:
                if group:
                    yield group
                raise error
            if delta is None:
                if group:
                    yield group
                return
            group.append(delta)
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.1)
        thread.join()


def _begin(store: Store, info: ExchangeInfo, report: SyncReport) -> dict[str, Any] | None:
    """Mark the sync running (auditing one that was killed) and return its checkpoint."""
    with store.transaction() as session:
        row = exchange_row(session, info.name)
        if row.last_status == "running":
            earlier = json.loads(row.last_counts) if row.last_counts else {}
            earlier.update(status="interrupted", error="the process syncing it stopped")
            _audit(session, info, earlier)
        # Resuming: going on from where a sync that did not end well committed to.
        unfinished = row.last_status in ("running", "error", "interrupted")
        report.resumed = bool(row.checkpoint) and not report.full and unfinished
        row.import_id = None
        row.last_status = "running"
        row.last_started_at = datetime.now(UTC)
        return None if report.full or not row.checkpoint else dict(json.loads(row.checkpoint))


def _finish(store: Store, exchange_id: int, holder: str, report: SyncReport) -> None:
    """Record how the sync ended, audit it and give up the lease, in one transaction."""
    counts = report.to_dict()
    with store.transaction() as session:
        row = session.get(Exchange, exchange_id)
        if row is not None:
            now = datetime.now(UTC)
            row.last_status = report.status
            row.last_error = report.error
            row.last_finished_at = now
            if report.status == "ok":
                row.last_success_at = now
            row.last_counts = json.dumps(counts)
            row.import_id = None
            _audit(session, info_of(session, row), counts)
        lease.release(session, exchange_id, holder)


def _audit(session: Session, info: ExchangeInfo, counts: dict[str, Any]) -> None:
    detail = {k: v for k, v in counts.items() if k not in ("exchange", "rejects")}
    audit.record(session, f"exchange:{info.name}", "exchange.sync", f"bank:{info.bank}", **detail)
