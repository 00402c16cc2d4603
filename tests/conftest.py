"""Shared fixtures: reference data from ../shared and benign generated images."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from bastion.config import Settings
from bastion.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"
CORPUS_CACHE = ROOT / "bench" / ".cache" / "photos"


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.fail(f"reference data missing: expected {TESTDATA} (../shared beside the clone)")
    return TESTDATA


@pytest.fixture(scope="session")
def photo_corpus() -> list[Path]:
    """The freely licensed photo corpus, built once (shared with bench/)."""
    if not any(CORPUS_CACHE.glob("*.*")):
        CORPUS_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(SHARED / "scripts" / "photo-corpus"), str(CORPUS_CACHE)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    photos = sorted(p for p in CORPUS_CACHE.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    assert len(photos) >= 40, f"photo corpus in {CORPUS_CACHE} looks incomplete"
    return photos


# --- the store, on SQLite and on PostgreSQL ---------------------------------

#: The PostgreSQL every storage test also runs on (CI: the one on localhost).
POSTGRES_URL = os.environ.get(
    "BASTION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/test"
)
#: Set by .ci/run: an unreachable PostgreSQL fails the run instead of skipping.
REQUIRE_POSTGRES = os.environ.get("BASTION_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL unreachable at {POSTGRES_URL}: {exc.args[0].splitlines()[0]}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: an SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bastion.db'}"
        return
    admin: Engine = request.getfixturevalue("postgres_admin")
    schema = f"bastion_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store.open(settings)
    yield opened
    opened.dispose()
