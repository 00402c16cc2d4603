"""The store opens, migrates and counts changes the same on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bastion.config import Settings
from bastion.store import Store
from bastion.store.models import Base


def test_migrations_create_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_reopening_keeps_the_instance_and_does_not_migrate_again(settings: Settings) -> None:
    first = Store.open(settings)
    instance = first.instance_id
    first.dispose()
    again = Store.open(settings)
    assert again.instance_id == instance
    again.dispose()


def test_change_sequence_only_moves_forward_on_commit(store: Store) -> None:
    with store.transaction() as session:
        start = store.current_seq(session)
        assert store.next_seq(session) == start + 1
    with store.sessions() as session:
        session.begin()
        assert store.next_seq(session) == start + 2
        session.rollback()
    with store.sessions() as session:
        assert store.current_seq(session) == start + 1


def test_default_store_is_sqlite_under_home(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(home=tmp_path / "h")
    assert settings.store_url == f"sqlite:///{tmp_path / 'h' / 'bastion.db'}"
    store = Store.open(settings)
    assert (tmp_path / "h" / "bastion.db").exists()
    store.dispose()
