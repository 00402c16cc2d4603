"""Evidence readers: an extension point, and the file as readers see it.

A reader says what it needs - the file's bytes, the metadata carriers the
header walk found, or decoded pixels - and turns that into
:class:`Evidence`.  :func:`bastion.provenance.collect_evidence` runs the
registered readers by what they need, so metadata is parsed and pixels
decoded once, and only when some reader wants them.  The contract every
reader meets is tests/contracts/evidence_reader.py.
"""

from __future__ import annotations

import io
from enum import StrEnum
from typing import Protocol

from PIL import Image

from bastion.config import Settings
from bastion.provenance.c2pa_reader import read_c2pa
from bastion.provenance.carriers import Carriers, find_carriers
from bastion.provenance.detector import OnnxDetector
from bastion.provenance.evidence import Evidence
from bastion.provenance.exif import ExifFields, parse_exif, read_exif
from bastion.provenance.generators import read_generators, read_stealth_generators
from bastion.provenance.watermark import read_watermarks
from bastion.provenance.xmp import XmpFields, parse_xmp, read_xmp


class Need(StrEnum):
    """What a reader reads, cheapest first (the order readers run in)."""

    BYTES = "bytes"
    METADATA = "metadata"
    PIXELS = "pixels"


class FileInput:
    """One file's bytes, with its metadata parsed and its pixels decoded on first use."""

    def __init__(
        self, data: bytes, mime: str | None, settings: Settings, *, include_prompts: bool = False
    ) -> None:
        self.data = data
        self.mime = mime
        self.settings = settings
        self.include_prompts = include_prompts
        #: What the header walk found; every reader may look, it costs no decoding.
        self.carriers: Carriers = find_carriers(data, settings.max_metadata_bytes)
        self._exif: ExifFields | None = None
        self._xmp: XmpFields | None = None
        self._image: Image.Image | None = None
        self._decoded = False

    @property
    def exif(self) -> ExifFields:
        if self._exif is None:
            self._exif = parse_exif(self.carriers)
        return self._exif

    @property
    def xmp(self) -> XmpFields:
        if self._xmp is None:
            self._xmp = parse_xmp(self.carriers)
        return self._xmp

    def image(self) -> Image.Image | None:
        """The decoded image, or None when it is not one (hashing reports why)."""
        if not self._decoded:
            self._decoded = True
            self._image = _open_image(self.data, self.settings)
        return self._image

    def close(self) -> None:
        if self._image is not None:
            self._image.close()


class EvidenceReader(Protocol):
    @property
    def needs(self) -> Need: ...

    def wants(self, file: FileInput) -> bool:
        """Whether this file is worth reading, from its bytes and carriers alone
        (a PIXELS reader that wants a file makes it be decoded)."""
        ...

    def read(self, file: FileInput) -> list[Evidence]:
        """The evidence found; unreadable input gives UNREADABLE evidence or
        nothing, never an exception."""
        ...


class C2paReader:
    """Signed C2PA manifests, read from the whole file."""

    needs = Need.BYTES

    def wants(self, file: FileInput) -> bool:
        return True

    def read(self, file: FileInput) -> list[Evidence]:
        return read_c2pa(file.data, file.mime, file.settings.trust_anchors)


class _MetadataReader:
    """Readers of the carriers: they run on files that have any metadata at all."""

    needs = Need.METADATA

    def wants(self, file: FileInput) -> bool:
        return file.carriers.has_metadata


class XmpReader(_MetadataReader):
    """XMP and IPTC fields (digital source type, creator tool, AI prompt)."""

    def read(self, file: FileInput) -> list[Evidence]:
        return read_xmp(file.xmp, include_prompts=file.include_prompts)


class ExifReader(_MetadataReader):
    """EXIF camera make and model, and what generators write into it."""

    def read(self, file: FileInput) -> list[Evidence]:
        return read_exif(file.exif)


class GeneratorReader(_MetadataReader):
    """The parameters image generators write into text chunks, EXIF and XMP."""

    def read(self, file: FileInput) -> list[Evidence]:
        return read_generators(
            file.carriers, file.exif, file.xmp, include_prompts=file.include_prompts
        )


class StealthGeneratorReader:
    """NovelAI-style metadata hidden in the alpha channel."""

    needs = Need.PIXELS

    def wants(self, file: FileInput) -> bool:
        return file.carriers.has_alpha

    def read(self, file: FileInput) -> list[Evidence]:
        image = file.image()
        if image is None:
            return []
        return read_stealth_generators(
            image, file.settings.max_metadata_bytes, include_prompts=file.include_prompts
        )


class _PixelReader:
    """Readers that look at every decodable image they are asked to."""

    needs = Need.PIXELS

    def wants(self, file: FileInput) -> bool:
        return True


class WatermarkReader(_PixelReader):
    """Invisible watermarks: Stable Diffusion's, Bastion's stamp and the
    messages the operator declares (``BASTION_WATERMARK_MESSAGES``)."""

    def read(self, file: FileInput) -> list[Evidence]:
        image = file.image()
        return [] if image is None else read_watermarks(image, file.settings.watermark_messages)


class DetectorReader(_PixelReader):
    """A learned detector's score (weak evidence, opt-in)."""

    def __init__(self, detector: OnnxDetector) -> None:
        self.detector = detector

    def read(self, file: FileInput) -> list[Evidence]:
        image = file.image()
        return [] if image is None else self.detector.evidence(image)


#: The readers every inspection runs; watermarks and a detector are opt-in.
STANDARD_READERS: tuple[EvidenceReader, ...] = (
    C2paReader(),
    XmpReader(),
    ExifReader(),
    GeneratorReader(),
    StealthGeneratorReader(),
)


def _open_image(data: bytes, settings: Settings) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > settings.max_pixels:
            image.close()
            return None
        image.load()
    except Exception:  # noqa: BLE001 - Pillow's decoders raise anything (AVIF: RuntimeError)
        return None
    return image
