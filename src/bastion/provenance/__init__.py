"""Provenance: what a file's own evidence says about where it came from.

``inspect_bytes`` runs every evidence reader (:mod:`.readers`) on a file's
bytes and assesses the result; the CLI (``bastion inspect``), scans and the
service call it.  Readers that only need metadata run on what
:func:`find_carriers` finds in the container headers, so a file without
metadata costs a header walk.
Pixels are decoded only for readers that need them: NovelAI's alpha-channel
metadata (images with alpha), and on request watermarks and a detector.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.config import Settings
from bastion.provenance.detector import OnnxDetector
from bastion.provenance.evidence import Assessment, Evidence, Origin, Strength, assess
from bastion.provenance.readers import (
    STANDARD_READERS,
    DetectorReader,
    EvidenceReader,
    FileInput,
    Need,
    WatermarkReader,
)

__all__ = [
    "Assessment",
    "Evidence",
    "EvidenceReader",
    "InspectOptions",
    "Origin",
    "Strength",
    "assess",
    "inspect_bytes",
]


@dataclass(frozen=True, slots=True)
class InspectOptions:
    #: Keep prompt text (generator metadata, IPTC AI prompt) in the details.
    include_prompts: bool = False
    #: Decode pixels to look for Stable Diffusion watermarks.
    watermarks: bool = False
    detector: OnnxDetector | None = None


def inspect_bytes(
    data: bytes, mime: str | None, settings: Settings, options: InspectOptions | None = None
) -> Assessment:
    """The assessment of one file's bytes (``mime`` as sniffed, if known)."""
    options = options or InspectOptions()
    return assess(collect_evidence(data, mime, settings, options))


def readers_for(options: InspectOptions) -> list[EvidenceReader]:
    """The standard readers, and the opt-in ones ``options`` asks for."""
    readers: list[EvidenceReader] = list(STANDARD_READERS)
    if options.watermarks:
        readers.append(WatermarkReader())
    if options.detector is not None:
        readers.append(DetectorReader(options.detector))
    return readers


def collect_evidence(
    data: bytes, mime: str | None, settings: Settings, options: InspectOptions
) -> list[Evidence]:
    """Every reader's evidence, readers of bytes first, then of metadata, then of
    pixels (decoded only when a pixel reader wants this file)."""
    file = FileInput(data, mime, settings, include_prompts=options.include_prompts)
    readers = readers_for(options)
    evidence: list[Evidence] = []
    try:
        for need in Need:
            wanted = [r for r in readers if r.needs is need and r.wants(file)]
            if need is Need.PIXELS and wanted and file.image() is None:
                break
            for reader in wanted:
                evidence += reader.read(file)
            if need is Need.BYTES:
                evidence += [
                    Evidence("container", Strength.UNREADABLE, f"unreadable: {problem}")
                    for problem in file.carriers.problems.get("container", [])
                ]
    finally:
        file.close()
    return evidence
