"""Opening the store: engine, schema migrations and the change sequence.

SQLite (the embedded default, one file under ``BASTION_HOME``) and
PostgreSQL (``BASTION_DATABASE_URL``) behave the same to the code above:
foreign keys enforced, the schema brought to the newest Alembic revision on
open, and one store-wide counter for change sequence numbers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bastion.config import Settings
from bastion.errors import BastionError
from bastion.store.models import ChangeCounter, Meta, table
from bastion.store.turns import Turns

MIGRATIONS = Path(__file__).parent / "migrations"


#: A table with fewer rows than this is looked up fast whatever the plan.
_ANALYZE_ROWS = 5000


class StoreError(BastionError, RuntimeError):
    """The store cannot be opened or used (unreachable, wrong schema ...)."""

    code = "store-error"
    status = 500


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 256 MB of page cache: imports insert into a unique index of millions
    # of random hashes, and SQLite's 2 MB default turns that into disk reads.
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()


def as_utc(moment: datetime) -> datetime:
    """SQLite returns stored UTC times without their zone; put it back."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with Bastion's per-dialect settings."""
    if url.startswith("sqlite"):
        database = url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """A migrated database and a session factory for it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._instance_id: str | None = None
        self._writers = Turns() if engine.dialect.name == "sqlite" else None

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open (and create or upgrade) the store the settings point at."""
        return cls.from_url(settings.store_url)

    @classmethod
    def from_url(cls, url: str) -> Store:
        try:
            store = cls(make_engine(url))
            store.migrate()
        except SQLAlchemyError as exc:
            safe_url = url.split("@")[-1] if "@" in url else url
            raise StoreError(f"cannot open the store at {safe_url}: {exc.args[0]}") from exc
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest revision and seed store-wide rows."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several `bastion serve` processes may start at once.
                connection.execute(text("SELECT pg_advisory_xact_lock(8241120)"))
            current = MigrationContext.configure(connection).get_current_revision()
            if current != head:
                config = _alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            if connection.execute(select(Meta.value).where(Meta.key == "instance_id")).first():
                return
            connection.execute(
                table(Meta).insert(), [{"key": "instance_id", "value": uuid.uuid4().hex}]
            )
            connection.execute(table(ChangeCounter).insert(), [{"id": 1, "seq": 0}])

    @property
    def instance_id(self) -> str:
        """A random id fixed when the store was created; names its index snapshots."""
        if self._instance_id is None:
            with self.engine.connect() as connection:
                self._instance_id = connection.execute(
                    select(Meta.value).where(Meta.key == "instance_id")
                ).scalar_one()
        return self._instance_id

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error.

        On SQLite this process's transactions take turns in arrival order
        (``bastion.store.turns``).
        """
        if self._writers is None:
            with self.sessions() as session, session.begin():
                yield session
            return
        with self._writers.turn(), self.sessions() as session, session.begin():
            yield session

    def current_seq(self, session: Session) -> int:
        return session.execute(select(ChangeCounter.seq).where(ChangeCounter.id == 1)).scalar_one()

    def next_seq(self, session: Session) -> int:
        """Take the next change sequence number (held until ``session`` commits)."""
        statement = (
            update(ChangeCounter)
            .where(ChangeCounter.id == 1)
            .values(seq=ChangeCounter.seq + 1)
            .returning(ChangeCounter.seq)
        )
        return session.execute(statement).scalar_one()

    def ensure_statistics(self, session: Session, *tables: str) -> None:
        """Give PostgreSQL's planner statistics of tables that have rows but none yet.

        Without them it guesses that a bank holds a handful of rows and looks
        up a batch of values by scanning the whole bank (each batch of a first
        sync or import then costs more than the last); autovacuum may be off
        or not have run yet.  Once analysed, its estimates follow the table's
        growth, so this costs one catalogue query per call afterwards.
        """
        if session.get_bind().dialect.name != "postgresql":
            return
        for name in tables:
            known = session.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = CAST(:name AS regclass)"),
                {"name": name},
            ).scalar_one()
            if known >= _ANALYZE_ROWS:
                continue
            present = session.execute(
                text(f"SELECT count(*) FROM (SELECT 1 FROM {name} LIMIT {_ANALYZE_ROWS}) AS t")
            ).scalar_one()
            if present >= _ANALYZE_ROWS:
                session.execute(text(f"ANALYZE {name}"))

    def dispose(self) -> None:
        self.engine.dispose()
