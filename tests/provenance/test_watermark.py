"""The dwtDct decoder against files the reference package embedded."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
import pywt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from bastion.provenance.watermark import (
    SDXL,
    block_votes,
    haar_merge,
    haar_split,
    read_bits,
    read_watermarks,
)
from tests.conftest import SHARED

WATERMARKS = SHARED / "testdata" / "watermark"
ROWS = list(csv.DictReader((WATERMARKS / "expected.csv").open()))


def _votes(image: Image.Image) -> np.ndarray:
    return block_votes(np.asarray(image.convert("RGB")))


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_reads_what_the_reference_decoder_reads(row: dict[str, str]) -> None:
    votes = _votes(Image.open(WATERMARKS / row["file"]))
    agreement = float((read_bits(votes, 48) == SDXL.bits).mean())
    assert abs(agreement - float(row["reference_sdxl_bit_agreement"])) <= 1 / 48 + 1e-9
    sd1 = np.packbits(read_bits(votes, 136).astype(np.uint8)).tobytes()
    expected = bytes.fromhex(row["reference_sd1_decoded_hex"])
    differing = int(
        np.unpackbits(
            np.frombuffer(bytes(a ^ b for a, b in zip(sd1, expected, strict=True)), np.uint8)
        ).sum()
    )
    assert differing <= 2


@pytest.mark.parametrize("row", ROWS, ids=[r["file"] for r in ROWS])
def test_reports_exactly_the_embedded_scheme(row: dict[str, str]) -> None:
    found = read_watermarks(Image.open(WATERMARKS / row["file"]))
    expected = [] if row["embedded"] == "none" else [row["embedded"]]
    assert [e.detail["scheme"] for e in found] == expected


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return Image.open(out)


def test_survives_a_lossless_resave_and_a_quality_100_jpeg() -> None:
    marked = [r for r in ROWS if r["embedded"] != "none"]
    detected = sum(
        bool(read_watermarks(_jpeg(Image.open(WATERMARKS / r["file"]), 100))) for r in marked
    )
    assert detected == len(marked)


def _variants(path: Path) -> list[Image.Image]:
    image = Image.open(path)
    image.load()
    variants = [image]
    for side in (512, 768):
        smaller = image.copy()
        smaller.thumbnail((side, side))
        variants += [smaller, _jpeg(smaller, 90)]
    return variants


def test_no_false_positives_on_the_photo_corpus(photo_corpus: list[Path]) -> None:
    false = [
        (path.name, e.summary)
        for path in photo_corpus
        for variant in _variants(path)
        for e in read_watermarks(variant)
    ]
    assert false == []


def test_images_too_small_to_carry_a_mark_are_skipped() -> None:
    assert read_watermarks(Image.new("RGB", (200, 600))) == []


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 12)).map(lambda s: (2 * s[0], 2 * s[1])),
        elements=st.floats(-600, 600, allow_nan=False),
    )
)
def test_the_haar_transforms_are_pywavelets_bit_for_bit(plane: np.ndarray) -> None:
    low, high = haar_split(plane, axis=0)
    approximation, low_high = haar_split(low, axis=1)
    high_low, high_high = haar_split(high, axis=1)
    reference, (horizontal, vertical, diagonal) = pywt.dwt2(plane, "haar")
    for ours, theirs in [
        (approximation, reference),
        (high_low, horizontal),
        (low_high, vertical),
        (high_high, diagonal),
    ]:
        assert np.array_equal(ours, theirs)
    rebuilt = haar_merge(
        haar_merge(approximation, low_high, 1), haar_merge(high_low, high_high, 1), 0
    )
    assert np.array_equal(
        rebuilt, pywt.idwt2((reference, (horizontal, vertical, diagonal)), "haar")
    )
