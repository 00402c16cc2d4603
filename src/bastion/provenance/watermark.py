"""Invisible ``dwtDct`` watermarks: Stable Diffusion 1.x's and SDXL's,
Bastion's own stamp (:mod:`.watermark_embed`) and operators' declared messages.

The reference scripts embed them with the ``invisible-watermark`` package,
which pulls in torch; this is its decoder, re-implemented on numpy and
checked against files the package embedded (``testdata/watermark``):

1. convert to YUV as OpenCV does for 8-bit BGR and keep the U channel;
2. one level of Haar DWT (PyWavelets' arithmetic), keep the approximation band;
3. in each 4 x 4 block of it, take the largest-magnitude coefficient except
   the first; its magnitude modulo 36 in the upper half of the step means 1
   (despite the method's name, no DCT is taken: the package quantises the
   approximation coefficients themselves);
4. block *k* votes for bit *k mod n*; a bit is 1 when most votes say so.

The mark is fragile (a JPEG save usually destroys it) and unmarked photos
agree with a message by chance, so a watermark is reported only when the
bits read agree with a known message above :data:`THRESHOLD`, calibrated on
the photo corpus (docs/provenance.md) — and even then only as a declaration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    """A message some generator stamps, and who it names."""

    name: str
    generator: str
    message: bytes
    bits: NDArray[np.bool_] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", bits_of(self.message))


def bits_of(message: bytes) -> NDArray[np.bool_]:
    """A message's bits, most significant first, as the package orders them."""
    bits: NDArray[np.bool_] = np.unpackbits(np.frombuffer(message, dtype=np.uint8)).astype(bool)
    return bits


#: What ``bastion stamp`` embeds unless told otherwise: "BSTNv1" in ASCII.  21
#: of its 48 bits are set, so a flat image (every block voting alike) agrees
#: with at most 27 of them; it differs from SDXL's message in 30 bits.
DEFAULT_MESSAGE = b"BSTNv1"
SDXL = Scheme("sdxl", "Stable Diffusion XL", bytes.fromhex("b3ec907bb19e"))
SD1 = Scheme("sd1", "Stable Diffusion 1.x", b"StableDiffusionV1")
BASTION = Scheme("bastion", "Bastion's default stamp", DEFAULT_MESSAGE)
#: The messages every inspection looks for; operators add their own
#: (``BASTION_WATERMARK_MESSAGES``, :func:`declared_scheme`).
SCHEMES = (SDXL, SD1, BASTION)


def declared_scheme(message: bytes) -> Scheme:
    """The scheme of a message an operator declares it stamps with."""
    return Scheme("declared", f"a stamp this operator declared ({message.hex()})", message)


# OpenCV's 8-bit BGR<->YUV conversion, in fixed point with 14 fractional bits
# (``cv2.cvtColor``; the tests check every one of the 2**24 colours against it).
SHIFT = 14
ROUND = 1 << (SHIFT - 1)
#: Chroma's offset, as the fixed-point numerator adds it.
CHROMA_OFFSET = 128 << SHIFT
_Y_OF_R, _Y_OF_G, _Y_OF_B = 4899, 9617, 1868
_U_OF_B_MINUS_Y, _V_OF_R_MINUS_Y = 8061, 14369


def luma(rgb: NDArray[np.uint8]) -> NDArray[np.int32]:
    """OpenCV's Y plane of 8-bit colour."""
    r, g, b = (rgb[..., c].astype(np.int32) for c in range(3))
    y: NDArray[np.int32] = (r * _Y_OF_R + g * _Y_OF_G + b * _Y_OF_B + ROUND) >> SHIFT
    return y


def _chroma(primary: NDArray[np.uint8], y: NDArray[np.int32], weight: int) -> NDArray[np.int32]:
    scaled = (primary.astype(np.int32) - y) * weight + CHROMA_OFFSET + ROUND
    clipped: NDArray[np.int32] = np.clip(scaled >> SHIFT, 0, 255)
    return clipped


def u_plane(rgb: NDArray[np.uint8], y: NDArray[np.int32]) -> NDArray[np.int32]:
    """OpenCV's U plane (blue minus luma), the plane dwtDct marks."""
    return _chroma(rgb[..., 2], y, _U_OF_B_MINUS_Y)


def v_plane(rgb: NDArray[np.uint8], y: NDArray[np.int32]) -> NDArray[np.int32]:
    """OpenCV's V plane (red minus luma)."""
    return _chroma(rgb[..., 0], y, _V_OF_R_MINUS_Y)


#: The Haar filters' taps are all +-1/sqrt(2); PyWavelets writes it so.
HAAR_TAP = math.sqrt(0.5)


def haar_split(
    x: NDArray[np.float64], axis: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """One level of the Haar DWT along ``axis`` (even length): the low and the
    high band, equal bit for bit to PyWavelets' (``pywt.dwt2`` is two of these,
    axis 0 then axis 1) and several times faster at a generator's 1024 px."""
    even, odd = (x[index] for index in _even_odd(axis))
    return even * HAAR_TAP + odd * HAAR_TAP, even * HAAR_TAP - odd * HAAR_TAP


def _even_odd(axis: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Indices of a plane's even and odd rows (``axis`` 0) or columns (1)."""
    every, even, odd = slice(None), slice(0, None, 2), slice(1, None, 2)
    return ((even, every), (odd, every)) if axis == 0 else ((every, even), (every, odd))


def haar_merge(
    low: NDArray[np.float64], high: NDArray[np.float64], axis: int
) -> NDArray[np.float64]:
    """The inverse of :func:`haar_split`, in PyWavelets' arithmetic (``pywt.idwt2``
    merges axis 1, then axis 0)."""
    shape = list(low.shape)
    shape[axis] *= 2
    merged = np.empty(shape)
    even, odd = _even_odd(axis)
    merged[even] = low * HAAR_TAP + high * HAAR_TAP
    merged[odd] = low * HAAR_TAP - high * HAAR_TAP
    return merged


def marked_region(height: int, width: int) -> tuple[int, int]:
    """The package marks the top-left part whose sides are multiples of 4."""
    return height // 4 * 4, width // 4 * 4


def blocks_of(approximation: NDArray[np.float64]) -> NDArray[np.float64]:
    """The approximation band's whole 4 x 4 blocks, one row of 16 each, in the
    package's row-major block order (block *k* carries bit *k mod n*)."""
    rows, cols = approximation.shape[0] // BLOCK, approximation.shape[1] // BLOCK
    blocks: NDArray[np.float64] = (
        approximation[: rows * BLOCK, : cols * BLOCK]
        .reshape(rows, BLOCK, cols, BLOCK)
        .swapaxes(1, 2)
        .reshape(-1, BLOCK * BLOCK)
    )
    return blocks


def put_blocks(approximation: NDArray[np.float64], blocks: NDArray[np.float64]) -> None:
    """Write rows of :func:`blocks_of` back into the approximation band."""
    rows, cols = approximation.shape[0] // BLOCK, approximation.shape[1] // BLOCK
    approximation[: rows * BLOCK, : cols * BLOCK] = (
        blocks.reshape(rows, cols, BLOCK, BLOCK).swapaxes(1, 2).reshape(rows * BLOCK, cols * BLOCK)
    )


def largest_positions(blocks: NDArray[np.float64]) -> NDArray[np.intp]:
    """Each block's carrier: its largest-magnitude coefficient but the first
    (the earliest on a tie, as ``np.argmax`` in the package's loop)."""
    positions: NDArray[np.intp] = np.abs(blocks[:, 1:]).argmax(axis=1) + 1
    return positions


def block_votes(rgb: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Each block's bit, in the package's row-major block order."""
    height, width = marked_region(rgb.shape[0], rgb.shape[1])
    region = rgb[:height, :width]
    low, _ = haar_split(u_plane(region, luma(region)).astype(np.float64), axis=0)
    approximation, _ = haar_split(low, axis=1)
    blocks = blocks_of(approximation)
    carriers = np.take_along_axis(blocks, largest_positions(blocks)[:, None], axis=1)[:, 0]
    votes: NDArray[np.bool_] = (np.abs(carriers) % STEP) > STEP / 2
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


def schemes_for(declared: Sequence[bytes]) -> tuple[Scheme, ...]:
    """The known schemes and those of the operator's declared messages (a
    message a known scheme already carries is read once, under that name)."""
    known = {scheme.message for scheme in SCHEMES}
    return SCHEMES + tuple(declared_scheme(m) for m in dict.fromkeys(declared) if m not in known)


def read_watermarks(image: Image.Image, declared: Sequence[bytes] = ()) -> list[Evidence]:
    """Evidence of a known watermark in ``image``, if clear enough: Stable
    Diffusion's, Bastion's default stamp, or a message in ``declared``."""
    if min(image.size) < MIN_SIDE:
        return []
    rgb = np.asarray(image.convert("RGB"))
    votes = block_votes(rgb)
    found = []
    for scheme in schemes_for(declared):
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
            "message": scheme.message.hex(),
            "method": "dwtDct",
            "bits_agreeing": agreeing,
            "bits": total,
            "agreement": round(agreeing / total, 3),
            "threshold": THRESHOLD,
            "chance": chance,
        }
        found.append(Evidence(READER, Strength.DECLARED, summary, Origin.AI_GENERATED, detail))
    return found
