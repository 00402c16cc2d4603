"""Invisible watermarks of Stable Diffusion 1.x and SDXL (``dwtDct``).

The reference scripts embed them with the ``invisible-watermark`` package,
which pulls in torch; this is its decoder, re-implemented on PyWavelets and
checked against files the package embedded (``testdata/watermark``):

1. convert to YUV as OpenCV does for 8-bit BGR and keep the U channel;
2. one level of Haar DWT, keep the approximation band;
3. in each 4 x 4 block of it, take the largest-magnitude coefficient except
   the first; its magnitude modulo 36 in the upper half of the step means 1;
4. block *k* votes for bit *k mod n*; a bit is 1 when most votes say so.

The mark is fragile (a JPEG save usually destroys it) and unmarked photos
agree with a message by chance, so a watermark is reported only when the
bits read agree with a known message above :data:`THRESHOLD`, calibrated on
the photo corpus (docs/provenance.md) — and even then only as a declaration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from bastion.provenance.evidence import Evidence, Origin, Strength

READER = "watermark"
#: The package's quantisation step for the U channel.
STEP = 36
BLOCK = 4
#: Smallest side the package embeds into (it refuses smaller images).
MIN_SIDE = 256
#: Fraction of message bits that must agree.  Lossless marked files read
#: 0.79-1.0; the corpus's unmarked photos at most 0.67 (docs/provenance.md).
THRESHOLD = 0.75


@dataclass(frozen=True, slots=True)
class Scheme:
    name: str
    generator: str
    bits: NDArray[np.bool_]


def _bits_of(data: bytes) -> NDArray[np.bool_]:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(bool)


SCHEMES = (
    Scheme("sdxl", "Stable Diffusion XL", _bits_of(bytes.fromhex("b3ec907bb19e"))),
    Scheme("sd1", "Stable Diffusion 1.x", _bits_of(b"StableDiffusionV1")),
)


def _u_channel(rgb: NDArray[np.uint8]) -> NDArray[np.int64]:
    """OpenCV's 8-bit BGR→YUV U plane: fixed point with 14 fractional bits."""
    r, g, b = (rgb[..., c].astype(np.int64) for c in range(3))
    y = (r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14
    u = ((b - y) * 8061 + (128 << 14) + (1 << 13)) >> 14
    clipped: NDArray[np.int64] = np.clip(u, 0, 255)
    return clipped


def block_votes(rgb: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Each block's bit, in the package's row-major block order."""
    height, width = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    # PyWavelets is imported on the first image that gets this far, not with bastion.
    import pywt

    u = _u_channel(rgb[:height, :width]).astype(np.float64)
    approximation, _ = pywt.dwt2(u, "haar")
    rows, cols = approximation.shape[0] // BLOCK, approximation.shape[1] // BLOCK
    blocks = (
        approximation[: rows * BLOCK, : cols * BLOCK]
        .reshape(rows, BLOCK, cols, BLOCK)
        .swapaxes(1, 2)
        .reshape(-1, BLOCK * BLOCK)
    )
    magnitudes = np.abs(blocks[:, 1:])
    largest = magnitudes[np.arange(len(blocks)), magnitudes.argmax(axis=1)]
    votes: NDArray[np.bool_] = (largest % STEP) > STEP / 2
    return votes


def read_bits(votes: NDArray[np.bool_], length: int) -> NDArray[np.bool_]:
    """The ``length``-bit message the package's decoder reads from these votes."""
    positions = np.arange(len(votes)) % length
    ones = np.bincount(positions, weights=votes, minlength=length)
    counts = np.bincount(positions, minlength=length)
    bits: NDArray[np.bool_] = ones / counts * 255 > 127
    return bits


def chance_of(agreeing: int, total: int) -> float:
    """Probability that random bits agree with a message at least this well."""
    return float(sum(math.comb(total, k) for k in range(agreeing, total + 1)) / 2**total)


def read_watermarks(image: Image.Image) -> list[Evidence]:
    """Evidence of a known Stable Diffusion watermark in ``image``, if clear enough."""
    if min(image.size) < MIN_SIDE:
        return []
    rgb = np.asarray(image.convert("RGB"))
    votes = block_votes(rgb)
    found = []
    for scheme in SCHEMES:
        total = len(scheme.bits)
        if len(votes) < total:
            continue
        agreeing = int((read_bits(votes, total) == scheme.bits).sum())
        if agreeing / total < THRESHOLD:
            continue
        chance = chance_of(agreeing, total)
        summary = (
            f"invisible watermark of {scheme.generator} "
            f"({agreeing} of {total} bits agree; chance {chance:.1e})"
        )
        detail = {
            "scheme": scheme.name,
            "method": "dwtDct",
            "bits_agreeing": agreeing,
            "bits": total,
            "agreement": round(agreeing / total, 3),
            "threshold": THRESHOLD,
            "chance": chance,
        }
        found.append(Evidence(READER, Strength.DECLARED, summary, Origin.AI_GENERATED, detail))
    return found
