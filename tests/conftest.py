"""Shared fixtures: reference data from ../shared and benign generated images."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TESTDATA = SHARED / "testdata"
CORPUS_CACHE = ROOT / "bench" / ".cache" / "photos"


@pytest.fixture(scope="session")
def testdata() -> Path:
    if not TESTDATA.is_dir():
        pytest.fail(f"reference data missing: expected {TESTDATA} (../shared beside the clone)")
    return TESTDATA


@pytest.fixture(scope="session")
def photo_corpus() -> list[Path]:
    """The freely licensed photo corpus, built once (shared with bench/)."""
    if not any(CORPUS_CACHE.glob("*.*")):
        CORPUS_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(SHARED / "scripts" / "photo-corpus"), str(CORPUS_CACHE)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    photos = sorted(p for p in CORPUS_CACHE.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    assert len(photos) >= 40, f"photo corpus in {CORPUS_CACHE} looks incomplete"
    return photos
