"""Scheduled syncs: due exchanges only, one fetcher at a time across processes,
and ``bastion serve`` running them itself."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from bastion.config import Settings
from bastion.exchanges.http import Retrying
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.schedule import ExchangeScheduler, is_due
from bastion.exchanges.sync import SyncReport, sync_exchange
from bastion.signals.types import Signal
from bastion.store import Store
from bastion.store.models import AuditRecord
from tests.exchanges.conftest import Sleeps
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.service.live import live_server


def quick_http() -> Retrying:
    return Retrying(attempts=2, backoff=0.01, timeout=10, sleep=Sleeps())


def test_only_due_and_enabled_exchanges_are_synced(
    store: Store, ncmec: FakeNcmec, add_ncmec: Callable[..., str], exchanges: Exchanges
) -> None:
    ncmec.generate(12, deletions=0.0, seed=5)
    add_ncmec("first", bank="FIRST")
    scheduler = ExchangeScheduler(store, interval=3600, http=quick_http)
    assert [r.exchange for r in scheduler.run_due()] == ["first"]
    # Synced a moment ago: not due for an hour.
    assert scheduler.run_due() == []
    info = exchanges.get("first")
    assert info.last_started_at is not None
    later = info.last_started_at + timedelta(seconds=3600)
    assert is_due(info, 3600, later)
    assert not is_due(info, 3600, later - timedelta(seconds=1))


def test_a_disabled_exchange_is_not_due(
    exchanges: Exchanges, add_ncmec: Callable[..., str]
) -> None:
    info = exchanges.get(add_ncmec())
    now = datetime.now(UTC)
    assert is_due(info, 300, now)
    assert not is_due(replace(info, enabled=False), 300, now)
    assert not is_due(replace(info, syncing_by="another:1:x"), 300, now)


def test_two_servers_never_fetch_one_exchange_at_once(
    store: Store, ncmec: FakeNcmec, add_ncmec: Callable[..., str]
) -> None:
    ncmec.generate(300, deletions=0.1, seed=6)
    name = add_ncmec()
    reports: list[SyncReport] = []
    lock = threading.Lock()

    def keep(report: SyncReport) -> None:
        with lock:
            reports.append(report)

    servers = [
        ExchangeScheduler(store, interval=0.2, http=quick_http, on_report=keep) for _ in "ab"
    ]
    for server in servers:
        server.start()
    time.sleep(4)
    for server in servers:
        server.stop()
    assert reports, "no scheduled sync ran"
    assert all(r.status == "ok" for r in reports), [r.error for r in reports]
    # The syncs' audit records never overlap in time: one fetcher at a time.
    with store.sessions() as session:
        details = session.execute(
            select(AuditRecord.at, AuditRecord.detail).where(
                AuditRecord.actor == f"exchange:{name}"
            )
        ).all()
    assert len(details) == len(reports)
    # Each record is written when its sync ends, and says how long it ran.
    spans = sorted(
        (at.timestamp() - json.loads(detail)["seconds"], at.timestamp()) for at, detail in details
    )
    for (_, ended), (started, _) in itertools.pairwise(spans):
        assert started >= ended - 0.01, "two syncs of one exchange ran at once"
    assert Exchanges(store, actor="test").get(name).syncing_by is None


def test_an_interval_of_0_turns_the_schedule_off(store: Store) -> None:
    scheduler = ExchangeScheduler(store, interval=0)
    scheduler.start()
    assert scheduler._thread is None
    scheduler.stop()


def test_bastion_serve_syncs_exchanges_on_its_schedule(
    settings: Settings,
    store: Store,
    ncmec: FakeNcmec,
    add_ncmec: Callable[..., str],
) -> None:
    ncmec.generate(20, deletions=0.0, seed=7)
    name = add_ncmec()
    with live_server(replace(settings, exchange_interval=1)) as server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if Exchanges(store, actor="test").get(name).last_status == "ok":
                break
            time.sleep(0.2)
        httpx.get(f"{server.url}/status", timeout=10)
    info = Exchanges(store, actor="test").get(name)
    assert info.last_status == "ok", info.last_error
    # Every second brings another sync, which finds nothing new: the list's
    # entries arrive in whichever sync ran first, so count over all of them.
    with store.sessions() as session:
        details = session.execute(
            select(AuditRecord.detail).where(AuditRecord.actor == f"exchange:{name}")
        ).scalars()
        added = [json.loads(detail)["added"] for detail in details]
    assert sum(added) > 0, added


def test_a_withdrawal_stops_matching_in_a_serving_process_within_the_refresh(
    settings: Settings, store: Store, ncmec: FakeNcmec, add_ncmec: Callable[..., str]
) -> None:
    md5 = "0f" * 16
    ncmec.add_image(1, "kept", 1_700_000_000, fingerprints={"md5": "1e" * 16})
    ncmec.add_image(2, "leaving", 1_700_000_000, fingerprints={"md5": md5})
    name = add_ncmec()
    assert sync_exchange(store, name).status == "ok"
    serving = replace(settings, index_refresh_seconds=1, exchange_interval=0)
    with live_server(serving) as server:
        assert server.state.index.lookup(Signal("md5", md5))
        # NCMEC dates a deletion when it is made: after the last sync's window.
        # (Windows end at the sync's whole second, exclusive.)
        ncmec.delete_image(2, "leaving", int(time.time()))
        time.sleep(1.1)
        report = sync_exchange(store, name)
        assert report.status == "ok"
        assert report.counts["withdrawn"] == 1
        deadline = time.monotonic() + 1 + 5  # the refresh interval, and slack for a busy CI
        while server.state.index.lookup(Signal("md5", md5)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not server.state.index.lookup(Signal("md5", md5))
        assert server.state.index.lookup(Signal("md5", "1e" * 16))
