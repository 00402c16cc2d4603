"""What a provenance reader found, and what all of it together supports.

Each reader (C2PA, XMP/IPTC, ...) returns :class:`Evidence`: which origin it
points to, how strongly (a valid signature from a trusted signer, a valid
signature from a signer nobody vouches for, an unsigned declaration, a
signature that fails, or a reader that could not parse its input) and the
details an analyst needs to check it.  :func:`assess` turns the evidence of
one file into a single level.  Absence of evidence is reported as exactly
that, never as "real": most genuine photos and most generated images alike
carry no provenance at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Origin(StrEnum):
    """Where evidence says the media came from."""

    AI_GENERATED = "ai-generated"
    AI_EDITED = "ai-edited"
    #: Computer-generated without a trained model (IPTC algorithmicMedia).
    ALGORITHMIC = "algorithmic"
    CAMERA = "camera capture"


class Strength(StrEnum):
    VERIFIED = "verified"  #: a valid signature whose chain ends in a trust anchor
    #: A valid signature from a signer outside the trust anchors: the content
    #: is as signed, but anyone can make such a signature and claim any origin.
    UNTRUSTED_SIGNATURE = "signed by an untrusted signer"
    DECLARED = "declared"  #: unsigned metadata or a watermark says so
    ESTIMATED = "estimated"  #: a learned detector's score: weak, opaque evidence
    INVALID = "invalid"  #: a signature that does not verify (tampered or broken)
    UNREADABLE = "unreadable"  #: the reader could not parse what it found
    NOTE = "note"  #: context without a claim of origin


@dataclass(frozen=True, slots=True)
class Evidence:
    reader: str
    strength: Strength
    summary: str
    origin: Origin | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "strength": str(self.strength),
            "origin": str(self.origin) if self.origin else None,
            "summary": self.summary,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    """One file's provenance: ``level`` is the words people read; ``origin``
    and ``strength`` are the same finding typed, for code that acts on it."""

    level: str
    summary: str
    evidence: tuple[Evidence, ...] = ()
    #: The origin the strongest evidence names; None when none names one.
    origin: Origin | None = None
    #: How strong the evidence behind ``origin`` is (or INVALID for a broken
    #: signature); None when there is no claim at all.
    strength: Strength | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "origin": str(self.origin) if self.origin else None,
            "strength": str(self.strength) if self.strength else None,
            "summary": self.summary,
            "evidence": [item.to_dict() for item in self.evidence],
        }


NO_EVIDENCE = "no provenance evidence"
MANIFEST_INVALID = "manifest invalid"
#: A valid signature whose manifest names no origin (e.g. only edit actions).
SIGNED_NO_ORIGIN = "signed, origin not declared"

#: Which origin wins when evidence of equal strength disagrees: the one that
#: most changes what an analyst must do (a generated image is not a victim
#: to identify, but a wrongly dismissed photo would be).
_PRECEDENCE = (Origin.AI_GENERATED, Origin.AI_EDITED, Origin.ALGORITHMIC, Origin.CAMERA)


#: Strengths that name an origin, strongest first.
_RANKED = (Strength.VERIFIED, Strength.UNTRUSTED_SIGNATURE, Strength.DECLARED, Strength.ESTIMATED)
_SIGNED = (Strength.VERIFIED, Strength.UNTRUSTED_SIGNATURE)


def assess(evidence: list[Evidence]) -> Assessment:
    """One level for a file: verified beats an untrusted signature beats declared
    beats a detector's estimate; an invalid signature is said first."""
    found = tuple(evidence)
    invalid = [e for e in found if e.strength is Strength.INVALID]
    if invalid:
        return Assessment(MANIFEST_INVALID, invalid[0].summary, found, strength=Strength.INVALID)
    for strength in _RANKED:
        for origin in _PRECEDENCE:
            backing = [e for e in found if e.strength is strength and e.origin is origin]
            if backing:
                summary = "; ".join(e.summary for e in backing)
                return Assessment(f"{origin} — {strength}", summary, found, origin, strength)
    signed = [e for e in found if e.strength in _SIGNED]
    if signed:
        return Assessment(SIGNED_NO_ORIGIN, "; ".join(e.summary for e in signed), found)
    unreadable = [e for e in found if e.strength is Strength.UNREADABLE]
    if unreadable:
        return Assessment(NO_EVIDENCE, "; ".join(e.summary for e in unreadable), found)
    notes = "; ".join(e.summary for e in found)
    return Assessment(NO_EVIDENCE, notes or "no signed or declared origin found", found)
