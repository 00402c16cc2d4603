"""Syncing a bank from StopNCII's FetchHashes (a loopback fake of it)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.banks.entries import export_entries
from bastion.exchanges.errors import ExchangeConfigError
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import SyncReport
from bastion.store import Store
from tests.exchanges.conftest import secret_file
from tests.exchanges.fakes.stopncii import FakeStopNcii

RNG = random.Random(5)
T0 = 1_760_000_000


def pdq() -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(64))


def active(store: Store, bank: str = "StopNCII") -> set[str]:
    return {e.signal.value for e in export_entries(store, bank)}


@pytest.fixture
def add_stopncii(
    exchanges: Exchanges, stopncii: FakeStopNcii, tmp_path: Path
) -> Callable[..., str]:
    def add(name: str = "stopncii") -> str:
        key = f"{stopncii.subscription_key},{stopncii.function_key}"
        credentials = secret_file(tmp_path, key)
        exchanges.add(
            name, api="stopncii", bank="StopNCII", url=stopncii.url, credentials=str(credentials)
        )
        return name

    return add


def test_sync_imports_and_withdrawn_or_deleted_records_remove(
    stopncii: FakeStopNcii,
    add_stopncii: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    kept, withdrawn, deleted = pdq(), pdq(), pdq()
    for n, value in enumerate((kept, withdrawn, deleted)):
        stopncii.add(value, timestamp=T0 + n)
    stopncii.add("a" * 32, signal_type="VideoMD5", timestamp=T0 + 5)
    stopncii.add("0" * 64, signal_type="VideoTMK", timestamp=T0 + 6)
    name = add_stopncii()
    first = run(name)
    assert first.status == "ok", first.error
    assert active(store) == {kept, withdrawn, deleted, "a" * 32}
    assert first.skipped == {"VideoTMK": 1}
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    assert checkpoint["start"] >= T0 + 5
    assert "token" not in checkpoint
    stopncii.add(withdrawn, status="Withdrawn", timestamp=T0 + 100)
    stopncii.add(deleted, status="Deleted", timestamp=T0 + 101)
    second = run(name)
    assert second.status == "ok", second.error
    assert second.counts["withdrawn"] == 2
    assert active(store) == {kept, "a" * 32}
    # The keys went in the headers StopNCII documents, on every request.
    for request in stopncii.requests:
        assert request.headers["ocp-apim-subscription-key"] == "sub-key"
        assert request.headers["x-functions-key"] == "fn-key"


def test_a_truncated_body_is_retried_and_a_persistent_one_fails_without_moving_on(
    stopncii: FakeStopNcii,
    add_stopncii: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    values = [pdq() for _ in range(7)]
    for n, value in enumerate(values):
        stopncii.add(value, timestamp=T0 + n)
    name = add_stopncii()
    stopncii.truncate_next()
    assert run(name).status == "ok"
    assert active(store) == set(values)
    before = exchanges.get(name).checkpoint
    later = pdq()
    stopncii.add(later, timestamp=T0 + 50)
    stopncii.truncate_next(times=20)
    failed = run(name)
    assert (failed.status, failed.error_code) == ("error", "exchange-protocol")
    assert exchanges.get(name).checkpoint == before  # never skips ahead
    assert later not in active(store)


def test_an_unknown_status_is_a_named_reject(
    stopncii: FakeStopNcii,
    add_stopncii: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
) -> None:
    good = pdq()
    stopncii.add(good, timestamp=T0)
    stopncii.add(pdq(), status="Frozen", timestamp=T0 + 1)
    stopncii.add("abc", timestamp=T0 + 2)
    report = run(add_stopncii())
    assert (report.status, report.counts["rejected"]) == ("error", 2)
    assert "unknown hashStatus 'Frozen'" in " ".join(r["reason"] for r in report.rejects)
    assert active(store) == {good}


def test_wrong_keys(
    stopncii: FakeStopNcii, exchanges: Exchanges, run: Callable[..., SyncReport], tmp_path: Path
) -> None:
    credentials = secret_file(tmp_path, "sub-key,wrong")
    exchanges.add("s", api="stopncii", bank="S", url=stopncii.url, credentials=str(credentials))
    report = run("s")
    assert (report.status, report.error_code) == ("error", "exchange-auth")


def test_the_page_size_is_an_option(
    exchanges: Exchanges, stopncii: FakeStopNcii, tmp_path: Path, run: Callable[..., SyncReport]
) -> None:
    stopncii.generate(20, withdrawn=0.0, seed=9)
    credentials = secret_file(tmp_path, f"{stopncii.subscription_key},{stopncii.function_key}")
    exchanges.add(
        "paged",
        api="stopncii",
        bank="PAGED",
        url=stopncii.url,
        credentials=str(credentials),
        options={"page_size": "7"},
    )
    assert run("paged").status == "ok"
    assert any("pageSize=7" in request.path for request in stopncii.requests)
    with pytest.raises(ExchangeConfigError, match="page_size"):
        exchanges.add(
            "bad-page",
            api="stopncii",
            bank="BAD",
            url=stopncii.url,
            credentials=str(credentials),
            options={"page_size": "many"},
        )
