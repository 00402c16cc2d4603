"""What a finished scan records for its attestation: when it ran, and each bank's version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bastion.banks import Banks
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.matching import Index
from bastion.scan.engine import (
    Progress,
    ScanContext,
    ScanPlan,
    bank_versions,
    local_engine,
    run_scan,
    scan_unit,
)
from bastion.scan.sources import SourceOptions, Unit
from bastion.store import Store
from tests.scan.fixtures import jpeg, write_shards


def _stop_after_one_unit(
    jobs: Iterator[tuple[int, Unit]], context: ScanContext, progress: Progress
) -> None:
    for number, unit in jobs:
        scan_unit(number, unit, context, progress)
        raise KeyboardInterrupt


def test_a_summary_says_when_the_scan_started_and_finished(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(jpeg(1))
    settings = Settings(home=tmp_path / "home")
    before = datetime.now(UTC)
    plan = ScanPlan([str(tmp_path / "in")], SourceOptions())
    summary = run_scan(plan, tmp_path / "out", local_engine(1), index=None, settings=settings)
    started = datetime.fromisoformat(summary["started_at"])
    finished = datetime.fromisoformat(summary["finished_at"])
    assert started.utcoffset() is not None
    assert before <= started <= finished <= datetime.now(UTC)


def test_a_resumed_scan_keeps_the_start_of_its_first_run(tmp_path: Path) -> None:
    pattern = write_shards(tmp_path / "shards", samples=4, per_shard=2)
    settings = Settings(home=tmp_path / "home")
    plan = ScanPlan([pattern], SourceOptions())
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_scan(plan, out, _stop_after_one_unit, index=None, settings=settings)
    between = datetime.now(UTC)
    summary = run_scan(plan, out, local_engine(1), index=None, settings=settings, resume=True)
    assert datetime.fromisoformat(summary["started_at"]) < between
    assert between < datetime.fromisoformat(summary["finished_at"])
    assert summary["seen"] == 4


def test_bank_versions_name_each_banks_latest_change(store: Store, settings: Settings) -> None:
    banks = Banks(store, actor="test")
    banks.create("known")
    banks.create("quiet")
    signals = [hash_bytes(jpeg(n)).signals[0] for n in range(3)]
    banks.add_signals("known", signals)
    first = bank_versions(banks, Index.open(store, settings))
    assert first["quiet"]["latest_change"] is None
    seq, _ = map(int, first["known"]["latest_change"].split("."))
    banks.withdraw_signals("known", signals[:1])
    later = bank_versions(banks, Index.open(store, settings))
    withdrawn_seq, _ = map(int, later["known"]["latest_change"].split("."))
    assert withdrawn_seq > seq
    assert later["known"]["entries"] == 2
