"""Clusters of a case: the fast path groups exactly as comparing every pair does."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.cases import clusters
from bastion.cases.clusters import ClusterInput, brute_force_clusters, cluster
from bastion.matching import pdq_mih
from bastion.matching.pdq_mih import codes_from_hex
from bastion.scan.results import SCHEMA
from bastion.signals.types import InvalidSignal
from bastion.signals.vpdq import VpdqFeature, to_signal_value

Row = dict[str, Any]


@pytest.fixture(params=["tables", "brute-force"])
def index_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Search small sets with the multi-index's bucket tables, or with its small-set scan."""
    monkeypatch.setattr(pdq_mih, "BRUTE_FORCE_BELOW", 0 if request.param == "tables" else 10**9)
    return str(request.param)


def _hex(code: int) -> str:
    return f"{code:064x}"


def _flip(code: int, bits: Iterable[int]) -> int:
    for bit in bits:
        code ^= 1 << bit
    return code


def _image(number: int, code: int | None, **fields: Any) -> Row:
    """A hashed image row; its SHA-256 is unique to ``number`` unless given."""
    row: Row = {
        "status": "hashed",
        "sha256": _hex(number + 1),
        "pdq": None if code is None else _hex(code),
        "low_quality": False,
        "vpdq": None,
    }
    return {**row, **fields}


def _video(number: int, frames: list[tuple[int, int]]) -> Row:
    """A hashed video row from (PDQ code, quality) frames, one a second."""
    features = [
        VpdqFeature(n, quality, _hex(code), float(n)) for n, (code, quality) in enumerate(frames)
    ]
    return {**_image(number, None), "vpdq": to_signal_value(features)}


def _labels_agree(rows: list[Row], radius: int, **rule: float) -> np.ndarray:
    data = ClusterInput.from_rows(rows)
    labels = cluster(data, pdq_radius=radius, **rule)
    np.testing.assert_array_equal(labels, brute_force_clusters(data, pdq_radius=radius, **rule))
    return labels


# --- random cases with planted structure ---------------------------------------------

KINDS = ["new", "near", "near", "near", "copy", "same-pdq", "no-pdq", "video"]
STATUSES = ["hashed"] * 8 + ["error", "skipped"]


@st.composite
def cases(draw: st.DrawFn) -> list[Row]:
    """Rows where each item is new, a few bits from an earlier one (so chains link
    only transitively), the same file again, the same PDQ in another file, a file
    without PDQ, or a video of frames from a small pool; some are low quality or
    errors that still carry the hashes of others."""
    pool = draw(st.lists(st.integers(0, 2**256 - 1), min_size=1, max_size=4))
    codes: list[int] = []
    rows: list[Row] = []
    for number in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(KINDS)) if number else "new"
        parent = draw(st.integers(0, number - 1)) if number else 0
        flips = draw(st.sets(st.integers(0, 255), max_size=40))
        if kind == "new":
            code = draw(st.integers(0, 2**256 - 1))
        elif kind == "near":
            code = _flip(codes[parent], flips)
        else:
            code = codes[parent]
        codes.append(code)
        if kind == "video":
            frames = draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(pool),
                        st.sets(st.integers(0, 255), max_size=36),
                        st.sampled_from([10, 60, 100]),
                    ),
                    min_size=1,
                    max_size=8,
                )
            )
            row = _video(number, [(_flip(code, bits), quality) for code, bits, quality in frames])
        else:
            row = _image(number, None if kind == "no-pdq" else code)
            if kind == "copy":
                row["sha256"] = rows[parent]["sha256"]
            row["low_quality"] = draw(st.sampled_from([False, False, False, True]))
        row["status"] = draw(st.sampled_from(STATUSES))
        rows.append(row)
    return rows


# The fixture only selects a code path; sharing it between examples is intended.
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cases(),
    st.sampled_from([0, 6, 31, 45]),
    st.sampled_from([80.0, 50.0, 100.0]),
    st.sampled_from([0.0, 40.0]),
)
def test_cluster_equals_brute_force(
    index_path: str, rows: list[Row], radius: int, query: float, compared: float
) -> None:
    _labels_agree(rows, radius, query_percent=query, compared_percent=compared)


def test_cluster_equals_brute_force_through_the_multi_index() -> None:
    """Above BRUTE_FORCE_BELOW distinct codes the index probes its bucket tables."""
    rng = np.random.default_rng(5)
    seeds = rng.integers(0, 2**64, size=(9_000, 4), dtype=np.uint64)
    members = seeds[rng.integers(0, len(seeds), size=18_000)]
    bits = rng.random((len(members), 256)) < rng.integers(1, 41, size=(len(members), 1)) / 256
    variants = members ^ np.packbits(bits, axis=1).view(">u8").astype(np.uint64)
    codes = np.concatenate([seeds, variants])
    digests = rng.integers(0, 256, size=(len(codes), 32), dtype=np.uint8)
    copies = rng.integers(0, len(codes), size=(2_000, 2))
    digests[copies[:, 0]] = digests[copies[:, 1]]
    data = ClusterInput(
        sha256=digests,
        has_sha256=rng.random(len(codes)) < 0.98,
        pdq=codes,
        pdq_linkable=rng.random(len(codes)) < 0.97,
        videos={},
    )
    assert len(np.unique(codes[data.pdq_linkable], axis=0)) > pdq_mih.BRUTE_FORCE_BELOW
    labels = cluster(data, pdq_radius=31)
    np.testing.assert_array_equal(labels, brute_force_clusters(data, pdq_radius=31))
    assert len(np.unique(labels)) < len(codes) - 9_000  # near-duplicates did join


# --- the rules, one at a time -----------------------------------------------------------

A = 0x0123456789ABCDEF_FEDCBA9876543210_0F1E2D3C4B5A6978_8796A5B4C3D2E1F0


# Random frames: any two are about 128 bits apart.
_FRAME_CODES = random.Random(3)
FRAMES = [_FRAME_CODES.getrandbits(256) for _ in range(10)]
OTHER = [_FRAME_CODES.getrandbits(256) for _ in range(10)]


def _frames(codes: list[int], quality: int = 100) -> list[tuple[int, int]]:
    return [(code, quality) for code in codes]


def test_links_are_transitive(index_path: str) -> None:
    """a-b and b-c within the radius make one cluster though a-c is not."""
    b = _flip(A, range(20))
    c = _flip(b, range(100, 120))
    rows = [_image(0, A), _image(1, c), _image(2, b), _image(3, _flip(A, range(256)))]
    assert _labels_agree(rows, 31).tolist() == [0, 0, 0, 3]
    assert _labels_agree(rows, 19).tolist() == [0, 1, 2, 3]


def test_low_quality_rows_join_only_by_sha256(index_path: str) -> None:
    rows = [
        _image(0, A, low_quality=True),
        _image(1, A, low_quality=True),
        _image(2, A),
        _image(3, A, low_quality=True, sha256=_hex(1)),
    ]
    assert _labels_agree(rows, 31).tolist() == [0, 1, 2, 0]


def test_errors_and_skips_stay_alone(index_path: str) -> None:
    rows = [
        _image(0, A),
        _image(1, A, status="error", sha256=_hex(1)),
        _image(2, A, status="skipped"),
        _image(3, None, sha256=None),
        _image(4, None, sha256=_hex(1)),
        {**_video(5, _frames(FRAMES)), "status": "error"},
        _video(6, _frames(FRAMES)),
    ]
    assert _labels_agree(rows, 31).tolist() == [0, 1, 2, 3, 0, 5, 6]


@pytest.mark.parametrize(
    ("other", "linked"),
    [
        # 8 of 10 frames in common: 80% each way.
        pytest.param(_frames(FRAMES[:8] + OTHER[:2]), True, id="80-percent"),
        # 7 of 10: 70% each way.
        pytest.param(_frames(FRAMES[:7] + OTHER[:3]), False, id="70-percent"),
        # All 4 frames of a short clip are in the long video: 100% one way, 40% back.
        pytest.param(_frames(FRAMES[:4]), True, id="clip-inside"),
        # Re-encoded: every frame 12 bits off still matches within 31 bits.
        pytest.param(_frames([_flip(f, range(40, 52)) for f in FRAMES]), True, id="re-encoded"),
        # 30 frames of quality 10 are not compared: 10 of 10 comparable frames match.
        pytest.param(
            _frames(FRAMES) + _frames(OTHER * 3, quality=10), True, id="low-quality-frames"
        ),
        # One frame repeated counts once: 1 of 2 distinct frames (50%), 1 of 10 back.
        pytest.param(_frames([FRAMES[0]] * 9 + OTHER[:1]), False, id="repeated-frame"),
        # Each of 4 frames is near 2 frames of the other video: 4 of 10 found (40%),
        # 8 of 18 back (44%).
        pytest.param(
            _frames([_flip(f, [bit]) for f in FRAMES[:4] for bit in (1, 2)] + OTHER),
            False,
            id="frame-near-several",
        ),
        pytest.param(_frames(OTHER), False, id="unrelated"),
    ],
)
def test_videos_link_by_metas_rule(
    index_path: str, other: list[tuple[int, int]], linked: bool
) -> None:
    rows = [_image(0, A), _video(1, _frames(FRAMES)), _video(2, other)]
    assert _labels_agree(rows, 31).tolist() == [0, 1, 1 if linked else 2]


def test_video_rule_thresholds_are_the_callers(index_path: str) -> None:
    rows = [_video(0, _frames(FRAMES)), _video(1, _frames(FRAMES[:7] + OTHER[:3]))]
    assert _labels_agree(rows, 31, query_percent=70.0).tolist() == [0, 0]
    assert _labels_agree(rows, 31, query_percent=70.0, compared_percent=71.0).tolist() == [0, 1]


# --- reading the rows -------------------------------------------------------------------


def _mixed_rows() -> list[Row]:
    return [
        _image(0, A),
        _image(1, _flip(A, range(10)), sha256=_hex(1).upper()),
        _video(2, _frames(FRAMES[:3])),
        _image(3, A, status="error"),
        {"status": "skipped"},
        _image(5, A, low_quality=True, sha256=""),
        _image(6, None),
    ]


def test_from_rows_decodes_hashes_and_masks() -> None:
    rows = _mixed_rows()
    data = ClusterInput.from_rows(rows)
    assert data.size == 7
    assert data.has_sha256.tolist() == [True, True, True, False, False, False, True]
    assert data.pdq_linkable.tolist() == [True, True, False, False, False, False, False]
    for number in (0, 1, 2, 6):
        assert data.sha256[number].tobytes() == bytes.fromhex(rows[number]["sha256"])
    assert not data.sha256[[3, 4, 5]].any()
    np.testing.assert_array_equal(
        data.pdq[[0, 1]], codes_from_hex([_hex(A), _hex(_flip(A, range(10)))])
    )
    assert data.videos == {2: rows[2]["vpdq"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("pdq", "zz" * 32), ("pdq", "ab" * 31), ("sha256", "0" * 63 + "g"), ("sha256", "ab")],
)
def test_a_hash_that_is_not_hex_is_refused(field: str, value: str) -> None:
    rows = [_image(0, A), _image(1, A, **{field: value})]
    with pytest.raises(InvalidSignal, match=f"item 1: {field} {value!r} is not 64 hex digits"):
        ClusterInput.from_rows(rows)


def test_from_parquet_equals_from_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several files, each read in several batches, give the rows in case order."""
    monkeypatch.setattr(clusters, "BATCH_ROWS", 2)
    rows = _mixed_rows() * 3
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    pq.write_table(pa.Table.from_pylist(rows[:8], schema=SCHEMA), paths[0], row_group_size=3)
    pq.write_table(pa.Table.from_pylist(rows[8:], schema=SCHEMA), paths[1], row_group_size=5)
    read = ClusterInput.from_parquet(paths)
    expected = ClusterInput.from_rows(rows)
    for name in ("sha256", "has_sha256", "pdq", "pdq_linkable"):
        np.testing.assert_array_equal(getattr(read, name), getattr(expected, name), err_msg=name)
    assert read.videos == expected.videos
    assert sorted(read.videos) == [2, 9, 16]


def test_an_empty_case_has_no_clusters(tmp_path: Path) -> None:
    assert cluster(ClusterInput.from_rows([]), pdq_radius=31).tolist() == []
    assert ClusterInput.from_parquet([]).size == 0
