"""IPTC digital source types (http://cv.iptc.org/newscodes/digitalsourcetype/).

C2PA actions and XMP both name a file's origin with this vocabulary; only
the terms that say something about a generative model or a camera map to
an :class:`Origin`.  Others (digitalCreation, composite, screenCapture ...)
are reported as found, without a claim.
"""

from __future__ import annotations

from bastion.provenance.evidence import Origin

ORIGINS = {
    "trainedAlgorithmicMedia": Origin.AI_GENERATED,
    "compositeWithTrainedAlgorithmicMedia": Origin.AI_EDITED,
    "algorithmicallyEnhanced": Origin.AI_EDITED,
    "algorithmicMedia": Origin.ALGORITHMIC,
    "digitalCapture": Origin.CAMERA,
}


def term(value: str) -> str:
    """The term of a source type URI (or of a bare term, as some tools write it)."""
    return value.strip().rsplit("/", 1)[-1]


def origin_of(value: str) -> Origin | None:
    return ORIGINS.get(term(value))


def strongest(values: list[str]) -> Origin | None:
    """The origin among ``values`` that matters most (AI generation first)."""
    found = {origin_of(v) for v in values} - {None}
    for origin in Origin:
        if origin in found:
            return origin
    return None
