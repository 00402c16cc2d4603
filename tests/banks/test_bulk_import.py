"""Bulk imports commit batch by batch: the same bank as one transaction, and no long waits.

On SQLite and PostgreSQL.  ``BATCH_SIZE`` is made small so a short list
spans many batches.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from bastion.banks import Banks, importer
from bastion.banks.entries import export_entries
from bastion.fingerprint import Signal
from bastion.formats.records import FormatError, ReadItem, Record, Reject
from bastion.store import Store
from bastion.store.models import AuditRecord, Entry, EntrySource, ImportRecord
from tests.banks.helpers import import_text


def _md5(rng: random.Random) -> Signal:
    return Signal("md5", f"{rng.getrandbits(128):032x}")


def mixed_list(seed: int, rows: int) -> list[ReadItem]:
    """Additions with ids and labels, duplicates, rejects, withdrawals of earlier
    items by id, and re-additions after them, in random order."""
    rng = random.Random(seed)
    items: list[ReadItem] = []
    seen: list[tuple[Signal, str]] = []
    for n in range(rows):
        where = f"row {n}"
        roll = rng.random()
        if roll < 0.1 and seen:
            signal, item = rng.choice(seen)
            items.append(Record(where, signal, (rng.choice(["a", "b"]),), item))
        elif roll < 0.15:
            items.append(Reject(where, "placeholder reason"))
        elif roll < 0.25 and seen:
            items.append(Record(where, None, external_id=rng.choice(seen)[1], withdrawn=True))
        elif roll < 0.3:
            items.append(Record(where, _md5(rng), ("c",), f"gone{n}", withdrawn=True))
        else:
            signal, item = _md5(rng), f"item{n % 97}"
            seen.append((signal, item))
            items.append(Record(where, signal, (rng.choice(["a", "b", "c"]),), item))
    return items


def bank_state(store: Store, bank: str) -> list[tuple[object, ...]]:
    return sorted(
        (e.signal.type, e.signal.value, e.labels, e.external_id, e.withdrawn)
        for e in export_entries(store, bank, include_withdrawn=True)
    )


def test_batches_give_the_bank_one_transaction_gives(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks = Banks(store, actor="test")
    for name in ("whole", "batched"):
        banks.create(name)
        banks.import_records(name, mixed_list(1, 300), source="earlier", format="csv")
    later = mixed_list(2, 600)
    monkeypatch.setattr(importer, "BATCH_SIZE", 1)
    with store.transaction() as session:
        whole = Banks(store, actor="test", session=session).import_records(
            "whole", later, source="list", format="csv"
        )
    monkeypatch.setattr(importer, "BATCH_SIZE", 7)
    batched = banks.import_records("batched", later, source="list", format="csv")
    # The same rows are rejected (a duplicate's reason names its batch or not;
    # unreadable rows are reported first, as the list is staged).
    assert sorted(r.location for r in batched.rejects) == sorted(r.location for r in whole.rejects)
    counts = ("added", "updated", "restored", "withdrawn", "unchanged", "rejected", "relabelled")
    assert [getattr(batched, c) for c in counts] == [getattr(whole, c) for c in counts]
    assert batched.label_changes == whole.label_changes
    assert batched.withdrawn
    assert batched.unchanged
    assert bank_state(store, "batched") == bank_state(store, "whole")
    with store.sessions() as session:
        sources = session.execute(
            select(EntrySource.source, func.count())
            .group_by(EntrySource.source)
            .order_by(EntrySource.source)
        ).all()
        imports = session.execute(
            select(ImportRecord.added, ImportRecord.withdrawn, ImportRecord.rejected)
            .where(ImportRecord.source == "list")
            .order_by(ImportRecord.id)
        ).all()
    assert all(count % 2 == 0 for _, count in sources)
    assert imports[0] == imports[1] == (whole.added, whole.withdrawn, whole.rejected)


def test_a_broken_document_late_in_a_long_list_changes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    banks = Banks(store, actor="test")
    banks.create("known")
    monkeypatch.setattr(importer, "BATCH_SIZE", 5)

    def broken() -> Iterator[ReadItem]:
        yield from mixed_list(3, 100)
        raise FormatError("truncated document")

    with pytest.raises(FormatError, match="truncated"):
        banks.import_records("known", broken(), source="list", format="csv")
    with store.sessions() as session:
        assert session.execute(select(func.count()).select_from(Entry)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(ImportRecord)).scalar_one() == 0
        actions = session.execute(select(AuditRecord.action)).scalars().all()
    assert "bank.import" not in actions


def test_an_import_is_audited_once_when_its_last_batch_commits(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    Banks(store, actor="test").create("known")
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    lines = "\n".join(f"md5,{i:032x}" for i in range(9))
    report = import_text(store, "known", "csv", lines)
    with store.sessions() as session:
        audited = session.execute(
            select(AuditRecord.detail).where(AuditRecord.action == "bank.import")
        ).scalars()
        assert [('"added": 9' in detail) for detail in audited] == [True]
        row = session.execute(select(ImportRecord)).scalar_one()
    assert (report.added, row.added) == (9, 9)


def test_another_banks_add_does_not_wait_for_a_long_import(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add finishes while the import is still running, not after it."""
    banks = Banks(store, actor="test")
    banks.create("big")
    banks.create("other")
    monkeypatch.setattr(importer, "BATCH_SIZE", 50)
    flush = importer._Merger.flush

    def slow_flush(merger: importer._Merger) -> None:
        flush(merger)
        time.sleep(0.05)  # each batch holds its transaction a little while

    monkeypatch.setattr(importer._Merger, "flush", slow_flush)
    rng = random.Random(4)
    items = [Record(f"row {n}", _md5(rng)) for n in range(5_000)]
    done = threading.Event()
    errors: list[BaseException] = []

    def run_import() -> None:
        try:
            Banks(store, actor="test").import_records("big", items, source="big", format="csv")
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            done.set()

    importing = threading.Thread(target=run_import)
    importing.start()
    try:
        deadline = time.monotonic() + 60
        while not _entries(store) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not done.is_set(), "the import's first batches were not visible before it ended"
        banks.add_signals("other", [_md5(rng)])
        assert _entries(store) < len(items) + 1, "the add waited for the whole import"
    finally:
        importing.join()
    assert not errors
    assert banks.stats("other").active == 1
    assert banks.stats("big").active == len(items)


def _entries(store: Store) -> int:
    with store.sessions() as session:
        return session.execute(select(func.count()).select_from(Entry)).scalar_one()
