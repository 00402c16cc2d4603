"""Provenance: what a file's own evidence says about where it came from.

``inspect_bytes`` runs every evidence reader on a file's bytes and assesses
the result; the CLI (``bastion inspect``), scans and the service call it.
Readers that only need metadata run on what :func:`find_carriers` finds in
the container headers, so a file without metadata costs a header walk.
Pixels are decoded only for readers that need them: NovelAI's alpha-channel
metadata (images with alpha), and on request watermarks and a detector.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from bastion.config import Settings
from bastion.provenance.c2pa_reader import read_c2pa
from bastion.provenance.carriers import find_carriers
from bastion.provenance.detector import OnnxDetector
from bastion.provenance.evidence import Assessment, Evidence, Origin, Strength, assess
from bastion.provenance.exif import parse_exif, read_exif
from bastion.provenance.generators import read_generators, read_stealth_generators
from bastion.provenance.watermark import read_watermarks
from bastion.provenance.xmp import parse_xmp, read_xmp

__all__ = [
    "Assessment",
    "Evidence",
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


def collect_evidence(
    data: bytes, mime: str | None, settings: Settings, options: InspectOptions
) -> list[Evidence]:
    limit = settings.max_metadata_bytes
    evidence = read_c2pa(data, mime, settings.trust_anchors)
    carriers = find_carriers(data, limit)
    for problem in carriers.problems.get("container", []):
        evidence.append(Evidence("container", Strength.UNREADABLE, f"unreadable: {problem}"))
    if carriers.has_metadata:
        exif = parse_exif(carriers)
        xmp = parse_xmp(carriers)
        evidence += read_xmp(xmp, include_prompts=options.include_prompts)
        evidence += read_exif(exif)
        evidence += read_generators(carriers, exif, xmp, include_prompts=options.include_prompts)
    if not (carriers.has_alpha or options.watermarks or options.detector):
        return evidence
    image = _open_image(data, settings)
    if image is None:
        return evidence
    with image:
        if carriers.has_alpha:
            evidence += read_stealth_generators(
                image, limit, include_prompts=options.include_prompts
            )
        if options.watermarks:
            evidence += read_watermarks(image)
        if options.detector is not None:
            evidence += options.detector.evidence(image)
    return evidence


def _open_image(data: bytes, settings: Settings) -> Image.Image | None:
    """The decoded image, or None when it is not one (hashing reports why)."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > settings.max_pixels:
            image.close()
            return None
        image.load()
    except Exception:  # noqa: BLE001 - Pillow's decoders raise anything (AVIF: RuntimeError)
        return None
    return image
