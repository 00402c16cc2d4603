"""Entries one at a time: adding and withdrawing by hand, and exporting.

Adding goes through the importer, so a hand-added hash is validated,
labelled and recorded exactly like one from a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import func, select, update

from bastion.banks.bank import bank_row, load_label_sets
from bastion.banks.importer import ImportReport, import_records
from bastion.banks.stored import read_value, stored_value
from bastion.fingerprint import Signal
from bastion.formats.records import ExportEntry, Record
from bastion.labels import normalize_labels
from bastion.signals.types import normalize_signal
from bastion.store import Store
from bastion.store.models import Entry

_EXPORT_BATCH = 10_000


def add_signals(
    store: Store,
    bank: str,
    signals: Iterable[Signal],
    labels: Iterable[str] = (),
    *,
    source: str = "manual",
    external_ids: Iterable[str | None] | None = None,
) -> ImportReport:
    """Add (or relabel, or restore) signals in ``bank``.

    ``external_ids`` (one per signal) groups signals of one item, as the
    hashes of one file, so exports write them as one list item.
    """
    canonical = normalize_labels(labels)
    signals = [normalize_signal(s.type, s.value) for s in signals]
    ids = list(external_ids) if external_ids is not None else [None] * len(signals)
    records = [
        Record(f"{signal.type}:{signal.value}", signal, canonical, external_id)
        for signal, external_id in zip(signals, ids, strict=True)
    ]
    return import_records(store, bank, records, source=source, format="manual")


def withdraw_signals(store: Store, bank: str, signals: Iterable[Signal]) -> int:
    """Withdraw active entries holding these signals; returns how many were withdrawn."""
    withdrawn = 0
    with store.transaction() as session:
        bank_id = bank_row(session, bank).id
        seq = store.next_seq(session)
        now = datetime.now(UTC)
        for signal in signals:
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
    return withdrawn


def export_entries(
    store: Store, bank: str, *, include_withdrawn: bool = False
) -> Iterator[ExportEntry]:
    """Entries of ``bank`` grouped by external id (as list formats group them).

    Streamed from a server-side cursor: memory stays flat whatever the bank's size.
    """
    with store.sessions() as session:
        bank_id = bank_row(session, bank).id
        label_sets = load_label_sets(session)
    statement = (
        select(
            Entry.signal_type,
            Entry.value,
            Entry.payload,
            Entry.label_set_id,
            Entry.external_id,
            Entry.withdrawn_at.is_not(None),
        )
        .where(Entry.bank_id == bank_id)
        .order_by(Entry.external_id.is_(None), Entry.external_id, Entry.id)
    )
    if not include_withdrawn:
        statement = statement.where(Entry.withdrawn_at.is_(None))
    with store.engine.connect() as connection:
        rows = connection.execution_options(stream_results=True, yield_per=_EXPORT_BATCH)
        for signal_type, value, payload, label_set_id, external_id, withdrawn in rows.execute(
            statement
        ):
            yield ExportEntry(
                Signal(signal_type, read_value(value, payload)),
                label_sets.get(label_set_id, ()),
                external_id,
                bool(withdrawn),
            )


class ContentEntry(NamedTuple):
    entry_id: int
    signal: Signal
    withdrawn: bool
    external_id: str | None


def content_entries(store: Store, bank: str, entry_id: int) -> list[ContentEntry]:
    """All entries of the item ``entry_id`` belongs to (those sharing its external
    id); an entry without an external id is an item by itself."""
    with store.sessions() as session:
        bank_id = bank_row(session, bank).id
        first = session.execute(
            select(Entry.external_id).where(Entry.id == entry_id, Entry.bank_id == bank_id)
        ).first()
        if first is None:
            return []
        statement = select(
            Entry.id, Entry.signal_type, Entry.value, Entry.payload, Entry.withdrawn_at
        ).where(Entry.bank_id == bank_id)
        external = first.external_id
        if first.external_id is None:
            statement = statement.where(Entry.id == entry_id)
        else:
            statement = statement.where(Entry.external_id == first.external_id)
        return [
            ContentEntry(
                id_, Signal(type_, read_value(value, payload)), withdrawn is not None, external
            )
            for id_, type_, value, payload, withdrawn in session.execute(
                statement.order_by(Entry.id)
            )
        ]


def first_entry_id(store: Store, bank: str, external_id: str) -> int | None:
    """The lowest entry id of an item, which the HMA routes use as its content id."""
    with store.sessions() as session:
        bank_id = bank_row(session, bank).id
        return session.execute(
            select(func.min(Entry.id)).where(
                Entry.bank_id == bank_id, Entry.external_id == external_id
            )
        ).scalar_one_or_none()
