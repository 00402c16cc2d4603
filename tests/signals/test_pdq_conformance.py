"""Conformance with Meta's reference hashes (../shared/testdata/pdq, see its README)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

from bastion import hash_bytes, hash_file
from bastion.signals.pdq import hamming
from tests.images import encode, pdqhash_hex


def expected_rows(testdata: Path, implementation: str) -> list[tuple[str, str]]:
    with open(testdata / "pdq" / "expected.csv", newline="") as f:
        return [
            (r["path"], r["pdq_hex"])
            for r in csv.DictReader(f)
            if r["implementation"] == implementation
        ]


def test_cpp_reference_within_10_bits_and_squares_identical(testdata: Path) -> None:
    rows = expected_rows(testdata, "cpp-reference")
    assert len(rows) == 15
    for rel, expected in rows:
        fp = hash_file(testdata / "pdq" / rel)
        assert fp.pdq is not None
        assert fp.pdq_quality is not None
        distance = hamming(fp.pdq, expected)
        if "square-" in rel:
            assert distance == 0, rel
        elif fp.pdq_quality >= 80:
            assert distance <= 10, (rel, distance)


def test_python_port_within_16_bits(testdata: Path) -> None:
    rows = expected_rows(testdata, "python-port")
    assert len(rows) == 11
    for rel, expected in rows:
        fp = hash_file(testdata / "pdq" / rel)
        assert fp.pdq is not None
        assert hamming(fp.pdq, expected) <= 16, rel


def test_dihedral_variants_find_all_eight_orientations(testdata: Path) -> None:
    folder = testdata / "pdq" / "reg-test-input" / "dih"
    original = hash_file(folder / "bridge-1-original.jpg", dihedral=True)
    assert len(original.pdq_dihedral) == 8
    files = sorted(folder.glob("bridge-*.jpg"))
    assert len(files) == 8
    for path in files:
        pdq = hash_file(path).pdq
        assert pdq is not None
        best = min(hamming(pdq, variant) for variant in original.pdq_dihedral)
        assert best <= 31, path.name


def test_exif_orientation_is_applied(testdata: Path) -> None:
    folder = testdata / "pdq" / "reg-test-input" / "exif-rotn"
    for orientation in (1, 3, 6, 8):
        path = folder / f"exif-rotn-{orientation}.jpg"
        with Image.open(path) as image:
            raw = image.convert("RGB")
            upright = ImageOps.exif_transpose(image).convert("RGB")
        of_file = hash_file(path).pdq
        of_upright = hash_bytes(encode(upright, "PNG")).pdq
        of_raw = hash_bytes(encode(raw, "PNG")).pdq
        assert of_file
        assert of_upright
        assert of_raw
        # Draft decoding of the 4032x3024 JPEG moves a few bits, no more.
        assert hamming(of_file, of_upright) <= 10, orientation
        if orientation != 1:
            assert hamming(of_file, of_raw) > 31, orientation


def test_every_colour_mode_hashes_near_the_original(testdata: Path) -> None:
    folder = testdata / "pdq" / "misc-images" / "modes"
    original = hash_file(folder / "original.jpg").pdq
    assert original is not None
    images = [p for p in sorted(folder.iterdir()) if p.suffix != ".md"]
    assert len(images) >= 14
    for path in images:
        fp = hash_file(path)
        assert fp.error is None, (path.name, fp.error)
        assert fp.pdq is not None
        assert hamming(fp.pdq, original) <= 31, path.name


def test_flat_image_is_flagged_low_quality(testdata: Path) -> None:
    fp = hash_file(testdata / "pdq" / "misc-images" / "small.jpg")
    assert fp.pdq_quality == 0
    assert fp.low_quality


def meta_reference(path: Path) -> tuple[str, int]:
    """Meta's C++ pipeline: full decode, corner-aligned nearest 512x512, then PDQ."""
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    if h > 512 or w > 512:
        rows = (np.arange(512) * h / 512).astype(int)
        cols = (np.arange(512) * w / 512).astype(int)
        rgb = np.ascontiguousarray(rgb[rows][:, cols])
    bits, quality = pdqhash.compute(rgb)
    return pdqhash_hex(bits), int(quality)


def test_photo_corpus_matches_the_reference_pipeline(photo_corpus: list[Path]) -> None:
    checked = 0
    for path in photo_corpus:
        expected, quality = meta_reference(path)
        fp = hash_file(path)
        assert fp.pdq is not None, path.name
        assert fp.pdq_quality == pytest.approx(quality, abs=2)
        if quality >= 80:
            assert hamming(fp.pdq, expected) <= 10, path.name
            checked += 1
    assert checked >= 30
