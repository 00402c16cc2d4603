"""Statements over a batch of rows whose text does not depend on the batch's size.

SQLAlchemy renders an ``IN`` list or a multi-row insert with a placeholder
per value, so every batch size is a statement of its own to compile, and
psycopg splits each long statement into its parameters in Python.  A first
sync of 100,000 NCMEC entries spent more than half its time so on
PostgreSQL (``bench/exchanges.py``).  Here a batch is one statement of
fixed text: a lookup takes all its values as one parameter (PostgreSQL: an
array, ``= ANY``; SQLite: a JSON array read by ``json_each``), still one
index probe per value, never a walk of the table; inserts go by
PostgreSQL's ``COPY`` or the SQLite driver's ``executemany``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Table,
    any_,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import QueryableAttribute

#: The smallest batch PostgreSQL takes by ``COPY`` (see ``insert_rows``).
COPY_ROWS = 100


def one_of(
    attribute: ColumnElement[Any] | QueryableAttribute[Any], values: Sequence[Any], dialect: str
) -> ColumnElement[bool]:
    """``column IN values``, written with one parameter for all the values."""
    column = attribute.expression if isinstance(attribute, QueryableAttribute) else attribute
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)))).table_valued("value")
    return column.in_(select(listed.c.value))


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (values in ``columns``' order), in their order.

    PostgreSQL takes a batch of ``COPY_ROWS`` or more by ``COPY``, its
    fastest way in (measured 1.4x a multi-row ``INSERT ... SELECT FROM
    unnest``); fewer rows, and every batch on SQLite, go by ``executemany``
    of one prepared ``INSERT`` (``COPY``'s extra round trip would cost more
    than it saves).  Either way a row that breaks a constraint fails the
    whole batch, in the caller's transaction.
    """
    if not rows:
        return
    names = ", ".join(columns)
    bound = _bound(connection, table, columns, rows)
    postgresql = connection.dialect.name == "postgresql"
    if postgresql and len(bound) >= COPY_ROWS:
        raw = connection.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            for row in bound:
                copy.write_row(row)
        return
    marks = ", ".join("%s" if postgresql else "?" for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", bound)


def new_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` ids for new rows of ``table``, ascending, never handed out before.

    Taking the ids first lets a batch be inserted by ``insert_rows`` with its
    ids in the batch's order, and lets the caller know them without reading
    the rows back.  On SQLite the caller's transaction must already hold the
    write lock (as every writer that took a change number does): the ids
    follow the largest one used so far, which no other writer can then take.
    """
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        taken = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
            "FROM generate_series(1, %(count)s)",
            {"count": count},
        )
        return sorted(taken.scalars())
    # AUTOINCREMENT keeps the largest id ever used (a deleted row's too) in
    # sqlite_sequence; a table without it has no row there.
    last = connection.exec_driver_sql(
        f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table.name}'), 0), "
        f"coalesce((SELECT max(id) FROM {table.name}), 0))"
    ).scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + count))


def _bound(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[tuple[Any, ...]]:
    """The rows as the driver takes them: each value through its column type's own
    conversion (SQLite keeps times as text that SQLAlchemy must read back).

    A batch's rows share most such values (the time of the import), so each
    column's last conversion is reused while its value repeats.
    """
    processors = [table.c[name].type.bind_processor(connection.dialect) for name in columns]
    if not any(processors):
        return [tuple(row) for row in rows]
    converting = [(n, convert) for n, convert in enumerate(processors) if convert is not None]
    # Per column: the last value converted, and what it became.
    last: dict[int, tuple[Any, Any]] = {}
    bound: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(row)
        for n, convert in converting:
            value = values[n]
            if value is None:
                continue
            seen = last.get(n)
            if seen is None or seen[0] != value:
                seen = last[n] = (value, convert(value))
            values[n] = seen[1]
        bound.append(tuple(values))
    return bound
