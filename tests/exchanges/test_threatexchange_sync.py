"""Syncing a bank from a ThreatExchange privacy group's threat_updates (a loopback fake)."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from bastion.banks.entries import export_entries
from bastion.cli import app
from bastion.config import Settings
from bastion.exchanges.errors import ExchangeAuthError, ExchangeConfigError
from bastion.exchanges.http import Retrying
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import SyncReport
from bastion.exchanges.threatexchange import ThreatExchangeApi
from bastion.store import Store
from tests.exchanges.conftest import Sleeps, secret_file
from tests.exchanges.fakes.threatexchange import PRIVACY_GROUP, FakeThreatExchange

RNG = random.Random(21)
DAY = 86_400
GROUP = {"privacy_group": str(PRIVACY_GROUP)}


def hexes(length: int = 64) -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(length))


class Clock:
    """A settable "now" shared by the fake and the client."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def clock() -> Clock:
    return Clock(int(time.time()))


@pytest.fixture
def te(clock: Clock) -> Iterator[FakeThreatExchange]:
    with FakeThreatExchange(page_size=3, clock=clock) as fake:
        yield fake


@pytest.fixture
def add_te(exchanges: Exchanges, te: FakeThreatExchange, tmp_path: Path) -> Callable[..., str]:
    def add(name: str = "te", token: str | None = None) -> str:
        folder = tmp_path / f"credentials-{name}"
        folder.mkdir()
        credentials = secret_file(folder, token or te.token)
        exchanges.add(
            name,
            api="threatexchange",
            bank="TE",
            url=te.url,
            credentials=str(credentials),
            options=GROUP,
        )
        return name

    return add


@pytest.fixture
def sync(
    te: FakeThreatExchange, run: Callable[..., SyncReport], http: Retrying, clock: Clock
) -> Callable[..., SyncReport]:
    """Sync with the client's "now" taken from ``clock``."""

    def go(name: str = "te", **options: object) -> SyncReport:
        api = ThreatExchangeApi(te.url, te.token, http=http, options=GROUP, clock=clock)
        return run(name, api=api, **options)

    return go


def state(store: Store) -> dict[str, tuple[str, str, bool, tuple[str, ...]]]:
    """Every entry of the bank: external id -> (type, value, withdrawn, labels)."""
    return {
        str(e.external_id): (e.signal.type, e.signal.value, e.withdrawn, e.labels)
        for e in export_entries(store, "TE", include_withdrawn=True)
    }


def active(store: Store) -> set[str]:
    return {value for _, value, gone, _ in state(store).values() if not gone}


def add_many(te: FakeThreatExchange, count: int, first: int) -> set[str]:
    """``count`` PDQ indicators updated a second apart from ``first``; their values."""
    values = [hexes() for _ in range(count)]
    for n, value in enumerate(values):
        te.add(value, last_updated=first + n)
    return set(values)


def queries(te: FakeThreatExchange) -> list[dict[str, list[str]]]:
    return [
        parse_qs(urlsplit(r.path).query)
        for r in te.requests
        if r.path.split("?")[0].endswith("threat_updates")
    ]


def test_first_sync_imports_tags_as_labels_and_counts_skipped_types(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    run: Callable[..., SyncReport],
    sync: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
    clock: Clock,
) -> None:
    pdq, md5 = hexes(), hexes(32)
    a = te.add(pdq, last_updated=clock.now - 500, tags=["alpha", "bravo"])
    b = te.add(md5.upper(), last_updated=clock.now - 400, type="HASH_MD5")
    te.add(hexes(), last_updated=clock.now - 300, type="HASH_TMK")
    te.add("https://example.invalid/x", last_updated=clock.now - 200, type="URI")
    name = add_te()
    # Through the registry: the client is built from the stored exchange (real clock).
    report = run(name)
    assert report.status == "ok", report.error
    assert state(store) == {
        a: ("pdq", pdq, False, ("te:alpha", "te:bravo")),
        b: ("md5", md5, False, ()),
    }
    assert report.skipped == {"HASH_TMK": 1, "URI": 1}
    assert (report.fetched, report.deltas) == (4, 2)
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    assert checkpoint["window"] is None
    first = queries(te)[0]
    assert "start_time" not in first  # the first download asks from the beginning
    assert first["limit"] == ["500"]
    assert "should_delete" in first["fields"][0]
    assert "tags" in first["fields"][0]
    clock.now += 60
    again = sync(name)
    assert (again.status, again.counts["added"], again.counts["updated"]) == ("ok", 0, 0)
    assert int(queries(te)[-1]["start_time"][0]) == checkpoint["done_to"] - 1


def test_delta_sync_withdraws_should_delete_and_applies_updates(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    clock: Clock,
) -> None:
    t0 = clock.now - 1000
    kept, gone, retagged, unheld = hexes(), hexes(), hexes(), hexes()
    keep_id = te.add(kept, last_updated=t0, tags=["alpha"])
    gone_id = te.add(gone, last_updated=t0 + 1, tags=["alpha"])
    retag_id = te.add(retagged, last_updated=t0 + 2, tags=["alpha"])
    unheld_id = te.add(unheld, last_updated=t0 + 3)
    add_te()
    assert sync().status == "ok"
    assert active(store) == {kept, gone, retagged, unheld}
    clock.now += 100
    # should_delete wins even when the update still lists descriptors.
    te.put(
        {
            "id": gone_id,
            "indicator": gone,
            "type": "HASH_PDQ",
            "last_updated": clock.now - 50,
            "should_delete": True,
            "descriptors": {"data": [{"tags": ["alpha"]}]},
        }
    )
    # No descriptors left: no member holds an opinion on it, so it goes too.
    te.put(
        {
            "id": unheld_id,
            "indicator": unheld,
            "type": "HASH_PDQ",
            "last_updated": clock.now - 40,
            "should_delete": False,
            "descriptors": {"data": []},
        }
    )
    te.add(retagged, id=retag_id, last_updated=clock.now - 10, tags=["charlie"])
    late = hexes()
    te.add(late, last_updated=clock.now - 20)
    te.put(
        {
            "id": keep_id,
            "indicator": kept,
            "type": "HASH_PDQ",
            "last_updated": clock.now - 5,
            "should_delete": False,
            "descriptors": {"data": [{"tags": {"data": [{"text": "bravo"}]}}]},
        }
    )
    report = sync()
    assert report.status == "ok", report.error
    assert active(store) == {kept, retagged, late}
    assert report.counts["withdrawn"] == 2
    entries = state(store)
    assert entries[gone_id][2] is True
    assert entries[unheld_id][2] is True
    assert entries[retag_id][3] == ("te:charlie",)
    assert entries[keep_id][3] == ("te:bravo",)  # tags as a Graph edge of {"text": ...}


def test_updates_out_of_time_order_are_all_applied_when_a_window_resumes(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
    clock: Clock,
) -> None:
    # Served newest first: a page's times say nothing of what later pages hold.
    values = [hexes() for _ in range(7)]
    for n, value in enumerate(values):
        te.add(value, last_updated=clock.now - 10 - 10 * n)
    name = add_te()

    def stop(_report: SyncReport) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync(name, on_delta=stop)
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    assert checkpoint["done_to"] == 0  # not past the first page's newest time
    assert active(store) == set(values[:3])
    report = sync(name)
    assert report.status == "ok", report.error
    assert active(store) == set(values)


def test_retries_429_honouring_retry_after(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    sleeps: Sleeps,
    store: Store,
    clock: Clock,
) -> None:
    value = hexes()
    te.add(value, last_updated=clock.now - 10)
    te.fail_next(429, times=2, retry_after=7)
    add_te()
    report = sync()
    assert report.status == "ok", report.error
    assert sleeps == [7, 7]
    assert active(store) == {value}


def test_a_truncated_body_is_retried_and_a_persistent_one_fails_without_moving_on(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
    clock: Clock,
) -> None:
    values = add_many(te, 5, clock.now - 100)
    name = add_te()
    te.truncate_next()
    assert sync().status == "ok"
    assert active(store) == values
    before = exchanges.get(name).checkpoint
    clock.now += 60
    later = hexes()
    te.add(later, last_updated=clock.now - 30)
    te.truncate_next(times=20)
    failed = sync()
    assert (failed.status, failed.error_code) == ("error", "exchange-protocol")
    assert "cannot be read" in (failed.error or "")
    assert exchanges.get(name).checkpoint == before
    assert later not in active(store)


def test_a_failure_mid_window_resumes_from_the_committed_page_and_expired_cursors_restart(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
    clock: Clock,
) -> None:
    values = add_many(te, 9, clock.now - 100)
    name = add_te()

    def stop(_report: SyncReport) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync(name, on_delta=stop)
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    link = checkpoint["window"]["next"]
    assert link.startswith(te.url)
    assert "after=" in link
    assert te.token not in json.dumps(checkpoint)
    assert "access_token" not in link
    assert len(active(store)) == 3
    resumed = sync(name)
    assert resumed.status == "ok", resumed.error
    assert active(store) == values
    assert resumed.counts["added"] == 6
    # Interrupted again, and the server forgets its cursors: the window starts over.
    te.add(hexes(), last_updated=clock.now - 1)
    clock.now += 60
    add_many(te, 5, clock.now - 30)
    with pytest.raises(KeyboardInterrupt):
        sync(name, on_delta=stop)
    te.expire_cursors()
    restarted = sync(name)
    assert restarted.status == "ok", restarted.error
    assert len(active(store)) == 9 + 6


def test_a_checkpoint_older_than_90_days_refetches_everything(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = hexes()
    te.add(old, last_updated=clock.now - 10)
    name = add_te()
    assert sync().status == "ok"
    clock.now += 120 * DAY
    recent = hexes()
    te.add(recent, last_updated=clock.now - 10)
    with caplog.at_level(logging.WARNING, logger="bastion.exchanges.threatexchange"):
        report = sync()
    assert report.status == "ok", report.error
    assert "start_time" not in queries(te)[-1]
    assert "deletions 90 days" in caplog.text
    checkpoint = exchanges.get(name).checkpoint
    assert checkpoint is not None
    assert checkpoint["full_refetch"]["previous_as_of"] == clock.now - 120 * DAY
    assert checkpoint["done_to"] == clock.now
    assert report.stale == 1  # the old indicator, fetched again
    assert active(store) == {old, recent}
    # The next sync is a delta again, and says nothing of a refetch.
    clock.now += 60
    assert sync().status == "ok"
    assert "full_refetch" not in (exchanges.get(name).checkpoint or {})
    assert "start_time" in queries(te)[-1]


def test_a_fresh_checkpoint_is_not_refetched(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    clock: Clock,
) -> None:
    add_te()
    assert sync().status == "ok"
    clock.now += 88 * DAY
    assert sync().status == "ok"
    assert int(queries(te)[-1]["start_time"][0]) == clock.now - 88 * DAY - 1


def test_the_token_is_in_no_message_log_or_show_output(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    run: Callable[..., SyncReport],
    exchanges: Exchanges,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock: Clock,
) -> None:
    add_many(te, 7, clock.now - 100)
    wrong = "987654321|wrong-secret-abcdefghijklmnop"
    add_te("good")
    add_te("bad", token=wrong)
    with caplog.at_level(logging.DEBUG):
        good = run("good")
        bad = run("bad")
    assert good.status == "ok", good.error
    assert (bad.status, bad.error_code) == ("error", "exchange-auth")
    assert "refused the access token" in (bad.error or "")
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.store_url)
    shown = "".join(
        CliRunner().invoke(app, ["exchange", "show", name, *flag]).output
        for name in ("good", "bad")
        for flag in ((), ("--json",))
    )
    assert "refused the access token" in shown
    texts = [caplog.text, shown, json.dumps([i.to_dict() for i in exchanges.list()])]
    texts += [r.getMessage() for r in caplog.records]
    for secret in (te.token, wrong, "fake-app-secret", "wrong-secret"):
        for text in texts:
            assert secret not in text


def test_check_names_the_privacy_group_and_refuses_a_wrong_token(
    te: FakeThreatExchange, http: Retrying
) -> None:
    assert ThreatExchangeApi(te.url, te.token, http=http, options=GROUP).check() == (
        f"privacy group {PRIVACY_GROUP} (Placeholder group)"
    )
    wrong = "1|not-the-token"
    with pytest.raises(ExchangeAuthError) as refused:
        ThreatExchangeApi(te.url, wrong, http=http, options=GROUP).check()
    assert wrong not in str(refused.value)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({}, "needs --option privacy_group"),
        ({"privacy_group": "my-group"}, "positive whole number"),
        ({"privacy_group": "0"}, "positive whole number"),
        ({**GROUP, "page_size": "lots"}, "page_size must be"),
        ({**GROUP, "privacygroup": "1"}, "has no option 'privacygroup'"),
    ],
)
def test_options_are_checked_when_the_exchange_is_added(
    te: FakeThreatExchange,
    exchanges: Exchanges,
    tmp_path: Path,
    options: dict[str, str],
    words: str,
) -> None:
    credentials = secret_file(tmp_path, te.token)
    with pytest.raises(ExchangeConfigError, match=words):
        exchanges.add(
            "x",
            api="threatexchange",
            bank="B",
            url=te.url,
            credentials=str(credentials),
            options=options,
        )
    assert exchanges.list() == []


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        ("endless", "exchange-protocol", "paging does not end"),
        ("elsewhere", "exchange-protocol", "paging.next leads to http://elsewhere.invalid"),
        ("garbled", "exchange-protocol", "cannot be read"),
        ("server-error", "exchange-unavailable", "HTTP 500"),
    ],
)
def test_bad_servers_end_the_sync_with_a_specific_error(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    exchanges: Exchanges,
    clock: Clock,
    setup: str,
    code: str,
    words: str,
) -> None:
    add_many(te, 4 if setup != "endless" else 2, clock.now - 100)
    name = add_te()
    if setup == "endless":
        te.never_ending_paging = True
    elif setup == "elsewhere":
        te.next_origin = "http://elsewhere.invalid:8080"
    elif setup == "garbled":
        te.garble_next(times=100)
    else:
        te.fail_next(500, times=100)
    report = sync(name)
    assert (report.status, report.error_code) == ("error", code)
    assert words in (report.error or "")
    assert te.token not in json.dumps(exchanges.get(name).to_dict())
    if setup == "elsewhere":
        assert all("elsewhere" not in r.path for r in te.requests)


def test_unusable_updates_are_named_and_every_other_one_is_applied(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    clock: Clock,
) -> None:
    good = hexes()
    te.add(good, last_updated=clock.now - 10, tags=["alpha"])
    te.add(hexes(63), last_updated=clock.now - 9)
    te.add("z" * 64, last_updated=clock.now - 8)
    te.add(hexes(), last_updated=clock.now - 7, tags=["semi;colon"])
    base = {
        "indicator": hexes(),
        "type": "HASH_PDQ",
        "last_updated": clock.now - 6,
        "should_delete": False,
        "descriptors": {"data": [{"tags": []}]},
    }
    te.put({**base, "id": "501", "should_delete": "yes"})
    te.put({k: v for k, v in base.items() if k != "should_delete"} | {"id": "502"})
    te.put({**base, "id": "503", "last_updated": "yesterday"})
    te.put({**base, "id": "not-an-id"})
    te.put({**base, "id": "505", "descriptors": {"data": [{"tags": "alpha"}]}})
    te.put({"id": "506", "unexpected": True})
    add_te()
    report = sync()
    assert (report.status, report.error_code) == ("error", "exchange-rejects")
    assert report.counts["rejected"] == 9
    reasons = " | ".join(r["reason"] for r in report.rejects)
    for words in (
        "64 hex digits",
        "not hexadecimal",
        "should_delete 'yes'",
        "should_delete None",
        "last_updated 'yesterday'",
        "id 'not-an-id'",
        "tags are not a list",
        "no indicator type",
    ):
        assert words in reasons
    assert active(store) == {good}


def test_a_generated_group_syncs_to_exactly_its_live_indicators(
    te: FakeThreatExchange,
    add_te: Callable[..., str],
    sync: Callable[..., SyncReport],
    store: Store,
    clock: Clock,
) -> None:
    te.generate(60, deletions=0.2, seed=3)
    add_te()
    report = sync()
    assert report.status == "ok", report.error
    held = {u["id"] for u in te.live().values() if u["type"] != "HASH_TMK"}
    entries = state(store)
    assert {key for key, entry in entries.items() if not entry[2]} == held
    assert report.skipped["HASH_TMK"] > 0
