"""Stamping an invisible ``dwtDct`` watermark into a generated image.

Generated images carry the mark so they stay recognisable when their C2PA
manifest is stripped.  This follows the ``invisible-watermark`` package's
encoder step for step, so its decoder - and every tool built on it - reads
what Bastion embeds (tests/provenance/test_watermark_embed.py):

1. convert to YUV as OpenCV does for 8-bit colour; only U carries the mark;
2. one level of Haar DWT of U (the part whose sides are multiples of 4);
3. in each whole 4 x 4 block of the approximation band, block *k* carrying
   bit *k mod 48*, move the largest-magnitude coefficient but the first (the
   carrier) to a quarter (bit 0) or three quarters (bit 1) of its step of 36;
4. inverse DWT, truncated to whole numbers, and back from YUV to RGB.

One difference: where the package lowers a carrier below another coefficient
of its block, a decoder then reads that other one, and on smooth images a
quarter of the blocks vote wrong (the package's own decoder misreads its own
marks).  Bastion moves such a carrier one step of 36 up instead, to the same
place in the step, so it stays the largest and votes as intended; every other
block changes exactly as the package changes it.  The package also rebuilds
U with the horizontal and vertical detail bands swapped (transposing each
2 x 2 group of U samples); that is kept.  All blocks are marked at once with
numpy, not in a loop per block as the package does, and the Haar transforms
are numpy's too: PyWavelets' arithmetic bit for bit, several times faster.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from bastion.config import watermark_message_problem
from bastion.errors import BastionError
from bastion.provenance.watermark import (
    MIN_SIDE,
    ROUND,
    SHIFT,
    STEP,
    THRESHOLD,
    bits_of,
    block_votes,
    blocks_of,
    haar_merge,
    haar_split,
    largest_positions,
    luma,
    marked_region,
    put_blocks,
    read_bits,
    u_plane,
    v_plane,
)

# OpenCV's fixed-point YUV -> BGR for 8-bit colour (cv2.COLOR_YUV2BGR).
_B_OF_U, _G_OF_U, _G_OF_V, _R_OF_V = 33292, -6472, -9519, 18678


class WatermarkError(BastionError, ValueError):
    """An image too small to carry a readable mark, or a message it cannot carry."""

    code = "watermark-error"
    status = 422


def embed_watermark(image: Image.Image, message: bytes) -> Image.Image:
    """``image`` carrying the 6-byte ``message`` as a dwtDct watermark.

    The result is RGB (RGBA with the original alpha when ``image`` has one),
    the same size; both sides must be at least :data:`MIN_SIDE`.  The result is
    read back before it is returned: an image whose mark would not be
    recognised (a flat white one) is refused, never returned looking stamped."""
    problem = watermark_message_problem(message)
    if problem is not None:
        raise WatermarkError(problem)
    if min(image.size) < MIN_SIDE:
        width, height = image.size
        raise WatermarkError(
            f"a {width} x {height} image is too small to carry a watermark: "
            f"both sides must be at least {MIN_SIDE} pixels"
        )
    rgb = np.asarray(image.convert("RGB"))
    y = luma(rgb)
    u = u_plane(rgb, y)
    height, width = marked_region(*u.shape)
    bits = bits_of(message)
    u[:height, :width] = _marked(u[:height, :width], bits)
    marked_rgb = rgb_of(y, u, v_plane(rgb, y))
    agreeing = int((read_bits(block_votes(marked_rgb), len(bits)) == bits).sum())
    if agreeing / len(bits) < THRESHOLD:
        raise WatermarkError(
            f"this image cannot carry a readable watermark: {agreeing} of {len(bits)} bits "
            "read back (flat white or fully saturated colour leaves the mark no room)"
        )
    marked = Image.fromarray(marked_rgb, "RGB")
    if "A" in image.getbands():
        marked.putalpha(image.getchannel("A"))
    if "icc_profile" in image.info:
        marked.info["icc_profile"] = image.info["icc_profile"]
    return marked


def _marked(u: NDArray[np.int32], bits: NDArray[np.bool_]) -> NDArray[np.int32]:
    """The U plane (sides multiples of 4) carrying ``bits``."""
    low, high = haar_split(u.astype(np.float64), axis=0)
    approximation, low_high = haar_split(low, axis=1)
    high_low, high_high = haar_split(high, axis=1)
    blocks = blocks_of(approximation)
    which = np.arange(len(blocks))
    positions = largest_positions(blocks)
    carriers = blocks[which, positions]
    others = np.abs(blocks)
    others[:, 0] = others[which, positions] = -1
    # In the package's order of operations, so the floats round as its do.
    levels = (np.abs(carriers) // STEP + 0.25 + 0.5 * bits[which % len(bits)]) * STEP
    # Where the package's level would let another coefficient become the
    # largest, decoders would read that one instead: go a step up.
    levels = np.where(levels > others.max(axis=1), levels, levels + STEP)
    blocks[which, positions] = np.where(carriers >= 0, levels, -levels)
    put_blocks(approximation, blocks)
    # The package's swap of the two mixed bands.
    rebuilt = haar_merge(
        haar_merge(approximation, high_low, axis=1),
        haar_merge(low_high, high_high, axis=1),
        axis=0,
    )
    # Truncated toward zero as the package's store into uint8 does (clipped
    # where it would wrap around, which a step up can reach in deep blue).
    marked: NDArray[np.int32] = np.clip(rebuilt, 0, 255).astype(np.int32)
    return marked


def rgb_of(y: NDArray[np.int32], u: NDArray[np.int32], v: NDArray[np.int32]) -> NDArray[np.uint8]:
    """8-bit RGB from OpenCV's Y, U and V planes."""
    u, v = u - 128, v - 128
    r = y + ((v * _R_OF_V + ROUND) >> SHIFT)
    g = y + ((u * _G_OF_U + v * _G_OF_V + ROUND) >> SHIFT)
    b = y + ((u * _B_OF_U + ROUND) >> SHIFT)
    rgb: NDArray[np.uint8] = np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)
    return rgb
