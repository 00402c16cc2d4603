"""How evidence of different strengths and origins combines into one level."""

from __future__ import annotations

from bastion.provenance.evidence import (
    MANIFEST_INVALID,
    NO_EVIDENCE,
    SIGNED_NO_ORIGIN,
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


def test_an_untrusted_signature_sits_between_verified_and_declared() -> None:
    untrusted = ev(Strength.UNTRUSTED_SIGNATURE, Origin.CAMERA, "c2pa")
    declared = ev(Strength.DECLARED, Origin.AI_GENERATED, "xmp")
    verified = ev(Strength.VERIFIED, Origin.AI_GENERATED, "c2pa")
    assert assess([declared, untrusted]).level == "camera capture — signed by an untrusted signer"
    assert assess([untrusted, verified]).level == "ai-generated — verified"
    assert assess([ev(Strength.UNTRUSTED_SIGNATURE)]).level == SIGNED_NO_ORIGIN
