"""What the exchange door tests share: a loopback NCMEC with a few entries,
and a look at every byte the store holds (a secret must not be among them)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from bastion.store import Store
from tests.exchanges.fakes.ncmec import FakeNcmec

USER = "hma-user"
PASSWORD = "pw-never-stored-7Qx"
T0 = 1_760_000_000


def hexes(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


@pytest.fixture
def ncmec() -> Iterator[FakeNcmec]:
    """A loopback NCMEC holding three images of random hashes."""
    rng = random.Random(17)
    with FakeNcmec(username=USER, password=PASSWORD, page_size=2) as fake:
        for n in range(3):
            prints = {"md5": hexes(rng, 32), "pdq": hexes(rng, 64)}
            fake.add_image(42, f"e{n}", T0 + n, fingerprints=prints)
        yield fake


def stored_text(store: Store) -> bytes:
    """Everything the store holds: the SQLite files' bytes, or every row of
    every PostgreSQL table as text."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        base = Path(url.database)
        files = [base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-journal")]
        return b"".join(path.read_bytes() for path in files if path.exists())
    with store.engine.connect() as connection:
        rows = [
            str(row[0])
            for table in inspect(connection).get_table_names()
            for row in connection.execute(text(f'SELECT CAST(t AS text) FROM "{table}" AS t'))
        ]
    return "\n".join(rows).encode()
