"""Syncing a bank from NCMEC's hash sharing API (a loopback fake of it)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bastion.banks.entries import export_entries
from bastion.exchanges.registry import Exchanges
from bastion.exchanges.sync import SyncReport
from bastion.store import Store
from bastion.store.models import AuditRecord
from tests.exchanges.conftest import Sleeps
from tests.exchanges.fakes.ncmec import LINK, FakeNcmec

RNG = random.Random(17)
T0 = 1_760_000_000


def hexes(length: int) -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(length))


def image(fake: FakeNcmec, member: int, entry_id: str, at: int, cls: str = "A1") -> dict[str, str]:
    prints = {"md5": hexes(32), "sha1": hexes(40), "pdq": hexes(64)}
    fake.add_image(member, entry_id, at, classification=cls, fingerprints=prints)
    return prints


def state(store: Store, bank: str = "NCMEC") -> dict[tuple[str, str], tuple[bool, tuple[str, ...]]]:
    """Every entry of the bank: (type, value) -> (withdrawn, labels)."""
    return {
        (e.signal.type, e.signal.value): (e.withdrawn, e.labels)
        for e in export_entries(store, bank, include_withdrawn=True)
    }


def active(store: Store, bank: str = "NCMEC") -> set[str]:
    return {value for (_, value), (gone, _) in state(store, bank).items() if not gone}


def test_first_sync_imports_every_fingerprint(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    a = image(ncmec, 42, "a", T0)
    b = image(ncmec, 42, "b", T0 + 5, cls="B2")
    ncmec.add_video(42, "v", T0 + 9, fingerprints={"md5": (video := hexes(32))})
    ncmec.add_video(42, "w", T0 + 9, fingerprints={"md5": hexes(32), "tmk-pdqf": LINK})
    report = run(add_ncmec())
    assert report.status == "ok", report.error
    entries = state(store)
    assert entries[("pdq", a["pdq"])] == (False, ("ncmec:A1",))
    assert entries[("md5", b["md5"])] == (False, ("ncmec:B2",))
    assert entries[("video_md5", video)][0] is False
    assert report.counts["added"] == 3 + 3 + 1 + 1
    assert report.skipped == {"tmk-pdqf": 1}
    # Nothing new: the next sync fetches nothing and changes nothing.
    again = run("ncmec-test")
    assert (again.status, again.counts["added"], again.counts["updated"]) == ("ok", 0, 0)


def test_one_audit_record_per_sync_with_the_exchange_as_actor(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    for n in range(7):  # three pages
        image(ncmec, 1, f"e{n}", T0 + n)
    run(add_ncmec())
    with store.sessions() as session:
        records = (
            session.execute(select(AuditRecord).where(AuditRecord.action == "exchange.sync"))
            .scalars()
            .all()
        )
    [record] = records
    assert record.actor == "exchange:ncmec-test"
    assert record.target == "bank:NCMEC"
    detail = json.loads(record.detail)
    assert (detail["added"], detail["status"], detail["deltas"]) == (21, "ok", 3)


def test_out_of_order_pages_and_a_deletion_before_its_creation(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    # The deletion (newer) is served before the creation (older), on the same page.
    ncmec.delete_image(42, "gone", T0 + 100)
    gone = image(ncmec, 42, "gone", T0 + 10)
    # And across pages: the newest record of "moved" comes first, an older one later.
    image(ncmec, 42, "moved", T0 + 50, cls="B1")
    for n in range(4):
        image(ncmec, 7, f"filler{n}", T0 + 60 + n)
    ncmec.add_image(42, "moved", T0 + 20, classification="A1", fingerprints={"md5": hexes(32)})
    report = run(add_ncmec())
    assert report.status == "ok", report.error
    assert gone["pdq"] not in active(store)
    assert report.stale == 2
    labels = {labels for (_, v), (_, labels) in state(store).items()}
    assert ("ncmec:A1",) in labels  # the fillers
    moved = [e for e in export_entries(store, "NCMEC") if e.external_id == "42/moved"]
    assert {e.labels for e in moved} == {("ncmec:B1",)}


def test_entry_ids_are_unique_only_per_member(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    one = image(ncmec, 1, "same", T0)
    two = image(ncmec, 2, "same", T0 + 1)
    run(add_ncmec())
    # A deletion made after that sync: the next window (from the last one's end to now) has it.
    ncmec.delete_image(2, "same", int(time.time()))
    time.sleep(1.05)
    report = run("ncmec-test")
    assert report.status == "ok", report.error
    values = active(store)
    assert one["md5"] in values
    assert two["md5"] not in values


def test_retries_429_honouring_retry_after(
    ncmec: FakeNcmec,
    add_ncmec: Callable[..., str],
    run: Callable[..., SyncReport],
    sleeps: Sleeps,
) -> None:
    image(ncmec, 1, "x", T0)
    ncmec.fail_next(429, times=2, retry_after=7)
    ncmec.fail_next(503)
    report = run(add_ncmec())
    assert report.status == "ok", report.error
    assert sleeps[:2] == [7, 7]
    assert len(sleeps) == 3


def test_a_truncated_page_is_retried(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    prints = image(ncmec, 1, "x", T0)
    ncmec.truncate_next()
    assert run(add_ncmec()).status == "ok"
    assert prints["md5"] in active(store)


def test_persistent_failure_keeps_what_was_committed_and_the_next_sync_continues(
    ncmec: FakeNcmec,
    add_ncmec: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    exchanges: Exchanges,
) -> None:
    for n in range(9):  # three pages of three
        image(ncmec, 1, f"e{n}", T0 + n)
    name = add_ncmec()
    calls = 0

    def fail_after_the_first_page(_report: SyncReport) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            ncmec.truncate_next(times=10)

    report = run(name, on_delta=fail_after_the_first_page)
    assert (report.status, report.error_code) == ("error", "exchange-protocol")
    assert "cannot be read" in (report.error or "")
    assert len(active(store)) == 9  # the first page's three entries, three hashes each
    shown = exchanges.get(name)
    assert shown.last_status == "error"
    assert shown.last_error == report.error
    assert shown.checkpoint is not None
    assert shown.checkpoint["window"]["next"]
    with ncmec._lock:
        ncmec._faults.clear()
    resumed = run(name)
    assert resumed.status == "ok", resumed.error
    assert resumed.resumed
    assert len(active(store)) == 27
    assert resumed.counts["added"] == 18


def test_an_expired_next_link_refetches_the_window(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    for n in range(9):
        image(ncmec, 1, f"e{n}", T0 + n)
    name = add_ncmec()

    def stop(_report: SyncReport) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(name, on_delta=stop)
    ncmec.expire_next_links()
    report = run(name)
    assert report.status == "ok", report.error
    assert len(active(store)) == 27
    assert report.stale == 3  # the first page again, already applied
    assert report.counts["added"] == 18


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        ("credentials", "exchange-auth", "refused the credentials"),
        ("server-error", "exchange-unavailable", "HTTP 500"),
        ("garbled", "exchange-protocol", "cannot be read"),
        ("endless", "exchange-protocol", "does not end"),
    ],
)
def test_bad_servers_end_the_sync_with_a_specific_error(
    ncmec: FakeNcmec,
    exchanges: Exchanges,
    run: Callable[..., SyncReport],
    tmp_path: Path,
    setup: str,
    code: str,
    words: str,
) -> None:
    for n in range(4):
        image(ncmec, 1, f"e{n}", T0 + n)
    password = "wrong" if setup == "credentials" else ncmec.password
    credentials = tmp_path / "cred"
    credentials.write_text(f"user:{password}")
    credentials.chmod(0o600)
    exchanges.add("x", api="ncmec", bank="B", url=ncmec.url, credentials=str(credentials))
    if setup == "server-error":
        ncmec.fail_next(500, times=100)
    elif setup == "garbled":
        ncmec.garble_next(times=100)
    elif setup == "endless":
        ncmec.never_ending_paging = True
    report = run("x")
    assert (report.status, report.error_code) == ("error", code)
    assert words in (report.error or "")
    assert exchanges.get("x").last_error == report.error
    assert password not in json.dumps(exchanges.get("x").to_dict())


def test_an_unreachable_server(
    exchanges: Exchanges, run: Callable[..., SyncReport], tmp_path: Path
) -> None:
    credentials = tmp_path / "cred"
    credentials.write_text("user:pass")
    credentials.chmod(0o600)
    url = "http://127.0.0.1:9/h"  # the discard port: nothing listens
    exchanges.add("x", api="ncmec", bank="B", url=url, credentials=str(credentials))
    report = run("x")
    assert (report.status, report.error_code) == ("error", "exchange-unavailable")
    assert "cannot reach http://127.0.0.1:9/h/v2/entries" in (report.error or "")


def test_unusable_rows_are_named_and_every_other_row_is_applied(
    ncmec: FakeNcmec, add_ncmec: Callable[..., str], run: Callable[..., SyncReport], store: Store
) -> None:
    good = image(ncmec, 1, "good", T0)
    ncmec.add_image(1, "short", T0 + 1, fingerprints={"md5": "abc123"})
    ncmec.add_image(1, "odd", T0 + 2, classification="Q9", fingerprints={"md5": hexes(32)})
    ncmec.add_raw("<audio><id>s1</id></audio>", T0 + 3, "image")
    report = run(add_ncmec())
    assert (report.status, report.error_code) == ("error", "exchange-rejects")
    assert report.counts["rejected"] == 3
    reasons = " | ".join(r["reason"] for r in report.rejects)
    assert "unknown element <audio>" in reasons
    assert good["pdq"] in active(store)
    assert "3 rows could not be used" in (report.error or "")


def test_read_ahead_groups_pages_into_fewer_transactions_and_ends_the_same(
    ncmec: FakeNcmec,
    add_ncmec: Callable[..., str],
    run: Callable[..., SyncReport],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages fetched while one is applied are applied together, each as if alone:
    an entry created and deleted on different pages of a group is still there,
    withdrawn, exactly as page by page."""
    rng = random.Random(5)
    for n in range(60):
        image(ncmec, 7, f"e{n}", T0 + n)
    for n in rng.sample(range(60), 20):
        ncmec.delete_image(7, f"e{n}", T0 + 100 + n)
    from bastion.exchanges import sync

    transactions: list[int] = []
    apply = sync._Applier.apply

    def slow_apply(applier: sync._Applier, deltas: list[Any]) -> None:
        transactions.append(len(deltas))
        time.sleep(0.2)  # the fetch thread gets ahead
        apply(applier, deltas)

    monkeypatch.setattr(sync._Applier, "apply", slow_apply)
    grouped = run(add_ncmec("grouped", "GROUPED"), read_ahead=True)
    monkeypatch.undo()
    alone = run(add_ncmec("alone", "ALONE"))
    assert grouped.status == alone.status == "ok"
    assert grouped.deltas == alone.deltas == sum(transactions)
    assert max(transactions) > 1, "no pages were grouped"
    assert len(transactions) < grouped.deltas
    assert state(store, "GROUPED") == state(store, "ALONE")
    ignored = ("exchange", "bank", "seconds")
    counts = [{k: v for k, v in r.to_dict().items() if k not in ignored} for r in (grouped, alone)]
    assert counts[0] == counts[1]
