"""Banks: named lists of known hashes, created, described, filled and deleted.

A blocklist holds hashes to find; an allowlist holds known false positives,
and a hit on it suppresses matches of the same hash in every other bank.

Every change goes through ``Banks``, which writes its audit record in the
change's own transaction, naming the actor the door constructed it with.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.banks.importer import COUNTS, ImportReport, merge_in_batches, merge_records
from bastion.banks.stored import stored_value
from bastion.errors import BastionError
from bastion.fingerprint import Signal
from bastion.formats.records import ReadItem, Record, Reject
from bastion.labels import normalize_labels, parse_stored_labels
from bastion.signals.types import normalize_signal
from bastion.store import Store, as_utc
from bastion.store.models import Bank as BankRow
from bastion.store.models import ContentNote, Entry, EntrySource, ImportRecord, LabelSet

DEFAULT_PDQ_THRESHOLD = 31
#: Above this, unrelated photos start to match (random pairs sit near 128).
MAX_PDQ_THRESHOLD = 63

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class BankKind(StrEnum):
    BLOCKLIST = "blocklist"
    ALLOWLIST = "allowlist"


class BankError(BastionError, ValueError):
    """A bank operation that cannot be done as asked."""

    code = "bank-error"
    status = 400


class BankNotFound(BankError):
    code = "bank-not-found"
    status = 404


@dataclass(frozen=True, slots=True)
class Bank:
    id: int
    name: str
    kind: BankKind
    description: str
    pdq_threshold: int
    created_at: datetime
    #: Share of lookups the bank answers in (HMA's switch): 0 is disabled.
    matching_enabled_ratio: float = 1.0

    @classmethod
    def from_row(cls, row: BankRow) -> Bank:
        return cls(
            row.id,
            row.name,
            BankKind(row.kind),
            row.description,
            row.pdq_threshold,
            as_utc(row.created_at),
            row.matching_enabled_ratio,
        )

    def to_dict(self) -> dict[str, str | int]:
        """The bank as JSON, the same from every door (CLI and API)."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "description": self.description,
            "pdq_threshold": self.pdq_threshold,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ImportSummary:
    source: str
    format: str
    version: str | None
    finished_at: datetime
    added: int
    updated: int
    restored: int
    withdrawn: int
    unchanged: int
    rejected: int


@dataclass(frozen=True, slots=True)
class BankStats:
    bank: Bank
    active: int
    withdrawn: int
    by_signal_type: dict[str, int]
    by_label: dict[str, int]
    imports: int
    last_import: ImportSummary | None


def validate_bank_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise BankError(
            f"invalid bank name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_threshold(threshold: int) -> int:
    if not 0 <= threshold <= MAX_PDQ_THRESHOLD:
        raise BankError(f"PDQ threshold must be between 0 and {MAX_PDQ_THRESHOLD}, not {threshold}")
    return threshold


def validate_ratio(ratio: float) -> float:
    if not 0.0 <= ratio <= 1.0:
        raise BankError(f"matching_enabled_ratio must be between 0 and 1, not {ratio}")
    return ratio


def bank_row(session: Session, name: str) -> BankRow:
    row = session.execute(select(BankRow).where(BankRow.name == name)).scalar_one_or_none()
    if row is None:
        raise BankNotFound(f"no bank named {name!r} (see `bastion bank list`)")
    return row


class Banks:
    """Bank management on one store, on behalf of ``actor`` (see ``bastion.audit``).

    Each change and its audit record commit together in one transaction;
    given a ``session``, changes join that session's transaction instead,
    and commit (or roll back) with whatever else the caller does in it.
    """

    def __init__(self, store: Store, *, actor: str, session: Session | None = None) -> None:
        self.store = store
        self.actor = actor
        self._session = session

    @contextmanager
    def _changing(self) -> Iterator[Session]:
        if self._session is not None:
            yield self._session
        else:
            with self.store.transaction() as session:
                yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        if self._session is not None:
            yield self._session
        else:
            with self.store.sessions() as session:
                yield session

    def _record(self, session: Session, action: str, name: str, **detail: Any) -> None:
        audit.record(session, self.actor, action, f"bank:{name}", **detail)

    def create(
        self,
        name: str,
        *,
        kind: BankKind = BankKind.BLOCKLIST,
        description: str = "",
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
        matching_enabled_ratio: float = 1.0,
    ) -> Bank:
        row = BankRow(
            name=validate_bank_name(name),
            kind=BankKind(kind).value,
            description=description,
            pdq_threshold=validate_threshold(pdq_threshold),
            created_at=datetime.now(UTC),
            matching_enabled_ratio=validate_ratio(matching_enabled_ratio),
        )
        try:
            with self._changing() as session:
                session.add(row)
                session.flush()
                # Loaded indices learn of the bank; and the sequence, like every
                # change's, is taken before the audit record (see audit.record).
                self.store.next_seq(session)
                bank = Bank.from_row(row)
                self._record(
                    session, "bank.create", name, kind=bank.kind.value, pdq_threshold=pdq_threshold
                )
                return bank
        except IntegrityError:
            raise BankError(f"a bank named {name!r} already exists") from None

    def get(self, name: str) -> Bank:
        with self._reading() as session:
            return Bank.from_row(bank_row(session, name))

    def list(self) -> list[Bank]:
        with self._reading() as session:
            rows = session.execute(select(BankRow).order_by(BankRow.name)).scalars()
            return [Bank.from_row(row) for row in rows]

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        pdq_threshold: int | None = None,
        matching_enabled_ratio: float | None = None,
    ) -> Bank:
        changed: dict[str, Any] = {}
        with self._changing() as session:
            row = bank_row(session, name)
            if description is not None:
                row.description = changed["description"] = description
            if pdq_threshold is not None:
                row.pdq_threshold = changed["pdq_threshold"] = validate_threshold(pdq_threshold)
            if matching_enabled_ratio is not None:
                ratio = validate_ratio(matching_enabled_ratio)
                row.matching_enabled_ratio = changed["matching_enabled_ratio"] = ratio
                # Loaded indices drop or take back the bank when they look again.
                self.store.next_seq(session)
            session.flush()
            self._record(session, "bank.update", name, **changed)
            return Bank.from_row(row)

    def delete(self, name: str) -> int:
        """Delete a bank with all its entries and import records; returns the entry count."""
        with self._changing() as session:
            row = bank_row(session, name)
            count = session.execute(
                select(func.count()).select_from(Entry).where(Entry.bank_id == row.id)
            ).scalar_one()
            # Explicit deletes: SQLite enforces ON DELETE CASCADE only with the
            # foreign_keys pragma, which another tool opening the file may lack.
            entries = select(Entry.id).where(Entry.bank_id == row.id)
            session.execute(delete(EntrySource).where(EntrySource.entry_id.in_(entries)))
            session.execute(delete(Entry).where(Entry.bank_id == row.id))
            session.execute(delete(ImportRecord).where(ImportRecord.bank_id == row.id))
            session.execute(delete(ContentNote).where(ContentNote.bank_id == row.id))
            session.delete(row)
            # A deleted bank's entries leave the index through the bank list;
            # bumping the sequence tells loaded indices to look again.
            self.store.next_seq(session)
            self._record(session, "bank.delete", name, entries=count)
            return int(count)

    def import_records(
        self,
        bank: str,
        items: Iterable[ReadItem],
        *,
        source: str,
        format: str,
        version: str | None = None,
        dry_run: bool = False,
        replace_labels: bool = False,
        on_reject: Callable[[Reject], None] | None = None,
    ) -> ImportReport:
        """Merge a list into ``bank`` in one transaction (see ``bastion.banks.importer``).

        Raises ``BankNotFound`` before reading anything, and lets a reader's
        ``FormatError`` through after rolling everything back; a list with
        no usable row is a ``FormatError`` too, and leaves no import record.
        A dry run merges in a savepoint it rolls back, and is not recorded.

        Unless it joins the caller's transaction (or is a dry run), the list
        is staged whole and then committed batch by batch
        (``merge_in_batches``): other writers never wait for more than a batch.
        """
        report = ImportReport(bank, source, format, dry_run, version)
        if dry_run or self._session is not None:
            return self._merge(
                "bank.import",
                items,
                report,
                dry_run=dry_run,
                replace_labels=replace_labels,
                on_reject=on_reject,
            )
        started = time.perf_counter()
        with self.store.sessions() as session:
            bank_id = bank_row(session, bank).id
        merge_in_batches(
            self.store,
            bank_id,
            items,
            report,
            replace_labels=replace_labels,
            on_reject=on_reject,
            finish=lambda session: self._audit_import(session, "bank.import", report),
        )
        report.seconds = time.perf_counter() - started
        return report

    def add_signals(
        self,
        bank: str,
        signals: Iterable[Signal],
        labels: Iterable[str] = (),
        *,
        source: str = "manual",
        external_ids: Iterable[str | None] | None = None,
    ) -> ImportReport:
        """Add (or relabel, or restore) signals in ``bank``, as a list of them is imported.

        ``external_ids`` (one per signal) groups signals of one item, as the
        hashes of one file, so exports write them as one list item.
        """
        canonical = normalize_labels(labels)
        normalized = [normalize_signal(s.type, s.value) for s in signals]
        ids = list(external_ids) if external_ids is not None else [None] * len(normalized)
        records = [
            Record(f"{signal.type}:{signal.value}", signal, canonical, external_id)
            for signal, external_id in zip(normalized, ids, strict=True)
        ]
        report = ImportReport(bank, source, "manual", False)
        return self._merge("bank.add", records, report)

    def _merge(
        self,
        action: str,
        items: Iterable[ReadItem],
        report: ImportReport,
        *,
        dry_run: bool = False,
        replace_labels: bool = False,
        on_reject: Callable[[Reject], None] | None = None,
    ) -> ImportReport:
        started = time.perf_counter()
        with self._changing() as session:
            bank_id = bank_row(session, report.bank).id
            trial = session.begin_nested() if dry_run else None
            merge_records(
                session,
                self.store,
                bank_id,
                items,
                report,
                replace_labels=replace_labels,
                on_reject=on_reject,
            )
            if trial is not None:
                trial.rollback()
            else:
                self._audit_import(session, action, report)
        report.seconds = time.perf_counter() - started
        return report

    def _audit_import(self, session: Session, action: str, report: ImportReport) -> None:
        counts = {name: getattr(report, name) for name in COUNTS}
        self._record(
            session,
            action,
            report.bank,
            source=report.source,
            format=report.format,
            version=report.version,
            rows=report.rows,
            **counts,
        )

    def describe_content(
        self, bank: str, external_id: str, metadata: str | None, note: str | None
    ) -> None:
        """Record (or replace) what a curator said of the item ``external_id``:
        its metadata (JSON text) and note."""
        with self._changing() as session:
            bank_id = bank_row(session, bank).id
            session.merge(
                ContentNote(
                    bank_id=bank_id, external_id=external_id, content_metadata=metadata, note=note
                )
            )
            session.flush()
            self._record(session, "bank.describe", bank, item=external_id)

    def withdraw_signals(self, bank: str, signals: Iterable[Signal]) -> int:
        """Withdraw active entries holding these signals; returns how many were withdrawn."""
        withdrawn = 0
        asked = 0
        with self._changing() as session:
            bank_id = bank_row(session, bank).id
            seq = self.store.next_seq(session)
            now = datetime.now(UTC)
            for signal in signals:
                asked += 1
                result = session.execute(
                    update(Entry)
                    .where(
                        Entry.bank_id == bank_id,
                        Entry.signal_type == signal.type,
                        Entry.value == stored_value(normalize_signal(signal.type, signal.value)),
                        Entry.withdrawn_at.is_(None),
                    )
                    .values(withdrawn_at=now, seq=seq)
                    .execution_options(synchronize_session=False)
                )
                withdrawn += result.rowcount  # type: ignore[attr-defined]
            self._record(session, "bank.withdraw", bank, signals=asked, withdrawn=withdrawn)
        return withdrawn

    def stats(self, name: str) -> BankStats:
        with self._reading() as session:
            row = bank_row(session, name)
            active = Entry.withdrawn_at.is_(None)
            by_type = dict(
                session.execute(
                    select(Entry.signal_type, func.count())
                    .where(Entry.bank_id == row.id, active)
                    .group_by(Entry.signal_type)
                ).all()
            )
            by_label: Counter[str] = Counter()
            for labels, count in session.execute(
                select(LabelSet.labels, func.count())
                .join(Entry, Entry.label_set_id == LabelSet.id)
                .where(Entry.bank_id == row.id, active)
                .group_by(LabelSet.labels)
            ).all():
                for label in parse_stored_labels(labels) or ("(none)",):
                    by_label[label] += count
            withdrawn = session.execute(
                select(func.count())
                .select_from(Entry)
                .where(Entry.bank_id == row.id, Entry.withdrawn_at.is_not(None))
            ).scalar_one()
            imports = session.execute(
                select(func.count()).select_from(ImportRecord).where(ImportRecord.bank_id == row.id)
            ).scalar_one()
            last = _last_import(session, row.id)
            return BankStats(
                Bank.from_row(row),
                active=sum(by_type.values()),
                withdrawn=withdrawn,
                by_signal_type=dict(sorted(by_type.items())),
                by_label=dict(sorted(by_label.items())),
                imports=imports,
                last_import=last,
            )

    def last_import(self, name: str) -> ImportSummary | None:
        """The bank's most recent import, if any (cheap, unlike ``stats``)."""
        with self._reading() as session:
            return _last_import(session, bank_row(session, name).id)


def load_label_sets(session: Session) -> dict[int, tuple[str, ...]]:
    """Every label combination by id, as matches and exports report them."""
    return {
        id_: parse_stored_labels(labels)
        for id_, labels in session.execute(select(LabelSet.id, LabelSet.labels))
    }


def _last_import(session: Session, bank_id: int) -> ImportSummary | None:
    row = session.execute(
        select(ImportRecord)
        .where(ImportRecord.bank_id == bank_id)
        .order_by(ImportRecord.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return _summary(row) if row else None


def _summary(row: ImportRecord) -> ImportSummary:
    return ImportSummary(
        row.source,
        row.format,
        row.version,
        as_utc(row.finished_at),
        row.added,
        row.updated,
        row.restored,
        row.withdrawn,
        row.unchanged,
        row.rejected,
    )
