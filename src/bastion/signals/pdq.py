"""PDQ, Meta's perceptual image hash, computed the way the C++ reference does.

The reference blurs the whole luma image with a two-pass Jarosz (tent) filter
and then keeps only 64x64 samples of it.  Because the filter is linear and
separable, the 64x64 samples equal ``A @ luma @ B.T``, where ``A`` and ``B``
hold the filter weights of just the sampled rows and columns.  Each row of
``A`` is non-zero only on a short band (about ``2 * side / 128`` taps), so
only those pixels are gathered and weighted, once per band.  That gives the
same hashes as the reference's full-image filter at a fraction of the cost,
which is why this module exists next to the ``pdqhash`` bindings (which the
tests keep as the reference).

That holds while the hash's bits do not hang on float32 rounding.  Flat
graphics, stripes and checkerboards leave many DCT coefficients at exactly
zero in exact arithmetic, which the reference's roundings turn into noise
whose signs set those bits.  For them (``_rounding_decides``) the module
repeats the reference's float32 arithmetic step by step
(``downsample64_exact``, ``dct16_exact``) and so gives its hash bit for bit.

Bit layout follows ``Hash256`` in the reference: bit ``16*i + j`` is set when
DCT coefficient ``(i, j)`` exceeds the median, and the hex string prints
16-bit word 15 first.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

#: Smallest side the reference hashes; smaller images get an all-zero hash.
MIN_HASHABLE_DIM = 5
#: Side of the image-domain downsample the DCT is taken from.
SAMPLES = 64
#: Bounds on how far the fast path's DCT coefficients and 64x64 samples stray
#: from the reference's float32 roundings, relative to the brightest sample:
#: measured up to 1.7e-5 and 5.1e-6 on photos, noise and low-contrast
#: images; about twice that for margin.
COEFFICIENT_TOLERANCE = 4e-5
SAMPLE_TOLERANCE = 1e-5
#: How many coefficients may sit within the fast path's noise of the median
#: before only the reference's roundings decide the hash.  A photo now and
#: then has one close pair there (7 % of corpus photos): the fast path may
#: then order that pair otherwise, two bits of 256, far inside the match
#: threshold, and the exact path (milliseconds) is not worth it.  Flat
#: graphics, stripes and checkerboards have dozens of exact ties.
CLOSE_TO_MEDIAN = 2
#: The reference's luma coefficients (ITU-R BT.601) in thousandths, exact in float32.
LUMA_WEIGHTS_PER_MILLE = np.array([299, 587, 114], dtype=np.float32)

#: Names of the eight dihedral variants, in the reference's order.
DIHEDRAL_NAMES = (
    "original",
    "rotate90",
    "rotate180",
    "rotate270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)

FloatArray = npt.NDArray[np.float32]
#: Luma as decoders hand it over: 8-bit for grayscale decodes, float otherwise.
LumaArray = npt.NDArray[np.uint8] | npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class PdqHash:
    """A 256-bit PDQ hash (64 hex digits) and its quality (0-100)."""

    hex: str
    quality: int


def _dct_matrix() -> FloatArray:
    """Rows 1..16 of the 64-point DCT-II basis, rounded as in the reference.

    The reference rounds the scale ``sqrt(2/64)`` to float32, multiplies the
    double cosines by it in double and rounds each product to float32.
    """
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(SAMPLES, dtype=np.float64)[None, :]
    scale = np.float64(np.float32(np.sqrt(2.0 / SAMPLES)))
    matrix: FloatArray = (scale * np.cos((np.pi / 2.0 / SAMPLES) * i * (2 * j + 1))).astype(
        np.float32
    )
    return matrix


_DCT = _dct_matrix()
_DCT_T = np.ascontiguousarray(_DCT.T)


def jarosz_window(length: int) -> int:
    """Box-filter width the reference uses to reduce ``length`` to 64 samples."""
    return (length + 2 * SAMPLES - 1) // (2 * SAMPLES)


def _box_bounds(length: int, window: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Inclusive [lo, hi] of each output's input window in the reference box filter.

    The reference's running-sum filter centres a window of ``window`` taps with
    ``half - 1`` taps after the output and ``window - half`` before it, and
    shrinks it at the edges instead of padding.
    """
    half = (window + 2) // 2
    positions = np.arange(length, dtype=np.int64)
    lo = np.maximum(positions - (window - half), 0)
    hi = np.minimum(positions + half - 1, length - 1)
    return lo, hi


def _sample_centres(length: int) -> npt.NDArray[np.int64]:
    """The input positions the reference decimates to, one per output sample."""
    centres: npt.NDArray[np.int64] = ((np.arange(SAMPLES) + 0.5) * length / SAMPLES).astype(
        np.int64
    )
    return centres


def tent_weights(length: int) -> FloatArray:
    """Weights (64 x length) of the two-pass box filter at the 64 sample points.

    Row ``s`` is the impulse response of box(box(x)) evaluated at the input
    position the reference decimates to for sample ``s``.  The matrix is built
    from difference arrays in O(64 * length); ``tent_band`` caches its band.
    """
    window = jarosz_window(length)
    lo, hi = _box_bounds(length, window)
    counts = (hi - lo + 1).astype(np.float64)
    samples = _sample_centres(length)

    # The second pass at sample s's centre averages first-pass outputs k in
    # [lo, hi] of that centre; each first-pass output k averages inputs
    # [lo[k], hi[k]].  All (s, k) pairs at once, in the order of a loop over s:
    spans = hi[samples] - lo[samples] + 1
    rows = np.repeat(np.arange(SAMPLES), spans)
    ks = np.repeat(lo[samples] - np.cumsum(spans) + spans, spans) + np.arange(spans.sum())
    weight = 1.0 / (counts[samples][rows] * counts[ks])
    # A difference array per row; bincount adds in input order, like a loop.
    cells = np.concatenate((lo[ks], hi[ks] + 1)) + np.tile(rows, 2) * (length + 1)
    diff = np.bincount(
        cells, np.concatenate((weight, -weight)), minlength=SAMPLES * (length + 1)
    ).reshape(SAMPLES, length + 1)
    return np.cumsum(diff[:, :length], axis=1).astype(np.float32)


def luma_from_rgb(rgb: npt.NDArray[np.uint8]) -> FloatArray:
    """Float luma of an (H, W, 3) uint8 array, rounded exactly as ``pdqhash``'s.

    ``pdqhash`` rounds the luma to float32 from a float64 sum, which is the
    correctly rounded float32 of ``(299 R + 587 G + 114 B) / 1000`` (that
    quotient is never close enough to a float32 rounding boundary for
    float64's error to matter).  Integer weights keep every product and sum
    exact in float32 whatever order BLAS adds them in, and one float32
    division rounds correctly: the same luma as the reference, bit for bit,
    which the exact path (``pdq_from_luma``) needs.  Converted to float32
    first so the product is one BLAS call: a uint8 @ float32 product takes
    numpy's generic loop, up to 4x slower (measured).
    """
    height, width, _ = rgb.shape
    weighted = rgb.reshape(-1, 3).astype(np.float32) @ LUMA_WEIGHTS_PER_MILLE
    out: FloatArray = np.divide(weighted, np.float32(1000), out=weighted).reshape(height, width)
    return out


@lru_cache(maxsize=1024)
def tent_band(length: int) -> tuple[IndexArray, FloatArray]:
    """``tent_weights(length)`` as a band: tap indices (64 x K) and their weights.

    Sample ``s`` averages first-pass outputs ``[lo[c], hi[c]]`` of its centre
    ``c``, which average inputs from ``lo[lo[c]]`` to ``hi[hi[c]]``: that is
    its support.  It is taken from the filter's bounds, not from where the
    weights are non-zero, because the cumulative sums leave float residue
    (~1e-17) outside the support; reading that as taps made some lengths
    (720 rows, say) gather the whole image for every sample.  Windows are
    shifted inwards at the far edge, where the extra taps weigh zero.
    """
    weights = tent_weights(length)
    lo, hi = _box_bounds(length, jarosz_window(length))
    centres = _sample_centres(length)
    first, last = lo[lo[centres]], hi[hi[centres]]
    taps = int((last - first + 1).max())
    start = np.minimum(first, length - taps)
    indices = (start[:, None] + np.arange(taps)[None, :]).astype(np.intp)
    band = np.take_along_axis(weights, indices, axis=1)
    band[(indices < first[:, None]) | (indices > last[:, None])] = 0.0
    return indices, band


def downsample64(luma: LumaArray) -> FloatArray:
    """The reference's blurred-and-decimated 64x64 image of ``luma``."""
    rows, cols = luma.shape
    if rows == SAMPLES and cols == SAMPLES:
        # The reference skips filtering when handed a 64x64 image (video frames).
        return luma.astype(np.float32, copy=False)
    row_taps, row_weights = tent_band(rows)
    col_taps, col_weights = tent_band(cols)
    # Gather only the rows the 64 sample rows weigh (converting 8-bit pixels
    # to float on that gather, not on the whole image), then the columns.
    gathered = luma[row_taps].astype(np.float32, copy=False)  # (64, K, cols)
    across: FloatArray = np.matmul(row_weights[:, None, :], gathered)[:, 0, :]
    samples: FloatArray = np.einsum("sck,ck->sc", across[:, col_taps], col_weights)
    return samples.astype(np.float32, copy=False)


@lru_cache(maxsize=1024)
def _running_box_sizes(length: int, window: int) -> FloatArray:
    """The window size the reference divides each output of a running box by."""
    half = (window + 2) // 2
    sizes: FloatArray = np.concatenate(
        (
            np.arange(half, window + 1),
            np.full(length - window, window),
            window - 1 - np.arange(half - 1),
        )
    ).astype(np.float32)
    return sizes


def _running_box(image: FloatArray, window: int) -> FloatArray:
    """One pass of the reference's box filter down the columns (axis 0), bit for bit.

    The reference keeps one float32 running sum per column: it adds the
    pixel entering the window, subtracts the one leaving it, and writes the
    sum divided by the window's current size.  The same additions, in the
    same order, run here on whole rows (vectorised across the columns; a
    cumulative sum along either axis does the same roundings but walks each
    column element by element, several times slower, measured).  Each
    output row holds the running sum until all are divided at the end.
    """
    length = image.shape[0]
    half = (window + 2) // 2
    pixels = list(image)
    sums = np.empty_like(image)
    lines = list(sums)
    running = np.zeros_like(pixels[0])
    for entering in pixels[: half - 1]:
        np.add(running, entering, out=running)
    for line, entering in zip(lines[: window - half + 1], pixels[half - 1 : window], strict=True):
        np.add(running, entering, out=line)
        running = line
    for line, entering, leaving in zip(
        lines[window - half + 1 :], pixels[window:], pixels, strict=False
    ):
        np.add(running, entering, out=line)
        np.subtract(line, leaving, out=line)
        running = line
    for line, leaving in zip(lines[length - half + 1 :], pixels[length - window :], strict=False):
        np.subtract(running, leaving, out=line)
        running = line
    out: FloatArray = np.divide(sums, _running_box_sizes(length, window)[:, None], out=sums)
    return out


def downsample64_exact(luma: LumaArray) -> FloatArray:
    """``downsample64`` with the reference's float32 roundings, bit for bit.

    The reference filters rows, then columns, twice, over the whole image.
    Passes run down axis 0 (see ``_running_box``), so the image is
    transposed between passes.  Columns are filtered independently, so the
    last column pass runs only on the 64 sampled columns.  A few times
    slower than ``downsample64``; used only where its roundings matter.
    """
    rows, cols = luma.shape
    if rows == SAMPLES and cols == SAMPLES:
        return luma.astype(np.float32, copy=False)
    along_rows, along_cols = jarosz_window(cols), jarosz_window(rows)
    transposed = np.ascontiguousarray(luma.T, dtype=np.float32)  # (cols, rows)
    image = np.ascontiguousarray(_running_box(transposed, along_rows).T)
    image = _running_box(image, along_cols)
    image = _running_box(np.ascontiguousarray(image.T), along_rows).T
    sampled = _running_box(np.ascontiguousarray(image[:, _sample_centres(cols)]), along_cols)
    return sampled[_sample_centres(rows)]


def _gradients(buffer64: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The reference's scaled neighbour differences (float32), before truncation."""
    vertical = (buffer64[:-1, :] - buffer64[1:, :]) * 100 / 255
    horizontal = (buffer64[:, :-1] - buffer64[:, 1:]) * 100 / 255
    return vertical.astype(np.float32, copy=False), horizontal.astype(np.float32, copy=False)


def _gradient_sum(gradients: tuple[FloatArray, FloatArray]) -> int:
    """The reference's sum of truncated gradient magnitudes."""
    return int(sum(np.abs(np.trunc(gradient)).sum() for gradient in gradients))


def quality_of(buffer64: FloatArray) -> int:
    """The reference's gradient-sum quality metric, 0 (flat) to 100."""
    return min(_gradient_sum(_gradients(buffer64)) // 90, 100)


def _quality_is_ambiguous(buffer64: FloatArray, tolerance: float) -> bool:
    """Whether samples off by ``tolerance`` could change ``quality_of``.

    A scaled difference within reach of a non-zero integer may truncate
    either way; if the quality range those could span has two values, only
    the reference's exact samples decide.
    """
    reach = 2 * tolerance * 100 / 255
    gradients = _gradients(buffer64)
    near = 0
    for gradient in gradients:
        magnitude = np.abs(gradient)
        nearest = np.rint(magnitude)
        near += int(np.count_nonzero((nearest >= 1) & (np.abs(magnitude - nearest) <= reach)))
    total = _gradient_sum(gradients)
    return min((total - near) // 90, 100) != min((total + near) // 90, 100)


def dct16(buffer64: FloatArray) -> FloatArray:
    """Coefficients (1..16) x (1..16) of the 2-D DCT of the 64x64 image."""
    return ((_DCT @ buffer64) @ _DCT_T).astype(np.float32, copy=False)


def _accumulate_in_order(terms: FloatArray) -> FloatArray:
    """Cumulative sums down axis 0, in place, one float32 rounding per addition."""
    lines = list(terms)
    for previous, line in itertools.pairwise(lines):
        np.add(previous, line, out=line)
    return terms


def dct16_exact(buffer64: FloatArray) -> FloatArray:
    """``dct16`` with the reference's float32 roundings, bit for bit.

    The reference sums each coefficient's 64 products one by one in float32,
    in the order of ``k``; so does ``_accumulate_in_order``.
    """
    across = _accumulate_in_order(_DCT.T[:, :, None] * buffer64[:, None, :])[-1]  # (16, 64)
    out: FloatArray = _accumulate_in_order(across.T[:, :, None] * _DCT_T[:, None, :])[-1]
    return out


def _bits_to_hex(bits: npt.NDArray[np.bool_]) -> str:
    """Hex of 256 bits in reference order: word 15 (bits 240..255) first."""
    words = np.packbits(bits.reshape(16, 16)[:, ::-1], axis=1)  # MSB = bit 15
    return words[::-1].tobytes().hex()


def hex_from_dct(coefficients: FloatArray) -> str:
    """Threshold 16x16 DCT coefficients at their (lower) median into a hash."""
    flat = coefficients.reshape(-1)
    median = np.partition(flat, 127)[127]
    return _bits_to_hex(flat > median)


def dihedral_dcts(coefficients: FloatArray) -> tuple[FloatArray, ...]:
    """DCTs of the 8 rotations/flips, derived from the original's DCT.

    Flipping an axis negates that axis's odd-frequency coefficients (with the
    reference's 1-based frequencies, even indices) and rotating transposes.
    """
    a = coefficients
    idx = np.arange(16)
    even = (idx % 2 == 0).astype(np.float32)
    flip = 1.0 - 2.0 * even  # -1 where the 0-based index is even
    flip_rows = flip[:, None]
    flip_cols = flip[None, :]
    return (
        a,
        (a * flip_cols).T,  # rotate90
        a * flip_rows * flip_cols,  # rotate180
        (a * flip_rows).T,  # rotate270
        a * flip_rows,  # flipx
        a * flip_cols,  # flipy
        a.T,  # flipplus1
        (a * flip_rows * flip_cols).T,  # flipminus1
    )


def pdq_from_luma(
    luma: LumaArray, *, dihedral: bool = False, luma_gain: float = 1.0
) -> list[PdqHash]:
    """PDQ hash(es) of a luma image (8-bit or float32).

    Returns one hash, or the eight dihedral variants (original first, in
    ``DIHEDRAL_NAMES`` order) when ``dihedral`` is true.  All share one quality.
    ``luma_gain`` scales the luma before the quality is measured: a video's
    limited-range Y plane (16-235) is the reference's RGB luma times
    219/255 plus an offset, and only the quality, a sum of gradients, sees
    the difference (the hash is the same for any gain and offset).
    """
    rows, cols = luma.shape
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        zero = PdqHash("0" * 64, 0)
        return [zero] * (8 if dihedral else 1)
    buffer64 = downsample64(luma)
    variants = _dcts(buffer64, dihedral)
    if _rounding_decides(buffer64, variants, luma_gain):
        buffer64 = downsample64_exact(luma)
        variants = _dcts(buffer64, dihedral, exact=True)
    quality = quality_of(buffer64 * np.float32(luma_gain) if luma_gain != 1.0 else buffer64)
    return [PdqHash(hex_from_dct(c), quality) for c in variants]


def _dcts(buffer64: FloatArray, dihedral: bool, *, exact: bool = False) -> tuple[FloatArray, ...]:
    """The DCT of ``buffer64`` (fast or exact), and its dihedral variants if asked."""
    coefficients = dct16_exact(buffer64) if exact else dct16(buffer64)
    return dihedral_dcts(coefficients) if dihedral else (coefficients,)


def _rounding_decides(
    buffer64: FloatArray, variants: tuple[FloatArray, ...], luma_gain: float
) -> bool:
    """Whether the fast path's roundings could give other bits or quality than the reference's.

    Flat graphics, stripes and checkerboards leave many DCT coefficients at
    exactly zero in exact arithmetic; both paths turn them into rounding
    noise, and the hash's bits then follow the noise's signs.  A hash is
    safe when the coefficients just above and below its median are further
    apart than both paths' noise together, or when only that one pair is
    that close (``CLOSE_TO_MEDIAN``); otherwise the exact path runs.
    """
    brightest = max(float(np.abs(buffer64).max()), 1.0)
    noise = 2 * COEFFICIENT_TOLERANCE * brightest
    for coefficients in variants:
        flat = coefficients.reshape(-1)
        middle = np.partition(flat, (127, 128))
        if middle[128] - middle[127] <= noise:
            centre = (middle[127] + middle[128]) / 2
            if np.count_nonzero(np.abs(flat - centre) <= noise) > CLOSE_TO_MEDIAN:
                return True
    return _quality_is_ambiguous(
        buffer64 * np.float32(luma_gain), SAMPLE_TOLERANCE * brightest * luma_gain
    )


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes of equal length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
