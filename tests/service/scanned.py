"""Scan results as the review queue takes them, built without hashing a file."""

from __future__ import annotations

from collections.abc import Iterable

from bastion.fingerprint import Fingerprint, Signal
from bastion.matching.match import Match
from bastion.pipeline import ScanResult, Status
from bastion.provenance.evidence import Assessment, Origin, Strength


def scan_result(
    sha256: str | None = None,
    *,
    matched: Iterable[Iterable[str]] = (),
    origin: Origin | None = None,
    strength: Strength | None = None,
) -> ScanResult:
    """A hashed upload's result: its SHA-256, one match per label list in
    ``matched`` (list entries 1, 2, ...), and provenance naming ``origin``.

    The provenance's ``level`` words are deliberately not the ones a scan
    writes: what acts on provenance must read the typed fields.
    """
    signals = (Signal("sha256", sha256),) if sha256 else ()
    matches = tuple(
        Match("b", number, "sha256", 0, tuple(labels))
        for number, labels in enumerate(matched, start=1)
    )
    provenance = (
        Assessment("as a person reads it", "test", origin=origin, strength=strength)
        if origin is not None
        else None
    )
    return ScanResult(
        "upload",
        "test",
        Status.HASHED,
        Fingerprint("image/jpeg", 1, signals),
        matches,
        provenance=provenance,
    )
