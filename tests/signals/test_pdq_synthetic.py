"""PDQ of synthetic images (flat graphics, stripes, checkerboards) against pdqhash.

Such images leave many DCT coefficients at exactly zero in exact arithmetic;
any float32 implementation turns them into rounding noise whose signs set
those bits.  Bastion must then reproduce the reference's roundings, so these
tests demand identical hashes and quality, not "within a few bits".
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.signals.pdq import (
    dct16_exact,
    downsample64_exact,
    luma_from_rgb,
    pdq_from_luma,
)
from tests.images import pdqhash_hex

Pixels = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

colours = st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
sides = st.integers(64, 600)


def assert_same_as_pdqhash(rgb: Pixels) -> None:
    rgb = np.ascontiguousarray(rgb)
    ours = pdq_from_luma(luma_from_rgb(rgb))[0]
    bits, quality = pdqhash.compute(rgb)
    assert (ours.hex, ours.quality) == (pdqhash_hex(bits), int(quality))


def two_colour(mask: npt.NDArray[np.bool_], off: Colour, on: Colour) -> Pixels:
    rgb = np.empty((*mask.shape, 3), np.uint8)
    rgb[~mask] = off
    rgb[mask] = on
    return rgb


def checkerboard(height: int, width: int, cell: int, off: Colour, on: Colour) -> Pixels:
    rows, cols = np.indices((height, width))
    return two_colour((rows // cell + cols // cell) % 2 == 1, off, on)


BLACK, WHITE = (0, 0, 0), (255, 255, 255)


@pytest.mark.parametrize("cell", [1, 2, 3, 4, 5, 8, 16, 32, 64])
def test_black_and_white_checkerboards_of_128_pixels(cell: int) -> None:
    # HMA's fixtures: Bastion's fast path hashed these 70-96 bits away.
    assert_same_as_pdqhash(checkerboard(128, 128, cell, BLACK, WHITE))


@pytest.mark.parametrize(
    ("height", "width", "cell"),
    [(64, 64, 8), (100, 100, 10), (200, 300, 10), (513, 700, 9), (720, 1280, 40), (1000, 1000, 50)],
)
def test_checkerboards_of_other_sizes(height: int, width: int, cell: int) -> None:
    assert_same_as_pdqhash(checkerboard(height, width, cell, BLACK, WHITE))


@settings(max_examples=25, deadline=None)
@given(height=sides, width=sides, cell=st.integers(1, 80), off=colours, on=colours)
def test_coloured_checkerboards(
    height: int, width: int, cell: int, off: Colour, on: Colour
) -> None:
    assert_same_as_pdqhash(checkerboard(height, width, cell, off, on))


@settings(max_examples=25, deadline=None)
@given(
    height=sides,
    width=sides,
    period=st.integers(1, 100),
    vertical=st.booleans(),
    off=colours,
    on=colours,
)
def test_stripes(
    height: int, width: int, period: int, vertical: bool, off: Colour, on: Colour
) -> None:
    rows, cols = np.indices((height, width))
    mask = ((cols if vertical else rows) // period) % 2 == 1
    assert_same_as_pdqhash(two_colour(mask, off, on))


@pytest.mark.parametrize("grey", [0, 1, 17, 127, 128, 200, 254, 255])
def test_flat_grey_levels(grey: int) -> None:
    assert_same_as_pdqhash(np.full((128, 128, 3), grey, np.uint8))


@settings(max_examples=25, deadline=None)
@given(height=sides, width=sides, colour=colours)
def test_flat_colours(height: int, width: int, colour: Colour) -> None:
    assert_same_as_pdqhash(np.full((height, width, 3), colour, np.uint8))


@settings(max_examples=25, deadline=None)
@given(
    height=sides,
    width=sides,
    split=st.floats(0.05, 0.95),
    direction=st.sampled_from(["vertical", "horizontal", "diagonal"]),
    off=colours,
    on=colours,
)
def test_two_tone_images(
    height: int, width: int, split: float, direction: str, off: Colour, on: Colour
) -> None:
    rows, cols = np.indices((height, width))
    if direction == "vertical":
        mask = cols < split * width
    elif direction == "horizontal":
        mask = rows < split * height
    else:
        mask = rows * width + cols * height < 2 * split * height * width
    assert_same_as_pdqhash(two_colour(mask, off, on))


def test_checkerboard_dihedral_variants_match_pdqhash() -> None:
    rgb = checkerboard(128, 128, 8, BLACK, WHITE)
    ours = [h.hex for h in pdq_from_luma(luma_from_rgb(rgb), dihedral=True)]
    hashes, _ = pdqhash.compute_dihedral(rgb)
    assert ours == [pdqhash_hex(bits) for bits in hashes]


def assert_exact_path_reproduces_pdqhash(rgb: Pixels) -> None:
    coefficients, _ = pdqhash.compute_float(rgb)
    expected = np.asarray(coefficients, np.float32)[::-1].reshape(16, 16)
    ours = dct16_exact(downsample64_exact(luma_from_rgb(rgb)))
    np.testing.assert_array_equal(ours, expected)


@settings(max_examples=15, deadline=None)
@given(height=st.integers(5, 400), width=st.integers(5, 400), seed=st.integers(0, 2**32 - 1))
def test_exact_path_reproduces_pdqhash_coefficients(height: int, width: int, seed: int) -> None:
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert_exact_path_reproduces_pdqhash(rgb)


@pytest.mark.parametrize("cell", [4, 8, 16])
def test_exact_path_keeps_the_zero_coefficients_of_checkerboards(cell: int) -> None:
    rgb = checkerboard(128, 128, cell, BLACK, WHITE)
    coefficients, _ = pdqhash.compute_float(rgb)
    assert 0.0 in coefficients
    assert_exact_path_reproduces_pdqhash(rgb)


def test_luma_is_pdqhash_luma_for_every_colour() -> None:
    # pdqhash rounds a float64 luma to float32; any other rounding of a
    # single pixel makes the exact path's noise differ.
    levels = np.arange(256, dtype=np.uint8)
    for red in range(256):
        rgb = np.stack(np.meshgrid(np.uint8(red), levels, levels, indexing="ij"), -1)[0]
        expected = (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(
            np.float32
        )
        np.testing.assert_array_equal(luma_from_rgb(rgb), expected)
