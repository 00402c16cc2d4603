"""Batch statements of fixed text (bastion.store.bulk) on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from bastion.banks import Banks
from bastion.store import Store
from bastion.store.bulk import COPY_ROWS, insert_rows, new_ids, one_of
from bastion.store.database import as_utc
from bastion.store.models import Entry, LabelSet, table

ENTRIES = table(Entry)
COLUMNS = ("id", "bank_id", "signal_type", "value", "label_set_id", "added_at", "seq")
AT = datetime(2026, 12, 2, 13, 0, 0, 123456, tzinfo=UTC)


def _insert(store: Store, values: list[str]) -> list[int]:
    with store.transaction() as session:
        store.next_seq(session)  # the write lock, as every writer takes it
        connection = session.connection()
        bank = Banks(store, actor="test", session=session).get("B").id
        label_set = session.execute(select(LabelSet.id).limit(1)).scalar_one()
        ids = new_ids(connection, ENTRIES, len(values))
        rows = [(i, bank, "md5", v, label_set, AT, 1) for i, v in zip(ids, values, strict=True)]
        insert_rows(connection, ENTRIES, COLUMNS, rows)
    return ids


def _store_with_bank(store: Store) -> Store:
    Banks(store, actor="test").create("B")
    with store.transaction() as session:
        session.add(LabelSet(labels=""))
    return store


def test_rows_go_in_with_their_ids_in_order_and_read_back_as_written(store: Store) -> None:
    _store_with_bank(store)
    first = _insert(store, ["a" * 32, "b" * 32, "c" * 32])
    assert first == sorted(first)
    assert len(set(first)) == 3
    with store.sessions() as session:
        rows = session.execute(select(Entry.id, Entry.value, Entry.added_at).order_by(Entry.id))
        assert [(i, v, as_utc(at)) for i, v, at in rows] == [
            (first[0], "a" * 32, AT),
            (first[1], "b" * 32, AT),
            (first[2], "c" * 32, AT),
        ]


def test_ids_are_never_handed_out_twice_even_after_the_newest_rows_are_deleted(
    store: Store,
) -> None:
    _store_with_bank(store)
    first = _insert(store, ["a" * 32, "b" * 32])
    with store.transaction() as session:
        session.execute(delete(Entry).where(Entry.id == first[-1]))
    second = _insert(store, ["c" * 32])
    assert second[0] > first[-1]
    with store.engine.connect() as connection:
        assert new_ids(connection, ENTRIES, 0) == []


def test_one_of_finds_exactly_the_values_listed(store: Store) -> None:
    _store_with_bank(store)
    values = [f"{n:032x}" for n in range(COPY_ROWS + 40)]  # by COPY on PostgreSQL
    ids = _insert(store, values)
    dialect = store.engine.dialect.name
    with store.sessions() as session:

        def found(wanted: list[str]) -> set[str]:
            query = select(Entry.value).where(one_of(Entry.value, wanted, dialect))
            return set(session.execute(query).scalars())

        assert found([*values[5:9], "not there", 'it\'s "quoted"']) == set(values[5:9])
        assert found([]) == set()
        by_id = select(Entry.value).where(one_of(Entry.id, ids[:3], dialect))
        assert set(session.execute(by_id).scalars()) == set(values[:3])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), max_size=12, unique=True))
def test_one_of_takes_any_text(values: list[str]) -> None:
    """Quotes, brackets and non-ASCII text are values, never JSON or SQL."""
    store = Store.from_url("sqlite://")
    try:
        _store_with_bank(store)
        values = [v.replace("\x00", "") or "x" for v in values]
        values = list(dict.fromkeys(values))
        _insert(store, values)
        with store.sessions() as session:
            query = select(Entry.value).where(one_of(Entry.value, values[:5], "sqlite"))
            assert set(session.execute(query).scalars()) == set(values[:5])
    finally:
        store.dispose()
