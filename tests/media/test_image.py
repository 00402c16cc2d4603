"""The PDQ sampling path: orientation, reference resampling, limits."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bastion.media.errors import TooManyPixels, TruncatedImage
from bastion.media.image import PDQ_SIDE, _sample, decode_for_pdq
from tests.images import encode, photo_like

# What ImageOps.exif_transpose does for each EXIF orientation: the reference.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def reference_sample(image: Image.Image, orientation: int) -> np.ndarray:
    """Transpose upright, then the reference's corner-aligned nearest resize."""
    upright = image.transpose(TRANSPOSE[orientation]) if orientation != 1 else image
    pixels = np.asarray(upright)
    h, w = pixels.shape[:2]
    if h > PDQ_SIDE or w > PDQ_SIDE:
        rows = (np.arange(PDQ_SIDE) * h / PDQ_SIDE).astype(int)
        cols = (np.arange(PDQ_SIDE) * w / PDQ_SIDE).astype(int)
        pixels = pixels[rows][:, cols]
    return pixels


@settings(max_examples=80, deadline=None)
@given(
    width=st.integers(1, 1500),
    height=st.integers(1, 1500),
    orientation=st.integers(1, 8),
    seed=st.integers(0, 1000),
)
def test_sampling_equals_transpose_then_reference_resize(
    width: int, height: int, orientation: int, seed: int
) -> None:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    image = Image.fromarray(noise, "L")
    got = np.asarray(_sample(image, orientation, image.size))
    assert np.array_equal(got, reference_sample(image, orientation))


def test_large_jpeg_is_decoded_at_reduced_scale_upright() -> None:
    image = photo_like(3000, 2200, seed=5)
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = decode_for_pdq(
        io.BytesIO(encode(image, "JPEG", quality=90, exif=exif)), max_pixels=10**9
    )
    assert (decoded.width, decoded.height) == (2200, 3000)
    assert decoded.luma.shape == (PDQ_SIDE, PDQ_SIDE)
    assert decoded.format == "JPEG"


def test_pixel_limit_is_checked_before_decoding() -> None:
    data = encode(photo_like(600, 500), "PNG")
    with pytest.raises(TooManyPixels, match="BASTION_MAX_PIXELS"):
        decode_for_pdq(io.BytesIO(data), max_pixels=600 * 500 - 1)


def test_truncated_jpeg_is_reported_as_truncated() -> None:
    data = encode(photo_like(800, 600), "JPEG", quality=90)
    with pytest.raises(TruncatedImage):
        decode_for_pdq(io.BytesIO(data[: len(data) // 2]), max_pixels=10**9)
