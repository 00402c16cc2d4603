"""Matching rules: per-bank thresholds, allowlists, quality, signal families."""

from __future__ import annotations

import pytest

from bastion.banks import BankKind, Banks
from bastion.config import Settings
from bastion.fingerprint import Fingerprint, Signal
from bastion.matching import Index, match, match_signals
from bastion.store import Store
from tests.banks.helpers import flip_bits
from tests.formats.samples import rand_hex


@pytest.fixture
def banks(store: Store) -> Banks:
    banks = Banks(store, actor="test")
    banks.create("strict", pdq_threshold=10)
    banks.create("loose", pdq_threshold=40)
    banks.create("false-positives", kind=BankKind.ALLOWLIST, pdq_threshold=10)
    return banks


def test_each_bank_uses_its_own_threshold(banks: Banks, settings: Settings) -> None:
    seed = rand_hex(64)
    banks.add_signals("strict", [Signal("pdq", seed)])
    banks.add_signals("loose", [Signal("pdq", seed)], ["ncmec:A2"])
    index = Index.open(banks.store, settings)
    for distance, expected in ((10, {"strict", "loose"}), (11, {"loose"}), (40, {"loose"})):
        found = match_signals([Signal("pdq", flip_bits(seed, distance))], index).matches
        assert {m.bank for m in found} == expected
        assert {m.distance for m in found} == {distance}
    assert match_signals([Signal("pdq", flip_bits(seed, 41))], index).matches == ()


def test_allowlisted_pdq_suppresses_pdq_matches_only(banks: Banks, settings: Settings) -> None:
    seed, md5 = rand_hex(64), rand_hex(32)
    banks.add_signals("loose", [Signal("pdq", seed), Signal("md5", md5)])
    banks.add_signals("false-positives", [Signal("pdq", flip_bits(seed, 4))])
    index = Index.open(banks.store, settings)
    outcome = match_signals([Signal("pdq", seed), Signal("md5", md5)], index)
    assert [m.signal_type for m in outcome.matches] == ["md5"]
    assert [m.bank for m in outcome.suppressed] == ["loose"]
    assert [m.bank for m in outcome.allowlisted] == ["false-positives"]


def test_allowlisted_file_digest_suppresses_everything(banks: Banks, settings: Settings) -> None:
    seed, sha256 = rand_hex(64), rand_hex(64)
    banks.add_signals("loose", [Signal("pdq", seed)])
    banks.add_signals("false-positives", [Signal("sha256", sha256)])
    index = Index.open(banks.store, settings)
    outcome = match_signals([Signal("pdq", seed), Signal("sha256", sha256)], index)
    assert outcome.matches == ()
    assert len(outcome.suppressed) == 1


def test_low_quality_pdq_is_not_matched_unless_asked(banks: Banks, settings: Settings) -> None:
    seed = rand_hex(64)
    banks.add_signals("loose", [Signal("pdq", seed)])
    index = Index.open(banks.store, settings)
    flat = Fingerprint("image/png", 10, (Signal("pdq", seed),), pdq_quality=10, low_quality=True)
    assert match(flat, index) == []
    assert len(match(flat, index, include_low_quality=True)) == 1


def test_video_md5_entries_match_file_md5(banks: Banks, settings: Settings) -> None:
    digest = rand_hex(32)
    banks.add_signals("strict", [Signal("video_md5", digest)], ["ncmec:A1"])
    index = Index.open(banks.store, settings)
    found = match(Fingerprint("video/mp4", 10, (Signal("md5", digest),)), index)
    assert [(m.signal_type, m.labels) for m in found] == [("video_md5", ("ncmec:A1",))]


def test_photodna_is_matched_exactly(banks: Banks, settings: Settings) -> None:
    value = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    banks.add_signals("strict", [Signal("photodna", value)])
    index = Index.open(banks.store, settings)
    assert len(match_signals([Signal("photodna", value)], index).matches) == 1
    assert match_signals([Signal("photodna", value.lower())], index).matches == ()


def test_dihedral_variants_find_rotated_copies(banks: Banks, settings: Settings) -> None:
    seed, rotated = rand_hex(64), rand_hex(64)
    banks.add_signals("strict", [Signal("pdq", rotated)])
    index = Index.open(banks.store, settings)
    fingerprint = Fingerprint(
        "image/jpeg", 10, (Signal("pdq", seed),), pdq_quality=100, pdq_dihedral=(seed, rotated)
    )
    assert [m.distance for m in match(fingerprint, index)] == [0]
