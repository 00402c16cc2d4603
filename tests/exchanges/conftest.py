"""Exchanges against the loopback fakes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.exchanges.http import Retrying
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import SyncReport, sync_exchange
from bastion.store import Store
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.exchanges.fakes.stopncii import FakeStopNcii


class Sleeps(list[float]):
    """A ``sleep`` that records how long it was asked to wait, and does not."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(sleeps: Sleeps) -> Iterator[Retrying]:
    retrying = Retrying(attempts=4, backoff=0.01, timeout=10, sleep=sleeps)
    yield retrying
    retrying.close()


def secret_file(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "exchange.cred"
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


@pytest.fixture
def ncmec() -> Iterator[FakeNcmec]:
    with FakeNcmec(username="user", password="s3cret-pass", page_size=3) as fake:
        yield fake


@pytest.fixture
def stopncii() -> Iterator[FakeStopNcii]:
    with FakeStopNcii(subscription_key="sub-key", function_key="fn-key", page_size=3) as fake:
        yield fake


@pytest.fixture
def exchanges(store: Store) -> Exchanges:
    return Exchanges(store, actor="test")


@pytest.fixture
def add_ncmec(exchanges: Exchanges, ncmec: FakeNcmec, tmp_path: Path) -> Callable[..., str]:
    def add(name: str = "ncmec-test", bank: str = "NCMEC") -> str:
        credentials = secret_file(tmp_path, f"{ncmec.username}:{ncmec.password}")
        exchanges.add(name, api="ncmec", bank=bank, url=ncmec.url, credentials=str(credentials))
        return name

    return add


@pytest.fixture
def run(store: Store, http: Retrying) -> Callable[..., SyncReport]:
    def sync(name: str, **options: object) -> SyncReport:
        return sync_exchange(store, name, http=http, **options)  # type: ignore[arg-type]

    return sync
