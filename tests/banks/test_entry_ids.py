"""Entry ids are never handed out twice, and migration 0004 keeps a 0003 store's data."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text

from bastion.banks import Banks
from bastion.banks.entries import content_entries
from bastion.fingerprint import Signal
from bastion.store import Store
from bastion.store.database import MIGRATIONS
from bastion.store.models import Entry, EntrySource
from tests.banks.helpers import random_md5s


def entry_ids(store: Store) -> set[int]:
    with store.sessions() as session:
        return set(session.execute(select(Entry.id)).scalars())


def test_ids_of_a_deleted_bank_are_not_reused(store: Store) -> None:
    banks = Banks(store, actor="test")
    banks.create("kept")
    Banks(store, actor="test").add_signals(
        "kept", [Signal("md5", v) for v in random_md5s(3, seed=1)]
    )
    banks.create("gone")
    Banks(store, actor="test").add_signals(
        "gone", [Signal("md5", v) for v in random_md5s(5, seed=2)]
    )
    earlier = entry_ids(store)
    banks.delete("gone")
    banks.create("new")
    Banks(store, actor="test").add_signals(
        "new", [Signal("md5", v) for v in random_md5s(4, seed=3)]
    )
    new = entry_ids(store) - earlier
    assert len(new) == 4
    assert min(new) > max(earlier)


def _migrated_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_migration_keeps_a_0003_store_and_stops_reusing_ids(database_url: str) -> None:
    _migrated_to(database_url, "0003")
    # Fresh tables: rows get ids 1, 2, 3 in order on both databases.
    engine = create_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        for statement, rows in (
            ("INSERT INTO bastion_meta (key, value) VALUES ('instance_id', 'x')", [{}]),
            ("INSERT INTO change_counter (id, seq) VALUES (1, 1)", [{}]),
            (
                "INSERT INTO banks (name, description, kind, pdq_threshold, created_at) "
                "VALUES (:name, '', 'blocklist', 31, :at)",
                [{"name": "old", "at": now}, {"name": "doomed", "at": now}],
            ),
            ("INSERT INTO label_sets (labels) VALUES ('iwf:A')", [{}]),
            (
                "INSERT INTO imports (bank_id, source, format, started_at, finished_at, "
                "added, updated, restored, withdrawn, unchanged, rejected) "
                "VALUES (1, 'list-a.csv', 'csv', :at, :at, 2, 0, 0, 0, 0, 0)",
                [{"at": now}],
            ),
            (
                "INSERT INTO entries (bank_id, signal_type, value, external_id, "
                "label_set_id, added_at, import_id, seq) "
                "VALUES (:bank, 'md5', :value, :ext, 1, :at, :imp, 1)",
                [
                    {"bank": 1, "value": "a" * 32, "ext": "item-1", "at": now, "imp": 1},
                    {"bank": 1, "value": "b" * 32, "ext": None, "at": now, "imp": None},
                    {"bank": 2, "value": "c" * 32, "ext": None, "at": now, "imp": None},
                ],
            ),
        ):
            connection.execute(text(statement), rows)
    engine.dispose()

    store = Store.from_url(database_url)
    with store.engine.connect() as connection:
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert MigrationContext.configure(connection).get_current_revision() == head
    assert [e.signal.value for e in content_entries(store, "old", 1)] == ["a" * 32]
    with store.sessions() as session:
        sources = session.execute(
            select(EntrySource.entry_id, EntrySource.source, EntrySource.external_id).order_by(
                EntrySource.entry_id
            )
        ).all()
    assert [tuple(row) for row in sources] == [
        (1, "list-a.csv", "item-1"),
        (2, "(before migration 0004)", None),
        (3, "(before migration 0004)", None),
    ]
    banks = Banks(store, actor="test")
    assert banks.stats("old").by_label == {"iwf:A": 2}
    banks.delete("doomed")  # held the highest id, 3
    Banks(store, actor="test").add_signals("old", [Signal("md5", "d" * 32)])
    with store.sessions() as session:
        assert session.execute(select(func.max(Entry.id))).scalar_one() == 4
    store.dispose()
