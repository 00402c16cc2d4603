"""Reading entries: exporting a bank, and the entries of one item.

Adding and withdrawing are changes, made (and audited) by ``Banks``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import func, select

from bastion.banks.bank import bank_row, load_label_sets
from bastion.banks.stored import read_value
from bastion.fingerprint import Signal
from bastion.formats.records import ExportEntry
from bastion.store import Store
from bastion.store.models import ContentNote, Entry

_EXPORT_BATCH = 10_000


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


def content_ids(store: Store, entry_ids: list[int]) -> dict[int, int]:
    """Entry id -> its item's content id (the item's lowest entry id)."""
    with store.sessions() as session:
        items = {
            entry_id: (bank_id, external)
            for entry_id, bank_id, external in session.execute(
                select(Entry.id, Entry.bank_id, Entry.external_id).where(
                    Entry.id.in_(entry_ids), Entry.external_id.is_not(None)
                )
            )
        }
        if not items:
            return {}
        firsts = {
            (bank_id, external): first
            for bank_id, external, first in session.execute(
                select(Entry.bank_id, Entry.external_id, func.min(Entry.id))
                .where(Entry.external_id.in_({external for _, external in items.values()}))
                .group_by(Entry.bank_id, Entry.external_id)
            )
        }
    return {entry_id: firsts[item] for entry_id, item in items.items()}


class ContentDescription(NamedTuple):
    """HMA's metadata (JSON text) and note of an item; None when not given."""

    metadata: str | None
    note: str | None


def content_description(store: Store, bank: str, external_id: str) -> ContentDescription:
    with store.sessions() as session:
        bank_id = bank_row(session, bank).id
        row = session.get(ContentNote, (bank_id, external_id))
        if row is None:
            return ContentDescription(None, None)
        return ContentDescription(row.content_metadata, row.note)
