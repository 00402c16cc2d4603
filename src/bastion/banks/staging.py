"""A list staged in a temporary table, read back batch by batch.

A bulk import first reads the whole document into a table private to one
connection (PostgreSQL: ``COPY`` into a ``TEMP`` table; SQLite: a table of
the connection's own temporary database), so a document that turns out to
be truncated is found before the bank is touched.  Staging writes nothing
the other writers wait for: SQLite locks its temporary database apart from
the main one, and PostgreSQL's temporary tables are the session's own.  The
merge then takes the staged records back in list order, one batch at a
time, each merged and committed on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Connection, MetaData, Table, Text, text

from bastion.banks.stored import read_value, stored_form
from bastion.fingerprint import Signal
from bastion.formats.records import Record
from bastion.labels import format_labels, parse_stored_labels
from bastion.store.bulk import insert_rows

TABLE = "bastion_staged"
_COLUMNS = (
    "n",
    "location",
    "signal_type",
    "value",
    "payload",
    "labels",
    "external_id",
    "withdrawn",
)
#: The staged table as ``insert_rows`` takes it (``_CREATE`` makes it).
_STAGED = Table(
    TABLE,
    MetaData(),
    Column("n", BigInteger),
    *(Column(name, Text) for name in _COLUMNS[1:-1]),
    Column("withdrawn", Boolean),
)
_CREATE = {
    "sqlite": f"CREATE TEMP TABLE {TABLE} (n INTEGER PRIMARY KEY, location TEXT NOT NULL, "
    "signal_type TEXT, value TEXT, payload TEXT, labels TEXT NOT NULL, external_id TEXT, "
    "withdrawn INTEGER NOT NULL)",
    "postgresql": f"CREATE TEMP TABLE {TABLE} (n BIGINT NOT NULL, location TEXT NOT NULL, "
    "signal_type TEXT, value TEXT, payload TEXT, labels TEXT NOT NULL, external_id TEXT, "
    "withdrawn BOOLEAN NOT NULL)",
}
_BATCH = text(f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} WHERE n > :after ORDER BY n LIMIT :size")

Row = tuple[int, str, str | None, str | None, str | None, str, str | None, bool]


class Staging:
    """The records of one list, staged on ``connection`` (which must stay checked out)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.count = 0
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        connection.exec_driver_sql(_CREATE[self.dialect])
        connection.commit()

    def add(self, records: Iterable[Record]) -> None:
        """Stage a run of records, after those already staged."""
        rows = [self._row(record) for record in records]
        if not rows:
            return
        insert_rows(self.connection, _STAGED, _COLUMNS, rows)

    def _row(self, record: Record) -> Row:
        self.count += 1
        value: str | None = None
        payload: str | None = None
        if record.signal is not None:
            value, payload = stored_form(record.signal)
        return (
            self.count,
            record.location,
            record.signal.type if record.signal is not None else None,
            value,
            payload,
            format_labels(record.labels),
            record.external_id,
            record.withdrawn,
        )

    def finish(self) -> None:
        """Commit what was staged and make it quick to read back in order."""
        if self.dialect == "postgresql":
            self.connection.exec_driver_sql(f"CREATE INDEX ON {TABLE} (n)")
            self.connection.exec_driver_sql(f"ANALYZE {TABLE}")
        self.connection.commit()

    def batches(self, size: int) -> Iterator[list[Record]]:
        """The staged records in list order, ``size`` at a time."""
        after = 0
        while True:
            rows = self.connection.execute(_BATCH, {"after": after, "size": size}).all()
            # Nothing of the main database stays open between batches.
            self.connection.commit()
            if not rows:
                return
            after = rows[-1][0]
            yield [_record(row) for row in rows]

    def drop(self) -> None:
        self.connection.rollback()
        self.connection.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        self.connection.commit()


def _record(row: Any) -> Record:
    _, location, signal_type, value, payload, labels, external_id, withdrawn = row
    signal = None if signal_type is None else Signal(signal_type, read_value(value, payload))
    return Record(location, signal, parse_stored_labels(labels), external_id, bool(withdrawn))
