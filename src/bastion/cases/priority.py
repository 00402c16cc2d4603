"""Which clusters an analyst looks at first, and why.

The victims who can still be found are in images that are not yet known and
not generated, above all those with evidence of a real camera, so clusters
are placed in five tiers, best first:

1. possibly a real child, not yet known: no bank match, no evidence of
   generation, evidence of a camera (EXIF make, model, serial or capture
   time, or a C2PA/XMP ``digitalCapture``);
2. not yet known, with no evidence either way (and items that could not be
   checked, which are never assumed to be anything);
3. known, not yet categorised in this case;
4. generated: verified (a trusted signature) before declared;
5. known and categorised (by the bank's labels or an analyst).

Inside a tier the largest clusters come first.  Two judgments are made on
purpose, to err towards looking: an AI *edit* is not generation (a real
photo may be underneath), and an unsigned generation claim does not outweigh
a camera's evidence (both are unsigned, and a wrongly dismissed photo costs
more than a second look at a generated one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from bastion.cases.schemes import CaseScheme
from bastion.pipeline import Status
from bastion.provenance.evidence import Origin, Strength
from bastion.provenance.exif import CAMERA_FIELDS


class Tier(IntEnum):
    POSSIBLY_REAL_NEW = 1
    NOT_KNOWN = 2
    KNOWN_UNCATEGORISED = 3
    GENERATED = 4
    KNOWN_CATEGORISED = 5

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Tier.POSSIBLY_REAL_NEW: "possibly a real child, not yet known",
    Tier.NOT_KNOWN: "not yet known, no evidence either way",
    Tier.KNOWN_UNCATEGORISED: "known, uncategorised in this case",
    Tier.GENERATED: "generated",
    Tier.KNOWN_CATEGORISED: "known and categorised",
}
VERIFIED, DECLARED = "verified", "declared"
_GENERATED = {Origin.AI_GENERATED.value, Origin.ALGORITHMIC.value}
_GENERATION_STRENGTH = {
    Strength.VERIFIED.value: VERIFIED,
    Strength.UNTRUSTED_SIGNATURE.value: DECLARED,
    Strength.DECLARED.value: DECLARED,
}
#: Evidence strengths that make a camera claim (an estimate does not).
_CLAIMS = set(_GENERATION_STRENGTH)
#: What generator metadata and C2PA manifests say of who made a file, for the panel.
_PROVENANCE_DETAILS = ("generator", "version", "models", "claim_generator", "signer")
#: Room for cluster sizes in the sort key (no case holds a trillion items).
_SIZE_ROOM = 10**12


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What one scanned item contributes to its cluster's place."""

    checked: bool
    known_banks: tuple[str, ...] = ()
    #: Banks whose match an allowlist suppressed: said, never silently dropped.
    suppressed_banks: tuple[str, ...] = ()
    #: Its PDQ is too flat to match or cluster: only exact hashes were compared.
    low_quality: bool = False
    bank_category: str | None = None
    generation: str | None = None
    edited: bool = False
    camera: str | None = None
    #: Camera, capture time, GPS, software and generator details for the metadata panel.
    details: dict[str, Any] = field(default_factory=dict)
    captured_at: str | None = None


def item_facts(row: Mapping[str, Any], scheme: CaseScheme) -> ItemFacts:
    """The facts of one scan row (``bastion.scan.results.SCHEMA``)."""
    if row.get("status") != Status.HASHED:
        return ItemFacts(checked=False)
    matches = row.get("matches") or []
    banks = tuple(sorted({str(match["bank"]) for match in matches}))
    suppressed = tuple(sorted({str(match["bank"]) for match in row.get("suppressed") or []}))
    category = scheme.of_labels(label for match in matches for label in match["labels"] or ())
    evidence = json.loads(row.get("provenance_evidence") or "[]")
    generation = _strongest_generation(evidence)
    edited = any(e.get("origin") == Origin.AI_EDITED.value for e in evidence)
    details = _details(evidence)
    camera = _camera(evidence, details)
    return ItemFacts(
        checked=True,
        known_banks=banks,
        suppressed_banks=suppressed,
        low_quality=bool(row.get("low_quality")),
        bank_category=category,
        generation=generation,
        edited=edited,
        camera=camera,
        details=details,
        captured_at=details.get("captured_at"),
    )


def _strongest_generation(evidence: list[dict[str, Any]]) -> str | None:
    found = {
        _GENERATION_STRENGTH.get(e.get("strength", ""))
        for e in evidence
        if e.get("origin") in _GENERATED
    }
    return VERIFIED if VERIFIED in found else DECLARED if DECLARED in found else None


def _camera(evidence: list[dict[str, Any]], details: Mapping[str, Any]) -> str | None:
    """Why the item shows a camera's evidence, if it does."""
    for e in evidence:
        if e.get("origin") == Origin.CAMERA.value and e.get("strength") in _CLAIMS:
            return f"{e.get('reader')} digitalCapture ({e.get('strength')})"
    named = [name for name in CAMERA_FIELDS if details.get(name)]
    if named:
        return "EXIF " + ", ".join(name.replace("_", " ") for name in named)
    return None


def _details(evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """The metadata panel's fields: EXIF's camera and GPS, generators' names."""
    details: dict[str, Any] = {}
    for e in evidence:
        detail = e.get("detail") or {}
        if e.get("reader") == "exif":
            details.update(detail)
        elif e.get("origin") in (*_GENERATED, Origin.AI_EDITED.value, Origin.CAMERA.value):
            details.setdefault("provenance", []).append(e.get("summary"))
            for key in _PROVENANCE_DETAILS:
                if detail.get(key):
                    details.setdefault(key, detail[key])
    return details


@dataclass(slots=True)
class ClusterFacts:
    """Facts of a cluster's members, gathered one member at a time."""

    size: int = 0
    unchecked: int = 0
    known_banks: set[str] = field(default_factory=set)
    suppressed_banks: set[str] = field(default_factory=set)
    low_quality: int = 0
    bank_categories: list[str] = field(default_factory=list)
    generation: str | None = None
    edited: bool = False
    camera: str | None = None
    #: Members an analyst categorised in this case (all of them: decided).
    categorised: int = 0

    def add(self, facts: ItemFacts, *, categorised: bool = False) -> None:
        self.size += 1
        self.categorised += categorised
        if not facts.checked:
            self.unchecked += 1
            return
        self.known_banks.update(facts.known_banks)
        self.suppressed_banks.update(facts.suppressed_banks)
        self.low_quality += facts.low_quality
        if facts.bank_category:
            self.bank_categories.append(facts.bank_category)
        if facts.generation == VERIFIED or (facts.generation and not self.generation):
            self.generation = facts.generation
        self.edited |= facts.edited
        self.camera = self.camera or facts.camera


@dataclass(frozen=True, slots=True)
class Placement:
    tier: Tier
    #: 0 for verified generation, 1 for declared (tier 4's order); else 0.
    sub: int
    reason: str
    bank_category: str | None

    def sort_key(self, size: int) -> int:
        """Tier, then ``sub``, then the largest first: one integer the store indexes."""
        room = _SIZE_ROOM - 1 - min(size, _SIZE_ROOM - 1)
        return (int(self.tier) * 2 + self.sub) * _SIZE_ROOM + room


def tier_keys(tier: Tier) -> tuple[int, int]:
    """The range of order keys (``Placement.sort_key``) of one tier's clusters."""
    return int(tier) * 2 * _SIZE_ROOM, (int(tier) + 1) * 2 * _SIZE_ROOM


def place(facts: ClusterFacts, scheme: CaseScheme) -> Placement:
    """The cluster's tier and the reason, in words an analyst can check."""
    size = f"{facts.size} item{'s' if facts.size != 1 else ''}"
    category = scheme.most_severe(facts.bank_categories)
    if facts.known_banks:
        banks = ", ".join(sorted(facts.known_banks))
        if facts.size and facts.categorised == facts.size:
            return Placement(
                Tier.KNOWN_CATEGORISED, 0, f"known ({banks}); categorised in this case", category
            )
        if category:
            titled = f"{scheme.title(category)} ({category})"
            why = f"known ({banks}); the bank categorises it {titled}"
            return Placement(Tier.KNOWN_CATEGORISED, 0, why, category)
        return Placement(
            Tier.KNOWN_UNCATEGORISED, 0, f"known ({banks}); no category yet; {size}", None
        )
    if facts.generation == VERIFIED:
        return Placement(Tier.GENERATED, 0, "generated: a trusted signature says so", None)
    if facts.generation == DECLARED and not facts.camera:
        return Placement(Tier.GENERATED, 1, "generated: declared (unsigned or untrusted)", None)
    notes = []
    if facts.generation == DECLARED:
        notes.append("an unsigned generation claim conflicts with the camera evidence")
    if facts.edited:
        notes.append("AI-edited: a real photo may be underneath")
    if facts.suppressed_banks:
        banks = ", ".join(sorted(facts.suppressed_banks))
        notes.append(f"a match in {banks} was suppressed by an allowlist")
    if facts.low_quality:
        notes.append(
            f"NOT CHECKED by PDQ: {facts.low_quality} too flat to match (exact hashes only)"
        )
    if 0 < facts.categorised < facts.size:
        waiting = facts.size - facts.categorised
        notes.append(f"{waiting} member{'s' if waiting != 1 else ''} not yet categorised")
    if facts.unchecked:
        notes.append(f"NOT CHECKED: {facts.unchecked} of {size} could not be read")
    tail = "".join(f"; {note}" for note in notes)
    if facts.camera:
        return Placement(
            Tier.POSSIBLY_REAL_NEW, 0, f"not known; camera evidence: {facts.camera}{tail}", None
        )
    return Placement(Tier.NOT_KNOWN, 0, f"not known; no camera or generation evidence{tail}", None)


def gather(members: Iterable[tuple[ItemFacts, bool]]) -> ClusterFacts:
    facts = ClusterFacts()
    for item, categorised in members:
        facts.add(item, categorised=categorised)
    return facts
