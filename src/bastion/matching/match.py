"""Matching a fingerprint against every bank, with allowlists applied.

Rules, in order:

1. Exact signals (MD5, SHA-1, SHA-256, PhotoDNA) match on equality; PDQ
   matches within each bank's own threshold.
2. PDQ hashes below the quality threshold describe nearly flat images and
   are not matched unless the caller asks (``include_low_quality``).
3. An allowlist hit suppresses blocklist matches: on a digest it means the
   file is a known false positive, so every match of the item goes; on PDQ
   it suppresses the PDQ matches.
4. A video matches a banked video by Meta's vPDQ rule (see
   :mod:`bastion.signals.vpdq`), with every frame looked up once in the one
   PDQ index; a frame that matches a banked *image* is reported too, with
   the times it appears.  An image that matches a frame of a banked video
   is reported with that frame's time.
5. A text matches the terms of term banks found in it (see
   :mod:`bastion.matching.terms`), each within its bank's threshold too.
   A term on an allowlist suppresses nothing: were it to, adding an
   allowlisted word to a prompt would switch its screening off.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bastion.banks.bank import BankKind
from bastion.fingerprint import Fingerprint, Signal
from bastion.matching.index import Index
from bastion.matching.segment import Hit
from bastion.signals.types import SignalKind, normalize_signal, signal_type
from bastion.signals.vpdq import (
    COMPARED_MATCH_PERCENT,
    QUERY_MATCH_PERCENT,
    VideoSimilarity,
    VpdqFeature,
    matchable,
    parse_vpdq,
    time_ranges,
)

TimeRanges = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Match:
    bank: str
    entry_id: int
    signal_type: str
    distance: int
    labels: tuple[str, ...] = ()
    #: Video matches: share of the query's frames found in the entry, and
    #: of the entry's frames found in the query (percent).
    query_percent: float | None = None
    entry_percent: float | None = None
    #: Where in the query video the matching frames are (seconds).
    query_ranges: TimeRanges = ()
    #: Where in the banked video they are.
    entry_ranges: TimeRanges = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bank": self.bank,
            "entry_id": self.entry_id,
            "signal_type": self.signal_type,
            "distance": self.distance,
            "labels": list(self.labels),
        }
        if self.query_percent is not None:
            out["query_percent"] = round(self.query_percent, 1)
            out["entry_percent"] = round(self.entry_percent or 0.0, 1)
        if self.query_ranges:
            out["query_ranges"] = [list(r) for r in self.query_ranges]
        if self.entry_ranges:
            out["entry_ranges"] = [list(r) for r in self.entry_ranges]
        return out


@dataclass(frozen=True, slots=True)
class VideoRule:
    """When a video matches a banked video (Meta's defaults)."""

    query_percent: float = QUERY_MATCH_PERCENT
    compared_percent: float = COMPARED_MATCH_PERCENT


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """Matches that stand, and those an allowlist entry suppressed."""

    matches: tuple[Match, ...] = ()
    suppressed: tuple[Match, ...] = ()
    #: The allowlist entries the item hit (all but terms suppress matches).
    allowlisted: tuple[Match, ...] = ()


def match(
    fingerprint: Fingerprint, index: Index, *, include_low_quality: bool = False
) -> list[Match]:
    """Blocklist matches of a fingerprint that no allowlist suppresses."""
    return list(match_outcome(fingerprint, index, include_low_quality=include_low_quality).matches)


def match_outcome(
    fingerprint: Fingerprint,
    index: Index,
    *,
    include_low_quality: bool = False,
    video_rule: VideoRule | None = None,
) -> MatchOutcome:
    # Rotated and flipped variants, when computed, find rotated copies too.
    variants = [Signal("pdq", variant) for variant in fingerprint.pdq_dihedral[1:]]
    signals = [*fingerprint.signals, *variants]
    if fingerprint.low_quality and not include_low_quality:
        signals = [s for s in signals if signal_type(s.type).kind is not SignalKind.PDQ]
    video = fingerprint.video
    frames = video.features if video is not None else ()
    gap = _frame_gap(video.interval, video.fps) if video is not None else DEFAULT_GAP
    return _outcome(index, signals, frames, video_rule or VideoRule(), gap)


def match_signals(
    signals: Iterable[Signal], index: Index, *, video_rule: VideoRule | None = None
) -> MatchOutcome:
    """Matches of any signals (of one item) across all banks.

    Values are normalized first, so an upper-case MD5 from another tool
    matches.  A ``vpdq`` signal is matched as a video.
    """
    plain: list[Signal] = []
    frames: list[VpdqFeature] = []
    for signal in (normalize_signal(s.type, s.value) for s in signals):
        if signal_type(signal.type).kind is SignalKind.VPDQ:
            frames.extend(parse_vpdq(signal.value))
        else:
            plain.append(signal)
    return _outcome(index, plain, frames, video_rule or VideoRule(), DEFAULT_GAP)


#: Frames further apart than this (seconds) start a new matched range.
DEFAULT_GAP = 1.5


def _frame_gap(interval: float, fps: float | None) -> float:
    step = interval or (1 / fps if fps else 1.0)
    return max(step * 1.5, 0.05)


def _outcome(
    index: Index,
    signals: list[Signal],
    frames: Sequence[VpdqFeature],
    rule: VideoRule,
    gap: float,
) -> MatchOutcome:
    pdq = [s.value for s in signals if signal_type(s.type).kind is SignalKind.PDQ]
    hits: list[Hit] = []
    if pdq:
        for pdq_hits in index.lookup_pdq(pdq):
            hits.extend(pdq_hits)
    for signal in signals:
        if signal_type(signal.type).kind is not SignalKind.PDQ:
            hits.extend(index.lookup(signal))
    candidates = [pair for hit in hits if (pair := _plain_match(index, hit)) is not None]
    if frames:
        candidates += _video_matches(index, frames, rule, gap)
    return _decide(candidates)


def _plain_match(index: Index, hit: Hit) -> tuple[Match, BankKind] | None:
    bank = index.banks[hit.bank_id]
    if hit.distance > bank.pdq_threshold:  # exact hits are at distance 0
        return None
    labels = index.label_sets.get(hit.label_set_id, ())
    # An image matching one frame of a banked video: which moment of it.
    moment = ((hit.time, hit.time),) if hit.time is not None else ()
    found = Match(
        bank.name, hit.entry_id, hit.signal_type, hit.distance, labels, entry_ranges=moment
    )
    return found, bank.kind


@dataclass(slots=True)
class _VideoHits:
    """What the query's frames found of one entry."""

    #: The first hit on the entry: its bank, labels and signal type.
    first: Hit
    distance: int = 256
    query_times: set[float] = field(default_factory=set)
    entry_times: set[float] = field(default_factory=set)


def _video_matches(
    index: Index, frames: Sequence[VpdqFeature], rule: VideoRule, gap: float
) -> list[tuple[Match, BankKind]]:
    """Banked videos that match by Meta's rule, and banked images seen in a frame."""
    query = matchable(frames)
    if not query:
        return []
    found: dict[int, _VideoHits] = {}
    for frame, frame_hits in zip(query, index.lookup_pdq([f.hex for f in query]), strict=True):
        for hit in frame_hits:
            if hit.distance > index.banks[hit.bank_id].pdq_threshold:
                continue
            seen = found.get(hit.entry_id)
            if seen is None:
                seen = found[hit.entry_id] = _VideoHits(hit)
            seen.distance = min(seen.distance, hit.distance)
            seen.query_times.add(frame.timestamp)
            if hit.time is not None:
                seen.entry_times.add(hit.time)
    out: list[tuple[Match, BankKind]] = []
    for entry_id, seen in found.items():
        hit = seen.first
        bank = index.banks[hit.bank_id]
        labels = index.label_sets.get(hit.label_set_id, ())
        ranges = time_ranges(seen.query_times, gap)
        if hit.signal_type == "pdq":  # a banked image inside the video
            match = Match(bank.name, entry_id, "pdq", seen.distance, labels, query_ranges=ranges)
            out.append((match, bank.kind))
            continue
        total = index.video_frames(entry_id)
        similarity = VideoSimilarity(
            100.0 * len(seen.query_times) / len(query),
            100.0 * len(seen.entry_times) / total if total else 0.0,
        )
        if similarity.matches(rule.query_percent, rule.compared_percent):
            match = Match(
                bank.name,
                entry_id,
                "vpdq",
                seen.distance,
                labels,
                query_percent=similarity.query_percent,
                entry_percent=similarity.compared_percent,
                query_ranges=ranges,
                entry_ranges=time_ranges(seen.entry_times, max(gap, DEFAULT_GAP)),
            )
            out.append((match, bank.kind))
    return out


def _decide(candidates: Iterable[tuple[Match, BankKind]]) -> MatchOutcome:
    """The best match per entry, with allowlist entries applied."""
    best: dict[int, tuple[Match, BankKind]] = {}
    allowed_kinds: set[SignalKind] = set()
    for found, kind in candidates:
        if kind is BankKind.ALLOWLIST and _kind(found) is not SignalKind.TEXT:
            allowed_kinds.add(_kind(found))
        previous = best.get(found.entry_id)
        if previous is None or found.distance < previous[0].distance:
            best[found.entry_id] = (found, kind)
    # A digest on an allowlist clears the whole file; a perceptual one (an
    # image's PDQ, a video's frames) clears the perceptual matches only.
    file_allowed = bool(allowed_kinds - _PERCEPTUAL)
    looks_allowed = bool(allowed_kinds & _PERCEPTUAL)
    allowlisted: list[Match] = []
    kept: list[Match] = []
    suppressed: list[Match] = []
    for found, kind in sorted(best.values(), key=lambda pair: _order(pair[0])):
        if kind is BankKind.ALLOWLIST:
            allowlisted.append(found)
        elif file_allowed or (looks_allowed and _kind(found) in _PERCEPTUAL):
            suppressed.append(found)
        else:
            kept.append(found)
    return MatchOutcome(tuple(kept), tuple(suppressed), tuple(allowlisted))


_PERCEPTUAL = frozenset({SignalKind.PDQ, SignalKind.VPDQ})


def _kind(found: Match) -> SignalKind:
    return signal_type(found.signal_type).kind


def _order(found: Match) -> tuple[int, str, int]:
    return found.distance, found.bank, found.entry_id
