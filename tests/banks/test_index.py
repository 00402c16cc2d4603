"""The index snapshot is memory-mapped and follows additions and withdrawals incrementally."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.banks import Banks
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.matching import Index, match_signals
from bastion.matching import index as index_module
from bastion.store import Store
from tests.banks.helpers import flip_bits
from tests.formats.samples import rand_hex


def pdq_signals(count: int) -> list[Signal]:
    return [Signal("pdq", rand_hex(64)) for _ in range(count)]


def snapshots(settings: Settings, store: Store) -> list[str]:
    root = settings.home / "index" / store.instance_id
    return sorted(p.name for p in root.glob("seq-*"))


def test_snapshot_is_reused_and_memory_mapped(store: Store, settings: Settings) -> None:
    Banks(store, actor="test").create("known")
    signals = pdq_signals(50)
    Banks(store, actor="test").add_signals("known", signals)
    first = Index.open(store, settings)
    assert isinstance(first.base.pdq.codes.base, np.memmap)
    assert len(first.base) == 50
    assert len(first.delta) == 0
    made = snapshots(settings, store)
    second = Index.open(store, settings)
    assert snapshots(settings, store) == made
    assert [h.distance for h in second.lookup(Signal("pdq", flip_bits(signals[3].value, 5)))] == [5]


def test_changes_apply_without_a_rebuild(store: Store, settings: Settings) -> None:
    banks = Banks(store, actor="test")
    banks.create("known")
    old = pdq_signals(20)
    Banks(store, actor="test").add_signals("known", old)
    index = Index.open(store, settings)
    made = snapshots(settings, store)

    new = Signal("pdq", rand_hex(64))
    Banks(store, actor="test").add_signals("known", [new, Signal("md5", "ab" * 16)], ["iwf:A"])
    Banks(store, actor="test").withdraw_signals("known", [old[0]])
    Banks(store, actor="test").add_signals("known", [old[1]], ["ncmec:B2"])  # relabelled
    assert index.refresh()
    assert not index.refresh()
    assert snapshots(settings, store) == made
    assert [m.labels for m in match_signals([new], index).matches] == [("iwf:A",)]
    assert len(match_signals([Signal("md5", "AB" * 16)], index).matches) == 1
    assert match_signals([old[0]], index).matches == ()
    assert [m.labels for m in match_signals([old[1]], index).matches] == [("ncmec:B2",)]
    # 20 old - 1 withdrawn + 2 new; the relabelled entry counts once.
    assert index.entry_counts() == {banks.get("known").id: 21}
    assert banks.stats("known").active == 21


def test_deleted_bank_stops_matching(store: Store, settings: Settings) -> None:
    banks = Banks(store, actor="test")
    banks.create("doomed")
    signals = pdq_signals(5)
    Banks(store, actor="test").add_signals("doomed", signals)
    index = Index.open(store, settings)
    assert match_signals(signals[:1], index).matches
    banks.delete("doomed")
    index.refresh()
    assert match_signals(signals[:1], index).matches == ()


def test_large_delta_folds_into_a_new_snapshot(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "DELTA_MIN_ROWS", 10)
    Banks(store, actor="test").create("known")
    Banks(store, actor="test").add_signals("known", pdq_signals(5))
    index = Index.open(store, settings)
    before = snapshots(settings, store)
    later = pdq_signals(30)
    Banks(store, actor="test").add_signals("known", later)
    index.refresh()
    after = snapshots(settings, store)
    assert after != before
    assert len(after) == 1, "old snapshot pruned"
    assert len(index.base) == 35
    assert len(index.delta) == 0
    assert match_signals(later[-1:], index).matches
