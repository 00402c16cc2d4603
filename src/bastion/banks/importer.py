"""Importing a list into a bank: streaming, idempotent, one transaction.

Records are merged in batches, so a 10-million-line list needs memory for
one batch only; the whole import is still a single transaction, so a
document that turns out to be truncated half-way leaves the bank exactly as
it was.  Rows that cannot be used are reported (where and why) while every
valid row is kept.  Re-importing the same list changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion.banks.bank import bank_row
from bastion.banks.labels import format_labels
from bastion.banks.stored import stored_form, stored_value
from bastion.formats.records import DocumentVersion, ReadItem, Record, Reject
from bastion.store import Store
from bastion.store.models import Entry, ImportRecord, LabelSet, table

BATCH_SIZE = 5000
ENTRIES = table(Entry)
_UPDATE_ENTRY = (
    ENTRIES.update()
    .where(ENTRIES.c.id == bindparam("entry_id"))
    .values(
        label_set_id=bindparam("label_set_id"),
        external_id=bindparam("external_id"),
        withdrawn_at=bindparam("withdrawn_at"),
        import_id=bindparam("import_id"),
        seq=bindparam("seq"),
    )
)
#: Rejects kept in the report itself; all of them go to ``on_reject``.
REJECT_SAMPLE = 100


@dataclass(slots=True)
class ImportReport:
    bank: str
    source: str
    format: str
    dry_run: bool
    version: str | None = None
    rows: int = 0
    added: int = 0
    updated: int = 0
    restored: int = 0
    withdrawn: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return self.added + self.updated + self.restored + self.withdrawn

    def to_dict(self) -> dict[str, object]:
        return {
            "bank": self.bank,
            "rows": self.rows,
            "added": self.added,
            "updated": self.updated,
            "restored": self.restored,
            "withdrawn": self.withdrawn,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejects": [{"where": r.location, "reason": r.reason} for r in self.rejects],
        }

    def reject(self, item: Reject, on_reject: Callable[[Reject], None] | None) -> None:
        self.rejected += 1
        if len(self.rejects) < REJECT_SAMPLE:
            self.rejects.append(item)
        if on_reject is not None:
            on_reject(item)


class _LabelSets:
    """Ids of label combinations, created on first use and cached."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.ids: dict[str, int] = {}

    def id_for(self, labels: tuple[str, ...]) -> int:
        text = format_labels(labels)
        found = self.ids.get(text)
        if found is None:
            select_id = select(LabelSet.id).where(LabelSet.labels == text)
            found = self.session.execute(select_id).scalar_one_or_none()
            if found is None:
                try:
                    with self.session.begin_nested():
                        self.session.execute(insert(LabelSet).values(labels=text))
                except IntegrityError:
                    pass  # a concurrent import created the same combination
                found = self.session.execute(select_id).scalar_one()
            self.ids[text] = found
        return found


class _Merger:
    """Applies runs of records to one bank inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        bank_id: int,
        import_id: int,
        seq: int,
        report: ImportReport,
        on_reject: Callable[[Reject], None] | None,
    ) -> None:
        self.session = session
        self.bank_id = bank_id
        self.import_id = import_id
        self.seq = seq
        self.report = report
        self.on_reject = on_reject
        self.now = datetime.now(UTC)
        self.label_sets = _LabelSets(session)
        self.pending: list[Record] = []
        self.pending_tombstones: list[Record] = []

    def add(self, record: Record) -> None:
        if record.signal is None:
            if self.pending:
                self.flush()
            self.pending_tombstones.append(record)
        else:
            if self.pending_tombstones:
                self.flush()
            self.pending.append(record)
        if len(self.pending) + len(self.pending_tombstones) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self._merge_values(self.pending)
            self.pending = []
        if self.pending_tombstones:
            self._withdraw_external(self.pending_tombstones)
            self.pending_tombstones = []

    def _merge_values(self, records: list[Record]) -> None:
        latest: dict[tuple[str, str], Record] = {}
        for record in records:
            assert record.signal is not None
            key = (record.signal.type, stored_value(record.signal))
            earlier = latest.get(key)
            if earlier is None:
                latest[key] = record
            else:
                self._duplicate(record, f"duplicate of {earlier.location}")
        existing = {
            (row.signal_type, row.value): row
            for row in self.session.execute(
                select(
                    Entry.id,
                    Entry.signal_type,
                    Entry.value,
                    Entry.external_id,
                    Entry.label_set_id,
                    Entry.withdrawn_at,
                    Entry.import_id,
                    Entry.seq,
                ).where(
                    Entry.bank_id == self.bank_id,
                    Entry.value.in_({value for _, value in latest}),
                )
            )
        }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, record in latest.items():
            assert record.signal is not None
            label_set_id = self.label_sets.id_for(record.labels)
            row = existing.get(key)
            if row is None:
                inserts.append(
                    {
                        "bank_id": self.bank_id,
                        "signal_type": key[0],
                        "value": key[1],
                        "payload": stored_form(record.signal)[1],
                        "external_id": record.external_id,
                        "label_set_id": label_set_id,
                        "added_at": self.now,
                        "withdrawn_at": self.now if record.withdrawn else None,
                        "import_id": self.import_id,
                        "seq": self.seq,
                    }
                )
                self.report.withdrawn += record.withdrawn
                self.report.added += not record.withdrawn
                continue
            if row.import_id == self.import_id and row.seq == self.seq:
                self._duplicate(record, "duplicate of an earlier row of this list")
                continue
            external_id = record.external_id or row.external_id
            was_withdrawn = row.withdrawn_at is not None
            if record.withdrawn:
                if was_withdrawn:
                    self.report.unchanged += 1
                    continue
                self.report.withdrawn += 1
            elif was_withdrawn:
                self.report.restored += 1
            elif row.label_set_id != label_set_id or row.external_id != external_id:
                self.report.updated += 1
            else:
                self.report.unchanged += 1
                continue
            updates.append(
                {
                    "entry_id": row.id,
                    "label_set_id": label_set_id,
                    "external_id": external_id,
                    "withdrawn_at": self.now if record.withdrawn else None,
                    "import_id": self.import_id,
                    "seq": self.seq,
                }
            )
        connection = self.session.connection()
        if inserts:
            connection.execute(ENTRIES.insert(), inserts)
        if updates:
            connection.execute(_UPDATE_ENTRY, updates)

    def _withdraw_external(self, tombstones: list[Record]) -> None:
        ids = {record.external_id for record in tombstones if record.external_id}
        result = self.session.execute(
            update(Entry)
            .where(
                Entry.bank_id == self.bank_id,
                Entry.external_id.in_(ids),
                Entry.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=self.now, seq=self.seq, import_id=self.import_id)
            .execution_options(synchronize_session=False)
        )
        withdrawn = result.rowcount  # type: ignore[attr-defined]
        self.report.withdrawn += withdrawn
        self.report.unchanged += max(0, len(tombstones) - withdrawn)

    def _duplicate(self, record: Record, reason: str) -> None:
        self.report.reject(Reject(record.location, reason), self.on_reject)


def import_records(
    store: Store,
    bank: str,
    items: Iterable[ReadItem],
    *,
    source: str,
    format: str,
    version: str | None = None,
    dry_run: bool = False,
    on_reject: Callable[[Reject], None] | None = None,
) -> ImportReport:
    """Merge ``items`` into ``bank`` in one transaction (rolled back when ``dry_run``).

    Raises ``BankNotFound`` before reading anything, and lets a reader's
    ``FormatError`` through after rolling everything back.
    """
    report = ImportReport(bank, source, format, dry_run, version)
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    with store.sessions() as session:
        session.begin()
        try:
            bank_id = bank_row(session, bank).id
            seq = store.next_seq(session)
            record_row = ImportRecord(
                bank_id=bank_id,
                source=source,
                format=format,
                version=version,
                started_at=started_at,
                finished_at=started_at,
            )
            session.add(record_row)
            session.flush()
            merger = _Merger(session, bank_id, record_row.id, seq, report, on_reject)
            for item in items:
                if isinstance(item, DocumentVersion):
                    report.version = report.version or item.value
                    continue
                report.rows += 1
                if isinstance(item, Reject):
                    report.reject(item, on_reject)
                else:
                    merger.add(item)
            merger.flush()
            for name in ("added", "updated", "restored", "withdrawn", "unchanged", "rejected"):
                setattr(record_row, name, getattr(report, name))
            record_row.version = report.version
            record_row.finished_at = datetime.now(UTC)
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()
    report.seconds = time.perf_counter() - started
    return report
