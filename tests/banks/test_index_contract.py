"""The real match index answers as the brute-force one, whatever happens to the banks.

A hypothesis state machine adds, relabels, withdraws and deletes over a real
store and refreshes the real :class:`Index` (with a tiny delta limit, so
refreshes also fold the delta into new snapshots); after every step each
lookup must give the hits :class:`BruteForceIndex` gives for the store as it
was at the last refresh.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from bastion.banks import Banks
from bastion.banks.bank import BankKind
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.matching import Index
from bastion.matching import index as index_module
from bastion.matching.brute import BruteForceIndex
from bastion.matching.segment import Hit
from bastion.signals.vpdq import VpdqFeature, to_signal_value
from bastion.store import Store
from tests.banks.helpers import flip_bits

_rng = random.Random(16)
#: Few distinct values, so additions, withdrawals and re-additions meet.
PDQ_BASES = [f"{_rng.getrandbits(256):064x}" for _ in range(3)]
PDQS = [flip_bits(base, bits) for base in PDQ_BASES for bits in (0, 9, 30, 45)]
MD5S = [f"{_rng.getrandbits(128):032x}" for _ in range(3)]
MODELS = [f"{_rng.getrandbits(256):064x}" for _ in range(2)]
VIDEOS = [
    to_signal_value(VpdqFeature(n, 100, flip_bits(base, 3 * n + shift), n * 0.5) for n in range(4))
    for shift, base in enumerate(PDQ_BASES[:2])
]
SIGNALS = (
    [Signal("pdq", value) for value in PDQS]
    + [Signal("md5", value) for value in MD5S]
    + [Signal("video_md5", MD5S[0])]
    + [Signal("model_sha256", value) for value in MODELS]
    + [Signal("photodna", "opaque-value-1"), Signal("photodna", "OPAQUE-VALUE-1")]
    + [Signal("vpdq", value) for value in VIDEOS]
    # Terms of term banks (neutral placeholders): one allowed no edit, one a
    # word shared with another term, one of two words.
    + [Signal("text", value) for value in ("jam", "teapot", "teapots", "marmalade jar")]
)
#: What is looked up after every step: exact values (an AutoV2 finds its model too).
EXACT_QUERIES = [s for s in SIGNALS if s.type not in ("pdq", "vpdq")] + [
    Signal("model_autov2", MODELS[0][:10]),
    Signal("sha256", MODELS[1]),
]
PDQ_QUERIES = [*PDQS, *(flip_bits(base, 20) for base in PDQ_BASES)]
#: Texts the terms are found in (exactly, within their edits) or not.
TEXT_QUERIES = [
    Signal("text", text)
    for text in ("a teapot by the marmalade jars", "jam and teapotz", "jams", "a teacup")
]
BANKS = ("red", "green", "blue")

bank_names = st.sampled_from(BANKS)
signal_lists = st.lists(st.sampled_from(SIGNALS), min_size=1, max_size=6)
label_lists = st.lists(st.sampled_from(["iwf:A", "ncmec:B1", "local:x"]), max_size=2)


def ordered(hits: list[Hit]) -> list[Hit]:
    return sorted(hits)


class IndexAgainstBruteForce(RuleBasedStateMachine):
    def __init__(self, store: Store, home: Settings) -> None:
        super().__init__()
        self.store = store
        self.banks = Banks(store, actor="test")
        # Examples share the store: each starts from no banks at all.
        for bank in self.banks.list():
            self.banks.delete(bank.name)
        #: Signals each existing bank was given (withdrawn or not).
        self.added: dict[str, set[Signal]] = {}
        self.index = Index.open(store, home)
        self.reference = BruteForceIndex.from_store(store)

    @initialize(
        thresholds=st.lists(st.sampled_from([0, 10, 31, 50]), min_size=3, max_size=3),
        allowlist=st.sampled_from(BANKS),
    )
    def create_banks(self, thresholds: list[int], allowlist: str) -> None:
        """One allowlist among the banks, so its hits show up in lookups too."""
        for name, threshold in zip(BANKS, thresholds, strict=True):
            self._create(name, threshold, allowlist=name == allowlist)

    def _create(self, name: str, threshold: int, *, allowlist: bool) -> None:
        kind = BankKind.ALLOWLIST if allowlist else BankKind.BLOCKLIST
        self.banks.create(name, kind=kind, pdq_threshold=threshold)
        self.added[name] = set()

    @rule(name=bank_names, signals=signal_lists, labels=label_lists)
    def add(self, name: str, signals: list[Signal], labels: list[str]) -> None:
        if name not in self.added:
            self._create(name, 31, allowlist=False)
        self.banks.add_signals(name, signals, labels)
        self.added[name].update(signals)

    @precondition(lambda self: any(self.added.values()))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        """Withdraw some of what a bank was given (and perhaps something it never had)."""
        name = data.draw(st.sampled_from(sorted(n for n, held in self.added.items() if held)))
        held = st.sampled_from(sorted(self.added[name], key=str))
        signals = data.draw(st.lists(held | st.sampled_from(SIGNALS), min_size=1, max_size=4))
        self.banks.withdraw_signals(name, signals)

    @precondition(lambda self: bool(self.added))
    @rule(data=st.data())
    def delete_bank(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.added)))
        self.banks.delete(name)
        del self.added[name]

    @rule()
    def refresh(self) -> None:
        self.index.refresh()
        self.reference = BruteForceIndex.from_store(self.store)

    @rule()
    def snapshot(self) -> None:
        """Catch up and write a snapshot: later changes go to the delta and hide base rows."""
        self.index.refresh()
        self.index.rebuild()
        self.reference = BruteForceIndex.from_store(self.store)

    @invariant()
    def same_lookups(self) -> None:
        assert self.index.banks == self.reference.banks
        assert self.index.label_sets == self.reference.label_sets
        for signal in [*EXACT_QUERIES, *TEXT_QUERIES]:
            assert ordered(self.index.lookup(signal)) == ordered(self.reference.lookup(signal))
        for radius in (None, 0, 31):
            found = self.index.lookup_pdq(PDQ_QUERIES, radius=radius)
            expected = self.reference.lookup_pdq(PDQ_QUERIES, radius=radius)
            assert [ordered(h) for h in found] == [ordered(h) for h in expected]


def test_index_matches_brute_force(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refresh with more than a few pending changes writes a new snapshot.
    monkeypatch.setattr(index_module, "DELTA_MIN_ROWS", 8)
    run_state_machine_as_test(
        lambda: IndexAgainstBruteForce(store, settings),
        # Few, short runs: every step writes to a real database.
        settings=run_settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
