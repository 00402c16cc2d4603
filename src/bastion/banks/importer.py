"""Merging a list into a bank: streaming, idempotent, in one transaction.

Records are merged in batches, so a 10-million-line list needs memory for
one batch only; the whole import is still a single transaction, so a
document that turns out to be truncated half-way leaves the bank exactly as
it was.  Rows that cannot be used are reported (where and why) while every
valid row is kept.  Re-importing the same list changes nothing, and a list
with no usable row changes nothing and is not recorded as an import.

Each source keeps its own labels and external id for an entry
(``entry_sources``); the entry's labels are the union over its sources, so
a list that shares a hash with another adds to its labels and never wipes
them.  A later version of the same source replaces that source's own
labels; ``replace_labels`` makes the import's labels the entry's only ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion.banks.staging import Staging
from bastion.banks.stored import stored_form, stored_value
from bastion.formats.records import DocumentVersion, FormatError, ReadItem, Record, Reject
from bastion.labels import format_labels, parse_stored_labels
from bastion.store import Store
from bastion.store.bulk import insert_rows, new_ids, one_of
from bastion.store.models import Entry, EntrySource, ImportRecord, LabelSet, table

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
SOURCES = table(EntrySource)
_ENTRY_COLUMNS = (
    "bank_id",
    "signal_type",
    "value",
    "payload",
    "external_id",
    "label_set_id",
    "added_at",
    "withdrawn_at",
    "import_id",
    "seq",
)
_SOURCE_COLUMNS = ("entry_id", "source", "external_id", "label_set_id")
_UPDATE_SOURCE = (
    SOURCES.update()
    .where(SOURCES.c.entry_id == bindparam("of_entry"), SOURCES.c.source == bindparam("of_source"))
    .values(external_id=bindparam("external_id"), label_set_id=bindparam("label_set_id"))
)
#: What an import did, as its report, its import record and its audit record count it.
COUNTS = ("added", "updated", "restored", "withdrawn", "unchanged", "rejected")
#: Rejects (and label changes) kept in the report itself; all rejects go to ``on_reject``.
REJECT_SAMPLE = 100


@dataclass(frozen=True, slots=True)
class LabelChange:
    """An entry whose labels an import changes: where in the list, and from what to what."""

    location: str
    before: tuple[str, ...]
    after: tuple[str, ...]


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
    #: Existing entries whose labels change (a part of updated and restored).
    relabelled: int = 0
    rejects: list[Reject] = field(default_factory=list)
    label_changes: list[LabelChange] = field(default_factory=list)
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
            "relabelled": self.relabelled,
            "rejects": [{"where": r.location, "reason": r.reason} for r in self.rejects],
            "label_changes": [
                {"where": c.location, "before": list(c.before), "after": list(c.after)}
                for c in self.label_changes
            ],
        }

    def reject(self, item: Reject, on_reject: Callable[[Reject], None] | None) -> None:
        self.rejected += 1
        if len(self.rejects) < REJECT_SAMPLE:
            self.rejects.append(item)
        if on_reject is not None:
            on_reject(item)

    def relabel(self, change: LabelChange) -> None:
        self.relabelled += 1
        if len(self.label_changes) < REJECT_SAMPLE:
            self.label_changes.append(change)


class _LabelSets:
    """Ids of label combinations, created on first use and cached."""

    session: Session

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.labels: dict[int, tuple[str, ...]] = {}

    def labels_of(self, label_set_id: int) -> tuple[str, ...]:
        found = self.labels.get(label_set_id)
        if found is None:
            text = self.session.execute(
                select(LabelSet.labels).where(LabelSet.id == label_set_id)
            ).scalar_one()
            found = self.labels[label_set_id] = parse_stored_labels(text)
        return found

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
            self.labels[found] = tuple(labels)
        return found


class _Merger:
    """Applies runs of records to one bank inside the caller's transaction.

    A bulk import merges batch after batch, each in its own transaction with
    its own change number: ``begin`` points the merger at the next one.
    """

    session: Session
    seq: int
    dialect: str

    def __init__(
        self,
        store: Store,
        bank_id: int,
        import_id: int,
        report: ImportReport,
        on_reject: Callable[[Reject], None] | None,
        *,
        source: str,
        replace_labels: bool,
    ) -> None:
        self.store = store
        self.source = source
        self.replace_labels = replace_labels
        #: Records (signals and tombstones) taken from the list.
        self.records = 0
        self.bank_id = bank_id
        self.import_id = import_id
        self.report = report
        self.on_reject = on_reject
        self.now = datetime.now(UTC)
        self.label_sets = _LabelSets()
        self.pending: list[Record] = []
        self.pending_tombstones: list[Record] = []
        #: The change number of the merge's first transaction: an entry this
        #: import stamped with it or a later one was set by an earlier row.
        self.first_seq: int | None = None

    def begin(self, session: Session, seq: int) -> None:
        """Merge what follows in ``session``'s transaction, as change ``seq``."""
        self.session = self.label_sets.session = session
        self.dialect = session.get_bind().dialect.name
        self.seq = seq
        if self.first_seq is None:
            self.first_seq = seq
        self.store.ensure_statistics(session, ENTRIES.name, SOURCES.name)

    def add(self, record: Record) -> None:
        self.records += 1
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
        existing = self._existing(latest)
        sources = self._sources_of([row.id for row in existing.values()])
        new: list[tuple[tuple[str, str], Record]] = []
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        source_inserts: list[tuple[Any, ...]] = []
        source_updates: list[dict[str, Any]] = []
        for key, record in latest.items():
            assert record.signal is not None
            row = existing.get(key)
            if row is None:
                new.append((key, record))
                inserts.append(
                    (
                        self.bank_id,
                        key[0],
                        key[1],
                        stored_form(record.signal)[1],
                        record.external_id,
                        self.label_sets.id_for(record.labels),
                        self.now,
                        self.now if record.withdrawn else None,
                        self.import_id,
                        self.seq,
                    )
                )
                self.report.withdrawn += record.withdrawn
                self.report.added += not record.withdrawn
                continue
            if row.import_id == self.import_id and row.seq >= (self.first_seq or self.seq):
                self._duplicate(record, "duplicate of an earlier row of this list")
                continue
            said = sources[row.id]
            own = said.pop(self.source, None)
            own_now = (record.external_id or (own[0] if own else None), self._set_id(record))
            cleared = [s for s, (_, labels) in said.items() if labels != self._set_id(())]
            if self.replace_labels:
                labels = record.labels
            else:
                others = (self.label_sets.labels_of(set_id) for _, set_id in said.values())
                labels = tuple(sorted(set(record.labels).union(*others)))
            label_set_id = self.label_sets.id_for(labels)
            external_id = record.external_id or row.external_id
            was_withdrawn = row.withdrawn_at is not None
            changed = (
                row.label_set_id != label_set_id
                or row.external_id != external_id
                or own != own_now
                or (self.replace_labels and bool(cleared))
            )
            if record.withdrawn:
                if was_withdrawn:
                    self.report.unchanged += 1
                    continue
                self.report.withdrawn += 1
            elif was_withdrawn:
                self.report.restored += 1
            elif changed:
                self.report.updated += 1
            else:
                self.report.unchanged += 1
                continue
            if row.label_set_id != label_set_id:
                before = self.label_sets.labels_of(row.label_set_id)
                self.report.relabel(LabelChange(record.location, before, labels))
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
            if own is None:
                source_inserts.append((row.id, self.source, *own_now))
            elif own != own_now:
                source_updates.append(
                    {
                        "of_entry": row.id,
                        "of_source": self.source,
                        "external_id": own_now[0],
                        "label_set_id": own_now[1],
                    }
                )
            if self.replace_labels:
                source_updates.extend(
                    {
                        "of_entry": row.id,
                        "of_source": other,
                        "external_id": said[other][0],
                        "label_set_id": self._set_id(()),
                    }
                    for other in cleared
                )
        connection = self.session.connection()
        if inserts:
            # In the list's order: entry ids follow it (HMA's content ids are
            # the first entry's id of an item).
            ids = new_ids(connection, ENTRIES, len(inserts))
            insert_rows(
                connection,
                ENTRIES,
                ("id", *_ENTRY_COLUMNS),
                [(entry_id, *row) for entry_id, row in zip(ids, inserts, strict=True)],
            )
            source_inserts.extend(
                (entry_id, self.source, record.external_id, self._set_id(record))
                for entry_id, (_, record) in zip(ids, new, strict=True)
            )
        if updates:
            connection.execute(_UPDATE_ENTRY, updates)
        insert_rows(connection, SOURCES, _SOURCE_COLUMNS, source_inserts)
        if source_updates:
            connection.execute(_UPDATE_SOURCE, source_updates)

    def _existing(self, latest: dict[tuple[str, str], Record]) -> dict[tuple[str, str], Any]:
        """The bank's entries of these (type, stored value) keys, found by the
        unique index's whole key (by value alone, PostgreSQL scans the bank)."""
        by_type: dict[str, list[str]] = defaultdict(list)
        for signal_type, value in latest:
            by_type[signal_type].append(value)
        found: dict[tuple[str, str], Any] = {}
        for signal_type, values in by_type.items():
            rows = self.session.execute(
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
                    Entry.signal_type == signal_type,
                    one_of(Entry.value, values, self.dialect),
                )
            )
            found.update(((row.signal_type, row.value), row) for row in rows)
        return found

    def _set_id(self, record: Record | tuple[str, ...]) -> int:
        """The label set id of a record's labels (or of given labels)."""
        return self.label_sets.id_for(record.labels if isinstance(record, Record) else record)

    def _sources_of(self, entry_ids: list[int]) -> dict[int, dict[str, tuple[str | None, int]]]:
        """What each source says of these entries: source -> (external id, label set id)."""
        said: dict[int, dict[str, tuple[str | None, int]]] = defaultdict(dict)
        if entry_ids:
            for entry_id, source, external_id, label_set_id in self.session.execute(
                select(
                    EntrySource.entry_id,
                    EntrySource.source,
                    EntrySource.external_id,
                    EntrySource.label_set_id,
                ).where(one_of(EntrySource.entry_id, entry_ids, self.dialect))
            ):
                said[entry_id][source] = (external_id, label_set_id)
        return said

    def _withdraw_external(self, tombstones: list[Record]) -> None:
        """Withdraw the items these tombstones name, by this source's ids for them
        (or the id an entry was last given, as before sources were kept apart)."""
        ids = sorted({record.external_id for record in tombstones if record.external_id})
        active = (Entry.bank_id == self.bank_id, Entry.withdrawn_at.is_(None))
        # Each lookup by an index of its own: joined, or with OR, SQLite
        # walks the whole bank instead.
        entries_of: dict[str | None, set[int]] = defaultdict(set)
        for entry_id, name in self.session.execute(
            select(Entry.id, Entry.external_id).where(
                *active, one_of(Entry.external_id, ids, self.dialect)
            )
        ):
            entries_of[name].add(entry_id)
        named = self.session.execute(
            select(EntrySource.entry_id, EntrySource.external_id).where(
                EntrySource.source == self.source,
                one_of(EntrySource.external_id, ids, self.dialect),
            )
        ).all()
        if named:
            # By id alone (given the bank too, SQLite walks the bank's index).
            live = {
                entry_id
                for entry_id, bank_id in self.session.execute(
                    select(Entry.id, Entry.bank_id).where(
                        one_of(Entry.id, [e for e, _ in named], self.dialect),
                        Entry.withdrawn_at.is_(None),
                    )
                )
                if bank_id == self.bank_id
            }
            for entry_id, name in named:
                if entry_id in live:
                    entries_of[name].add(entry_id)
        # Counted as tombstone by tombstone: one that finds nothing still
        # active (an earlier one of the list took it) is unchanged.
        withdrawn: set[int] = set()
        for record in tombstones:
            found = entries_of.get(record.external_id, set()) - withdrawn
            withdrawn |= found
            self.report.unchanged += not found
        if withdrawn:
            self.session.execute(
                update(Entry)
                .where(one_of(Entry.id, sorted(withdrawn), self.dialect))
                .values(withdrawn_at=self.now, seq=self.seq, import_id=self.import_id)
                .execution_options(synchronize_session=False)
            )
        self.report.withdrawn += len(withdrawn)

    def _duplicate(self, record: Record, reason: str) -> None:
        self.report.reject(Reject(record.location, reason), self.on_reject)


def merge_records(
    session: Session,
    store: Store,
    bank_id: int,
    items: Iterable[ReadItem],
    report: ImportReport,
    *,
    replace_labels: bool = False,
    on_reject: Callable[[Reject], None] | None = None,
    into: ImportRecord | None = None,
) -> None:
    """Merge ``items`` into a bank in ``session``'s transaction, counting in ``report``.

    ``report.source`` names the list: its labels and ids are kept apart from
    other sources' (see the module's docstring).  A reader's ``FormatError``
    goes through, and a list with no usable row is a ``FormatError`` too:
    the caller rolls the transaction back, import record and all.
    ``Banks.import_records`` is the way in, with the change audited.

    ``into`` is an import record to add this merge's counts to, for an
    import committed in several transactions (an exchange's sync, delta by
    delta); an empty merge is then no error.
    """
    seq = store.next_seq(session)
    record_row = into or _new_import_record(session, bank_id, report)
    merger = _Merger(
        store,
        bank_id,
        record_row.id,
        report,
        on_reject,
        source=report.source,
        replace_labels=replace_labels,
    )
    merger.begin(session, seq)
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
    if not merger.records and into is None:
        raise FormatError(_nothing_usable(report))
    for name in COUNTS:
        earlier = getattr(record_row, name) or 0 if into is not None else 0
        setattr(record_row, name, earlier + getattr(report, name))
    record_row.version = report.version
    record_row.finished_at = datetime.now(UTC)


def merge_in_batches(
    store: Store,
    bank_id: int,
    items: Iterable[ReadItem],
    report: ImportReport,
    *,
    replace_labels: bool = False,
    on_reject: Callable[[Reject], None] | None = None,
    finish: Callable[[Session], None] | None = None,
) -> None:
    """Merge ``items`` into a bank as ``merge_records`` does, committing batch by batch.

    The whole list is staged first (``bastion.banks.staging``), so a
    ``FormatError`` anywhere in it, or a list with no usable row, leaves the
    bank untouched.  Then each batch of ``BATCH_SIZE`` records is merged and
    committed in its own transaction, with its own change number: other
    writers (another bank's adds, an exchange's sync) wait for one batch at
    most, never for the whole list.  The first batch creates the import
    record, each one brings its counts up to date, and the last one calls
    ``finish`` (the audit record) in its transaction.  An import stopped
    part-way has applied whole batches only; importing the list again
    completes it, changing nothing twice.
    """
    with store.engine.connect() as connection:
        staging = Staging(connection)
        try:
            for run in _records(items, report, on_reject):
                staging.add(run)
            staging.finish()
            if not staging.count:
                raise FormatError(_nothing_usable(report))
            _merge_staged(store, bank_id, staging, report, replace_labels, on_reject, finish)
        finally:
            staging.drop()


def _records(
    items: Iterable[ReadItem], report: ImportReport, on_reject: Callable[[Reject], None] | None
) -> Iterator[list[Record]]:
    """The list's records in runs of ``BATCH_SIZE``, counting its rows and rejects."""
    run: list[Record] = []
    for item in items:
        if isinstance(item, DocumentVersion):
            report.version = report.version or item.value
            continue
        report.rows += 1
        if isinstance(item, Reject):
            report.reject(item, on_reject)
            continue
        run.append(item)
        if len(run) >= BATCH_SIZE:
            yield run
            run = []
    if run:
        yield run


def _merge_staged(
    store: Store,
    bank_id: int,
    staging: Staging,
    report: ImportReport,
    replace_labels: bool,
    on_reject: Callable[[Reject], None] | None,
    finish: Callable[[Session], None] | None,
) -> None:
    merger: _Merger | None = None
    batches = staging.batches(BATCH_SIZE)
    batch = next(batches)
    while batch:
        following = next(batches, [])
        with store.transaction() as session:
            seq = store.next_seq(session)
            if merger is None:
                record_row = _new_import_record(session, bank_id, report)
                merger = _Merger(
                    store,
                    bank_id,
                    record_row.id,
                    report,
                    on_reject,
                    source=report.source,
                    replace_labels=replace_labels,
                )
            else:
                record_row = session.get_one(ImportRecord, merger.import_id)
            merger.begin(session, seq)
            for record in batch:
                merger.add(record)
            merger.flush()
            for name in COUNTS:
                setattr(record_row, name, getattr(report, name))
            record_row.version = report.version
            record_row.finished_at = datetime.now(UTC)
            if not following and finish is not None:
                finish(session)
        batch = following


def _new_import_record(session: Session, bank_id: int, report: ImportReport) -> ImportRecord:
    started_at = datetime.now(UTC)
    row = ImportRecord(
        bank_id=bank_id,
        source=report.source,
        format=report.format,
        version=report.version,
        started_at=started_at,
        finished_at=started_at,
    )
    session.add(row)
    session.flush()
    return row


def _nothing_usable(report: ImportReport) -> str:
    if not report.rows:
        return f"{report.source}: no {report.format} rows found; nothing imported"
    return (
        f"{report.source}: none of its {report.rows:,} rows could be used as {report.format} "
        f"({report.rejected:,} rejected); nothing imported"
    )
