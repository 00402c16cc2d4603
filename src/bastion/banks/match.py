"""Matching a fingerprint against every bank, with allowlists applied.

Rules, in order:

1. Exact signals (MD5, SHA-1, SHA-256, PhotoDNA) match on equality; PDQ
   matches within each bank's own threshold.
2. PDQ hashes below the quality threshold describe nearly flat images and
   are not matched unless the caller asks (``include_low_quality``).
3. An allowlist hit suppresses blocklist matches: on a digest it means the
   file is a known false positive, so every match of the item goes; on PDQ
   it suppresses the PDQ matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bastion.banks.bank import BankKind
from bastion.banks.index import Index
from bastion.banks.segment import Hit
from bastion.fingerprint import Fingerprint, Signal
from bastion.signals.types import SignalKind, normalize_signal, signal_type


@dataclass(frozen=True, slots=True)
class Match:
    bank: str
    entry_id: int
    signal_type: str
    distance: int
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "bank": self.bank,
            "entry_id": self.entry_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "labels": list(self.labels),
        }


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """Matches that stand, and those an allowlist entry suppressed."""

    matches: tuple[Match, ...] = ()
    suppressed: tuple[Match, ...] = ()
    #: The allowlist entries that did the suppressing.
    allowlisted: tuple[Match, ...] = ()


def match(
    fingerprint: Fingerprint, index: Index, *, include_low_quality: bool = False
) -> list[Match]:
    """Blocklist matches of a fingerprint that no allowlist suppresses."""
    return list(match_outcome(fingerprint, index, include_low_quality=include_low_quality).matches)


def match_outcome(
    fingerprint: Fingerprint, index: Index, *, include_low_quality: bool = False
) -> MatchOutcome:
    # Rotated and flipped variants, when computed, find rotated copies too.
    variants = [Signal("pdq", variant) for variant in fingerprint.pdq_dihedral[1:]]
    signals = [*fingerprint.signals, *variants]
    if fingerprint.low_quality and not include_low_quality:
        signals = [s for s in signals if signal_type(s.type).kind is not SignalKind.PDQ]
    return match_signals(signals, index)


def match_signals(signals: Iterable[Signal], index: Index) -> MatchOutcome:
    """Matches of any signals (of one item) across all banks.

    Values are normalized first, so an upper-case MD5 from another tool matches.
    """
    signals = [normalize_signal(s.type, s.value) for s in signals]
    pdq = [s.value for s in signals if signal_type(s.type).kind is SignalKind.PDQ]
    hits: list[Hit] = []
    if pdq:
        for pdq_hits in index.lookup_pdq(pdq):
            hits.extend(pdq_hits)
    for signal in signals:
        if signal_type(signal.type).kind is not SignalKind.PDQ:
            hits.extend(index.lookup(signal))
    best: dict[int, tuple[Match, BankKind]] = {}
    allowed_kinds: set[SignalKind] = set()
    for hit in hits:
        bank = index.banks[hit.bank_id]
        if hit.signal_type == "pdq" and hit.distance > bank.pdq_threshold:
            continue
        labels = index.label_sets.get(hit.label_set_id, ())
        found = Match(bank.name, hit.entry_id, hit.signal_type, hit.distance, labels)
        if bank.kind is BankKind.ALLOWLIST:
            allowed_kinds.add(signal_type(hit.signal_type).kind)
        previous = best.get(hit.entry_id)
        if previous is None or found.distance < previous[0].distance:
            best[hit.entry_id] = (found, bank.kind)
    file_allowed = bool(allowed_kinds - {SignalKind.PDQ})
    allowlisted: list[Match] = []
    kept: list[Match] = []
    suppressed: list[Match] = []
    for found, kind in sorted(best.values(), key=lambda pair: _order(pair[0])):
        if kind is BankKind.ALLOWLIST:
            allowlisted.append(found)
        elif file_allowed or signal_type(found.signal_type).kind in allowed_kinds:
            suppressed.append(found)
        else:
            kept.append(found)
    return MatchOutcome(tuple(kept), tuple(suppressed), tuple(allowlisted))


def _order(found: Match) -> tuple[int, str, int]:
    return found.distance, found.bank, found.entry_id
