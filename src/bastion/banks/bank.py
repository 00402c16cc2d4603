"""Banks: named lists of known hashes, created, described and deleted.

A blocklist holds hashes to find; an allowlist holds known false positives,
and a hit on it suppresses matches of the same hash in every other bank.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion.banks.labels import parse_stored_labels
from bastion.errors import BastionError
from bastion.store import Store
from bastion.store.models import Bank as BankRow
from bastion.store.models import Entry, EntrySource, ImportRecord, LabelSet

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

    @classmethod
    def from_row(cls, row: BankRow) -> Bank:
        return cls(
            row.id,
            row.name,
            BankKind(row.kind),
            row.description,
            row.pdq_threshold,
            as_utc(row.created_at),
        )


def as_utc(moment: datetime) -> datetime:
    """SQLite returns stored UTC times without their zone; put it back."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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


def bank_row(session: Session, name: str) -> BankRow:
    row = session.execute(select(BankRow).where(BankRow.name == name)).scalar_one_or_none()
    if row is None:
        raise BankNotFound(f"no bank named {name!r} (see `bastion bank list`)")
    return row


class Banks:
    """Bank management on one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        name: str,
        *,
        kind: BankKind = BankKind.BLOCKLIST,
        description: str = "",
        pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
    ) -> Bank:
        row = BankRow(
            name=validate_bank_name(name),
            kind=BankKind(kind).value,
            description=description,
            pdq_threshold=validate_threshold(pdq_threshold),
            created_at=datetime.now(UTC),
        )
        try:
            with self.store.transaction() as session:
                session.add(row)
                session.flush()
                return Bank.from_row(row)
        except IntegrityError:
            raise BankError(f"a bank named {name!r} already exists") from None

    def get(self, name: str) -> Bank:
        with self.store.sessions() as session:
            return Bank.from_row(bank_row(session, name))

    def list(self) -> list[Bank]:
        with self.store.sessions() as session:
            rows = session.execute(select(BankRow).order_by(BankRow.name)).scalars()
            return [Bank.from_row(row) for row in rows]

    def update(
        self, name: str, *, description: str | None = None, pdq_threshold: int | None = None
    ) -> Bank:
        with self.store.transaction() as session:
            row = bank_row(session, name)
            if description is not None:
                row.description = description
            if pdq_threshold is not None:
                row.pdq_threshold = validate_threshold(pdq_threshold)
            return Bank.from_row(row)

    def delete(self, name: str) -> int:
        """Delete a bank with all its entries and import records; returns the entry count."""
        with self.store.transaction() as session:
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
            session.delete(row)
            # A deleted bank's entries leave the index through the bank list;
            # bumping the sequence tells loaded indices to look again.
            self.store.next_seq(session)
            return int(count)

    def stats(self, name: str) -> BankStats:
        with self.store.sessions() as session:
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
        with self.store.sessions() as session:
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
