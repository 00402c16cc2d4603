"""The PDQ multi-index finds exactly what brute force finds, at every radius."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.matching import pdq_mih
from bastion.matching.pdq_mih import (
    CHUNKS,
    PdqMultiIndex,
    brute_force_search,
    chunk_radii,
    codes_from_hex,
)


@pytest.fixture(params=["tables", "brute-force"])
def build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Build with bucket tables even for small sets, or with the small-set brute force."""
    monkeypatch.setattr(pdq_mih, "BRUTE_FORCE_BELOW", 0 if request.param == "tables" else 10**9)
    return PdqMultiIndex.build


def _read_hashes(path) -> list[str]:  # type: ignore[no-untyped-def]
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def _pairs(index: PdqMultiIndex, queries: np.ndarray, radius: int) -> set[tuple[int, int, int]]:
    rows, distances, owners = index.search_batch(queries, radius)
    found = list(zip(owners.tolist(), rows.tolist(), distances.tolist(), strict=True))
    assert len(found) == len(set(found)), "a row reported twice for one query"
    return set(found)


def _brute(codes: np.ndarray, queries: np.ndarray, radius: int) -> set[tuple[int, int, int]]:
    expected = set()
    for number, query in enumerate(queries):
        rows, distances = brute_force_search(codes, query[None, :], radius)
        expected |= {(number, r, d) for r, d in zip(rows.tolist(), distances.tolist(), strict=True)}
    return expected


def test_chunk_radii_satisfy_the_pigeonhole_bound() -> None:
    for radius in range(64):
        radii = chunk_radii(radius)
        assert len(radii) == CHUNKS
        assert sum(r + 1 for r in radii) == radius + 1


def test_needles_in_haystack_all_radii(testdata, build) -> None:  # type: ignore[no-untyped-def]
    folder = testdata / "pdq" / "reg-test-input"
    haystack = codes_from_hex(_read_hashes(folder / "haystack.txt"))
    needles = codes_from_hex(_read_hashes(folder / "needles.txt"))
    index = build(haystack)
    reference = faiss.IndexBinaryFlat(256)
    reference.add(np.ascontiguousarray(haystack.astype(">u8")).view(np.uint8))
    needle_bytes = np.ascontiguousarray(needles.astype(">u8")).view(np.uint8)
    for radius in range(64):
        got = _pairs(index, needles, radius)
        assert got == _brute(haystack, needles, radius), f"radius {radius}"
        # faiss counts distance < threshold, so radius + 1.
        limits, distances, labels = reference.range_search(needle_bytes, radius + 1)
        faiss_pairs = {
            (q, int(labels[i]), int(distances[i]))
            for q in range(len(needles))
            for i in range(limits[q], limits[q + 1])
        }
        assert got == faiss_pairs, f"radius {radius} differs from faiss"


@st.composite
def bank_and_queries(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    size = draw(st.integers(0, 300))
    codes = rng.integers(0, 2**64, size=(size, 4), dtype=np.uint64)
    queries = rng.integers(0, 2**64, size=(draw(st.integers(1, 20)), 4), dtype=np.uint64)
    if size:
        # Plant near neighbours: flip up to 45 random bits of bank hashes.
        for number in range(len(queries)):
            source = codes[rng.integers(0, size)].copy()
            for bit in rng.choice(256, size=rng.integers(0, 46), replace=False):
                source[bit // 64] ^= np.uint64(1) << np.uint64(63 - bit % 64)
            queries[number] = source
    return codes, queries, draw(st.integers(0, 63))


# The build fixture only selects a code path; sharing it between examples is intended.
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bank_and_queries())
def test_multi_index_equals_brute_force(
    build,  # type: ignore[no-untyped-def]
    case: tuple[np.ndarray, np.ndarray, int],
) -> None:
    codes, queries, radius = case
    assert _pairs(build(codes), queries, radius) == _brute(codes, queries, radius)


def test_saved_index_loads_memory_mapped(tmp_path, build) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 2**64, size=(500, 4), dtype=np.uint64)
    build(codes).save(tmp_path)
    loaded = PdqMultiIndex.load(tmp_path)
    assert isinstance(loaded.codes.base, np.memmap)
    queries = codes[:10] ^ np.uint64(7)
    assert _pairs(loaded, queries, 31) == _brute(codes, queries, 31)


def test_threaded_batch_equals_brute_force(build) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 2**64, size=(3000, 4), dtype=np.uint64)
    queries = codes[rng.integers(0, 3000, size=300)] ^ np.uint64(0xFFF)
    rows, distances, owners = build(codes).search_batch(queries, 31, workers=2)
    got = set(zip(owners.tolist(), rows.tolist(), distances.tolist(), strict=True))
    assert got == _brute(codes, queries, 31)
