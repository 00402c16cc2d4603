"""The contract every EvidenceReader meets: silence on plain images, no crash on broken ones.

A reader's test subclasses :class:`EvidenceReaderContract` and sets
``READER``; the contract feeds it benign images without any provenance
metadata (they must give no evidence) and truncated or garbage input (it
may only say UNREADABLE, or nothing, and must never raise).  Readers are
called whether or not they would want the file, so ``wants`` is no shield.
"""

from __future__ import annotations

import io
import random
from typing import ClassVar

from PIL import Image

from bastion.config import Settings
from bastion.provenance.evidence import Strength
from bastion.provenance.readers import EvidenceReader, FileInput
from tests.provenance.files import exif_with, jpeg, png, xmp_packet


def _encoded(mode: str, kind: str, size: tuple[int, int] = (320, 280)) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert(mode)
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def benign_images() -> dict[str, bytes]:
    """Plain pictures as cameras and editors write them without provenance."""
    return {
        "jpeg": _encoded("RGB", "JPEG"),
        "png": _encoded("RGB", "PNG"),
        "png-alpha": _encoded("RGBA", "PNG"),
        "webp": _encoded("RGB", "WEBP"),
        "gif": _encoded("L", "GIF"),
        "small-png": png(),
    }


def damaged_inputs() -> dict[str, bytes]:
    """Files with metadata cut short, and bytes that are no image at all.

    The metadata claims no origin, so what survives a cut intact may give a
    NOTE at most: any origin a reader names came from broken bytes.
    """
    with_metadata = {
        "png-text": png({"Description": "a landscape at dusk", "Author": "someone"}),
        "png-alpha-text": png({"Comment": "a landscape"}, mode="RGBA"),
        "jpeg-exif-xmp": jpeg(
            exif=exif_with(software="Some Editor", make="Maker", model="M1"),
            xmp=xmp_packet("<xmp:CreatorTool>Tool</xmp:CreatorTool>"),
        ),
    }
    damaged: dict[str, bytes] = {}
    for name, data in with_metadata.items():
        for cut in (8, 40, len(data) // 3, len(data) // 2, len(data) - 10):
            damaged[f"{name}[:{cut}]"] = data[:cut]
    rng = random.Random(5)
    damaged["random"] = rng.randbytes(4096)
    damaged["png-signature-then-noise"] = b"\x89PNG\r\n\x1a\n" + rng.randbytes(2048)
    damaged["jpeg-marker-then-noise"] = b"\xff\xd8\xff\xe1" + rng.randbytes(2048)
    damaged["c2pa-markers-in-noise"] = rng.randbytes(512) + b"jumbc2pa" + rng.randbytes(512)
    damaged["empty"] = b""
    return damaged


class EvidenceReaderContract:
    READER: ClassVar[EvidenceReader]

    def test_benign_images_give_no_evidence(self) -> None:
        for name, data in benign_images().items():
            assert self.READER.read(FileInput(data, None, Settings())) == [], name

    def test_damaged_input_is_unreadable_or_nothing(self) -> None:
        for name, data in damaged_inputs().items():
            found = self.READER.read(FileInput(data, None, Settings()))
            for evidence in found:
                assert evidence.origin is None, (name, evidence)
                assert evidence.strength in (Strength.UNREADABLE, Strength.NOTE), (name, evidence)
