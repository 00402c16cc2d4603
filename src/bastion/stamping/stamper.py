"""Stamp a generated image so it stays recognisable wherever it goes.

Two marks, each optional: an invisible ``dwtDct`` watermark (the scheme of the
Stable Diffusion reference scripts, so existing decoders read it; it survives
the manifest being stripped) and a C2PA manifest signed by the operator,
intent CREATE with digital source type ``trainedAlgorithmicMedia``, naming the
generator as its software agent and, if given, the model's SHA-256.

The watermark goes first: it changes the pixels, and the manifest's hash must
cover the pixels that leave.  PNG stays lossless; a JPEG is re-encoded once
at quality 95 without chroma subsampling (the mark lives in a chroma plane),
keeping its ICC profile and EXIF.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from bastion.about import __version__
from bastion.config import Settings
from bastion.errors import BastionError
from bastion.media.sniff import sniff
from bastion.provenance.watermark import DEFAULT_MESSAGE
from bastion.provenance.watermark_embed import embed_watermark
from bastion.stamping.signer import load_signer

if TYPE_CHECKING:
    import c2pa

#: Formats stamped: the ones generators write and C2PA embeds into.
FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
#: The IPTC digital source type of media a trained model made.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: The label of Bastion's assertion naming the model's file by its SHA-256.
MODEL_ASSERTION = "org.bastion.model"
JPEG_QUALITY = 95
_SHA256 = re.compile(r"[0-9a-f]{64}")


class StampError(BastionError, ValueError):
    """An image or option Bastion cannot stamp; the message says which and why."""

    code = "stamp-refused"
    status = 422


@dataclass(frozen=True, slots=True)
class StampOptions:
    """What to stamp an image with."""

    c2pa: bool = True
    watermark: bool = True
    #: The generator, named in the manifest as the software agent.
    generator: str = "unnamed generator"
    #: SHA-256 of the model file (64 hex digits), named in the manifest.
    model_sha256: str | None = None
    #: The watermark's 48-bit message (6 bytes).
    message: bytes = DEFAULT_MESSAGE

    def checked(self) -> StampOptions:
        if not (self.c2pa or self.watermark):
            raise StampError("nothing to stamp: ask for the C2PA manifest, the watermark or both")
        if not self.generator.strip() or len(self.generator) > 200:
            raise StampError("the generator's name must be 1-200 characters")
        if self.model_sha256 is not None and not _SHA256.fullmatch(self.model_sha256.lower()):
            raise StampError(
                f"--model must be a SHA-256 (64 hex digits), got {self.model_sha256!r}"
            )
        if len(self.message) != 6:
            raise StampError(
                f"the watermark message must be 6 bytes (48 bits), got {len(self.message)}"
            )
        return self


@dataclass(frozen=True, slots=True)
class Stamped:
    """A stamped image and what it carries."""

    data: bytes
    mime: str
    c2pa: bool
    #: The watermark's message in hex, None when not watermarked.
    watermark: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mime": self.mime,
            "bytes": len(self.data),
            "c2pa": self.c2pa,
            "watermark": self.watermark,
        }


class Stamper:
    """Stamps images with one configuration; the signer is loaded once, on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._signer: c2pa.Signer | None = None

    def stamp(self, data: bytes, options: StampOptions) -> Stamped:
        options = options.checked()
        mime = sniff(data[:512]).mime
        if mime not in FORMATS:
            raise StampError(f"cannot stamp {mime}: Bastion stamps PNG and JPEG images")
        if options.watermark:
            data = self._watermarked(data, FORMATS[mime], options.message)
        if options.c2pa:
            data = self._signed(data, mime, options)
        return Stamped(
            data, mime, options.c2pa, options.message.hex() if options.watermark else None
        )

    def _watermarked(self, data: bytes, pillow_format: str, message: bytes) -> bytes:
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > self.settings.max_pixels:
                raise StampError(
                    f"the image has {image.width * image.height:,} pixels, more than "
                    f"BASTION_MAX_PIXELS ({self.settings.max_pixels:,})"
                )
            image.load()
        except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
            if isinstance(exc, StampError):
                raise
            raise StampError(f"the image cannot be decoded: {exc}") from None
        marked = embed_watermark(image, message)
        out = io.BytesIO()
        keep = {k: image.info[k] for k in ("icc_profile", "exif", "dpi") if k in image.info}
        if pillow_format == "JPEG":
            marked.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0, **keep)
        else:
            marked.save(out, "PNG", **keep)
        return out.getvalue()

    def _signed(self, data: bytes, mime: str, options: StampOptions) -> bytes:
        import c2pa

        if self._signer is None:
            self._signer = load_signer(self.settings)
        try:
            return sign_manifest(data, mime, self._signer, options)
        except c2pa.C2paError as exc:
            raise StampError(f"C2PA signing failed: {exc}") from None


def sign_manifest(data: bytes, mime: str, signer: c2pa.Signer, options: StampOptions) -> bytes:
    """``data`` with a manifest of a trained model's creation, signed: c2pa-python's
    Builder and nothing else (bench/stamp.py times it as the floor)."""
    import c2pa

    builder = c2pa.Builder(json.dumps(_manifest(options)))
    try:
        builder.set_intent(
            c2pa.C2paBuilderIntent.CREATE,
            c2pa.C2paDigitalSourceType.TRAINED_ALGORITHMIC_MEDIA,
        )
        builder.add_action(
            {
                "action": "c2pa.created",
                "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                "softwareAgent": {"name": options.generator},
            }
        )
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(data), out)
    finally:
        builder.close()
    return out.getvalue()


def _manifest(options: StampOptions) -> dict[str, Any]:
    assertions: list[dict[str, Any]] = []
    if options.model_sha256 is not None:
        assertions.append(
            {
                "label": MODEL_ASSERTION,
                "data": {"generator": options.generator, "sha256": options.model_sha256.lower()},
            }
        )
    return {
        "claim_generator_info": [{"name": "Bastion", "version": __version__}],
        "title": f"generated by {options.generator}",
        "assertions": assertions,
    }
