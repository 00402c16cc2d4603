"""How evidence of different strengths and origins combines into one level."""

from __future__ import annotations

from bastion.provenance.evidence import (
    MANIFEST_INVALID,
    NO_EVIDENCE,
    Evidence,
    Origin,
    Strength,
    assess,
)


def ev(strength: Strength, origin: Origin | None = None, reader: str = "x") -> Evidence:
    return Evidence(reader, strength, f"{reader} {strength} {origin}", origin)


def test_nothing_is_never_called_real() -> None:
    assert assess([]).level == NO_EVIDENCE
    assert assess([ev(Strength.UNREADABLE)]).level == NO_EVIDENCE
    assert "unreadable" in assess([ev(Strength.UNREADABLE)]).summary


def test_verified_beats_declared_and_invalid_is_said_first() -> None:
    camera = ev(Strength.VERIFIED, Origin.CAMERA, "c2pa")
    generated = ev(Strength.DECLARED, Origin.AI_GENERATED, "xmp")
    assert assess([generated, camera]).level == "camera capture — verified"
    assert assess([generated]).level == "ai-generated — declared"
    assert assess([camera, ev(Strength.INVALID)]).level == MANIFEST_INVALID


def test_generation_outranks_capture_at_equal_strength() -> None:
    both = [ev(Strength.DECLARED, Origin.CAMERA), ev(Strength.DECLARED, Origin.AI_EDITED)]
    assert assess(both).level == "ai-edited — declared"
    assert len(assess(both).evidence) == 2
