"""The contract every SignalType meets, checked against its own reference.

A type's test subclasses :class:`SignalTypeContract`, sets ``TYPE`` and says
how to make random values, values near a given one and bad spellings; the
contract then checks validation and that the match index finds exactly what
the type's brute-force ``compare`` says.
"""

from __future__ import annotations

import random
from typing import ClassVar

import pytest

from bastion.banks import Banks
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.matching import Index, match_signals
from bastion.signals.types import InvalidSignal, SignalType, signal_type
from bastion.store import Store

#: Threshold of the banks the index contract searches (the default one).
THRESHOLD = 31
#: Banked values, and queries, per index contract run.
BANKED = 12
QUERIES = 24


class SignalTypeContract:
    TYPE: ClassVar[SignalType]

    def random_value(self, rng: random.Random) -> str:
        """A random value in canonical spelling."""
        raise NotImplementedError

    def near_value(self, value: str, rng: random.Random) -> str:
        """A canonical value that may or may not match ``value``: both must happen."""
        raise NotImplementedError

    def other_spellings(self, value: str) -> list[str]:
        """Spellings of ``value`` that validate to it."""
        raise NotImplementedError

    def bad_values(self) -> list[str]:
        """Values ``validate`` rejects."""
        raise NotImplementedError

    def test_is_registered(self) -> None:
        assert signal_type(self.TYPE.name) is self.TYPE
        assert self.TYPE.family

    def test_validate_round_trips(self) -> None:
        rng = random.Random(1)
        for _ in range(20):
            value = self.random_value(rng)
            assert self.TYPE.validate(value) == value
            for spelling in self.other_spellings(value):
                assert self.TYPE.validate(spelling) == value, spelling

    def test_rejects_bad_values(self) -> None:
        for bad in self.bad_values():
            with pytest.raises(InvalidSignal):
                self.TYPE.validate(bad)

    def test_a_value_matches_itself(self) -> None:
        rng = random.Random(2)
        for _ in range(20):
            value = self.random_value(rng)
            same = self.TYPE.compare(value, value, 0)
            assert same.matched
            assert same.distance == 0

    def test_index_finds_what_compare_says(self, store: Store, settings: Settings) -> None:
        """Each value in a bank of its own, so a match's bank names the value it found."""
        rng = random.Random(3)
        banked = [self.random_value(rng) for _ in range(BANKED)]
        banks = Banks(store, actor="test")
        for number, value in enumerate(banked):
            banks.create(f"b{number}", pdq_threshold=THRESHOLD)
            banks.add_signals(f"b{number}", [Signal(self.TYPE.name, value)])
        index = Index.open(store, settings)
        near = [self.near_value(rng.choice(banked), rng) for _ in range(QUERIES)]
        outcomes: list[bool] = []
        for query in [*near, self.random_value(rng), *banked]:
            found = match_signals([Signal(self.TYPE.name, query)], index).matches
            expected = {
                f"b{number}"
                for number, value in enumerate(banked)
                if self.TYPE.compare(query, value, THRESHOLD).matched
            }
            assert {m.bank for m in found} == expected, query
            outcomes.append(bool(expected))
        # Near values straddle the threshold, so the check saw both answers.
        assert set(outcomes[:QUERIES]) == {True, False}
