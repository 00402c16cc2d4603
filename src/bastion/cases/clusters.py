"""Near-duplicates of a case grouped into clusters.

A seized drive holds the same picture many times: copied, resized,
re-encoded.  An investigator looks at each picture once, so a case's items
are grouped, transitively, by

* SHA-256: the same file;
* PDQ within a radius (a bank's threshold): the same image, edited - but not
  low-quality PDQ hashes, which describe nearly flat images and would join
  every dark frame of the drive into one cluster;
* vPDQ: two videos are linked when either one matches the other by Meta's
  rule (:mod:`bastion.signals.vpdq`).

Items that errored or were skipped stay alone.  A case holds up to a million
items, so nothing compares all pairs: identical values are grouped by
sorting, PDQ neighbours are found with the multi-index
(:class:`~bastion.matching.pdq_mih.PdqMultiIndex`) over the case's own
distinct codes, and the links become clusters as the connected components
of a sparse graph.  :func:`brute_force_clusters` compares every pair and is
the reference the fast path is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from bastion.matching.pdq_mih import PdqMultiIndex, codes_from_hex
from bastion.scan.results import SCHEMA
from bastion.signals.types import InvalidSignal
from bastion.signals.vpdq import (
    COMPARED_MATCH_PERCENT,
    DISTANCE_THRESHOLD,
    QUERY_MATCH_PERCENT,
    VideoSimilarity,
    match_percentages,
    matchable,
    parse_vpdq,
)

#: The columns of results.parquet clustering reads; no other is loaded.
COLUMNS = ("status", "sha256", "pdq", "low_quality", "vpdq")
_COLUMNS_SCHEMA = pa.schema([SCHEMA.field(name) for name in COLUMNS])
#: Rows read from Parquet at a time.
BATCH_ROWS = 65_536
#: Queries per multi-index batch: bounds the per-query results held at once.
SEARCH_BATCH = 16_384
#: A SHA-256 and a PDQ hash are both 256 bits.
HASH_BYTES = 32

Edges = tuple[NDArray[np.int64], NDArray[np.int64]]


@dataclass(frozen=True, slots=True)
class ClusterInput:
    """One row per item, in case order (row number = the item's number in the case)."""

    #: (N, 32); rows without a SHA-256 are all zero and masked out.
    sha256: NDArray[np.uint8]
    has_sha256: NDArray[np.bool_]
    #: (N, 4) as bastion.matching.pdq_mih.codes_from_hex gives.
    pdq: NDArray[np.uint64]
    #: Has a PDQ and it is not low quality.
    pdq_linkable: NDArray[np.bool_]
    #: Row -> vPDQ signal value text (only rows that are videos with a vPDQ).
    videos: dict[int, str]

    @property
    def size(self) -> int:
        return len(self.has_sha256)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> ClusterInput:
        """From result rows (dicts with sha256/pdq/low_quality/vpdq/status), for small cases."""
        batch = pa.RecordBatch.from_pylist(
            [{name: row.get(name) for name in COLUMNS} for row in rows], schema=_COLUMNS_SCHEMA
        )
        return cls._from_batches([batch])

    @classmethod
    def from_parquet(cls, paths: Sequence[Path]) -> ClusterInput:
        """From scan results, streamed in batches of the needed columns only, file by file."""

        def batches() -> Iterator[pa.RecordBatch]:
            for path in paths:
                yield from pq.ParquetFile(path).iter_batches(
                    batch_size=BATCH_ROWS, columns=list(COLUMNS)
                )

        return cls._from_batches(batches())

    @classmethod
    def _from_batches(cls, batches: Iterable[pa.RecordBatch]) -> ClusterInput:
        # Each list starts with no rows, so that a case of no batches concatenates too.
        sha256: list[NDArray[np.uint8]] = [np.zeros((0, HASH_BYTES), dtype=np.uint8)]
        has_sha256: list[NDArray[np.bool_]] = [np.zeros(0, dtype=np.bool_)]
        pdq: list[NDArray[np.uint64]] = [np.zeros((0, 4), dtype=np.uint64)]
        pdq_linkable: list[NDArray[np.bool_]] = [np.zeros(0, dtype=np.bool_)]
        videos: dict[int, str] = {}
        first_row = 0
        for batch in batches:
            hashed = _as_bools(pc.equal(batch.column("status"), "hashed"))
            digests, has_digest = _hex_column(batch, "sha256", first_row)
            codes, has_code = _hex_column(batch, "pdq", first_row)
            low_quality = _as_bools(batch.column("low_quality"))
            has_digest &= hashed
            digests[~has_digest] = 0
            sha256.append(digests)
            has_sha256.append(has_digest)
            pdq.append(codes.view(">u8").astype(np.uint64))
            pdq_linkable.append(has_code & hashed & ~low_quality)
            vpdq = batch.column("vpdq")
            with_video = np.flatnonzero(_as_bools(pc.utf8_length(vpdq)) & hashed)
            for row, text in zip(with_video, vpdq.take(with_video).to_pylist(), strict=True):
                videos[first_row + int(row)] = text
            first_row += batch.num_rows
        return cls(
            sha256=np.concatenate(sha256),
            has_sha256=np.concatenate(has_sha256),
            pdq=np.concatenate(pdq),
            pdq_linkable=np.concatenate(pdq_linkable),
            videos=videos,
        )


def _as_bools(column: pa.Array) -> NDArray[np.bool_]:
    """True where a column is true or a non-zero number; null counts as false."""
    values: NDArray[np.bool_] = (
        pc.fill_null(pc.cast(column, pa.bool_()), False).to_numpy(zero_copy_only=False).copy()
    )
    return values


_NIBBLES = np.full(256, 255, dtype=np.uint8)
for _digit, _char in enumerate("0123456789abcdef"):
    _NIBBLES[ord(_char)] = _NIBBLES[ord(_char.upper())] = _digit


def _hex_column(
    batch: pa.RecordBatch, name: str, first_row: int
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """(N, 32) bytes of a column of 256-bit hashes in hex, and which rows have one.

    Null and empty strings are absent (all-zero bytes); anything else must be
    64 hex digits - a results file that says otherwise is not clustered on a
    guess.
    """
    column = batch.column(name)
    digits = 2 * HASH_BYTES
    present = _as_bools(pc.utf8_length(column))
    filled = pc.if_else(present, column, pa.scalar("0" * digits))
    lengths = pc.utf8_length(filled).to_numpy(zero_copy_only=False)
    nibbles = np.full((len(filled), digits), 255, dtype=np.uint8)
    right_length = lengths == digits
    if right_length.any():
        fixed = filled.filter(pa.array(right_length)).cast(pa.binary(digits))
        raw = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)
        chars = raw[fixed.offset * digits : (fixed.offset + len(fixed)) * digits]
        nibbles[right_length] = _NIBBLES[chars.reshape(-1, digits)]
    wrong = np.flatnonzero((nibbles == 255).any(axis=1))
    if len(wrong):
        value = str(column[int(wrong[0])])[:80]
        raise InvalidSignal(
            f"item {first_row + int(wrong[0])}: {name} {value!r} is not {digits} hex digits"
        )
    values = nibbles[:, 0::2] * np.uint8(16) | nibbles[:, 1::2]
    return values, present


def cluster(
    data: ClusterInput,
    *,
    pdq_radius: int,
    query_percent: float = QUERY_MATCH_PERCENT,
    compared_percent: float = COMPARED_MATCH_PERCENT,
    workers: int | None = None,
) -> NDArray[np.int64]:
    """Label per row: the smallest row number in the row's cluster.

    So labels are canonical: two clusterings are the same when their labels
    are equal.  ``workers`` threads search the multi-index; the default is
    its own choice, one thread below 2 M codes: at 1 M items two threads
    took 203 s against 163 s for one (bench/cases.py), as the searches of a
    case-sized index hold the GIL more than they wait on memory.
    """
    same_file, _ = _duplicates(np.flatnonzero(data.has_sha256), data.sha256.view(np.uint64))
    same_code, distinct = _duplicates(np.flatnonzero(data.pdq_linkable), data.pdq)
    edges = [
        same_file,
        same_code,
        _pdq_edges(data.pdq, distinct, pdq_radius, workers),
        _video_edges(data.videos, query_percent, compared_percent, workers),
    ]
    return _labels(data.size, edges)


def _duplicates(
    rows: NDArray[np.intp], words: NDArray[np.uint64]
) -> tuple[Edges, NDArray[np.intp]]:
    """Rows holding the same words: an edge from each to the first of them, and the firsts."""
    representative = _first_of_equal(words[rows])
    repeated = representative != np.arange(len(rows))
    edges = rows[repeated].astype(np.int64), rows[representative[repeated]].astype(np.int64)
    return edges, rows[~repeated]


def _first_of_equal(words: NDArray[np.uint64]) -> NDArray[np.intp]:
    """For each row of ``words``, the smallest row holding the same words (found by sorting)."""
    if not len(words):
        return np.zeros(0, dtype=np.intp)
    order = np.lexsort(words.T[::-1])  # stable: equal words keep their row order
    ordered = words[order]
    starts = np.ones(len(order), dtype=np.bool_)
    starts[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    representative = np.empty(len(order), dtype=np.intp)
    representative[order] = order[starts][np.cumsum(starts) - 1]
    return representative


def _pdq_edges(
    pdq: NDArray[np.uint64], distinct: NDArray[np.intp], radius: int, workers: int | None
) -> Edges:
    """Pairs of the ``distinct`` rows (one per linkable code) within ``radius``, once each."""
    left, right = _pairs_within(np.ascontiguousarray(pdq[distinct]), radius, workers)
    return distinct[left].astype(np.int64), distinct[right].astype(np.int64)


def _pairs_within(
    codes: NDArray[np.uint64], radius: int, workers: int | None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(i, j) with i < j of every pair of ``codes`` within ``radius``, by the multi-index."""
    index = PdqMultiIndex.build(codes)
    left: list[NDArray[np.intp]] = []
    right: list[NDArray[np.intp]] = []
    for start in range(0, len(codes), SEARCH_BATCH):
        rows, _, queries = index.search_batch(
            codes[start : start + SEARCH_BATCH], radius, workers=workers
        )
        queries += start
        later = rows > queries  # each pair once, and not a code with itself
        left.append(queries[later])
        right.append(rows[later])
    if not left:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    return np.concatenate(left), np.concatenate(right)


def _video_edges(
    videos: dict[int, str], query_percent: float, compared_percent: float, workers: int | None
) -> Edges:
    """Pairs of videos of which either matches the other by Meta's vPDQ rule.

    Every matchable frame of every video goes into one multi-index; a frame
    found near frames of another video counts once for that video, so per
    pair of videos the count is how many of the first one's frames are in
    the second - the numerator of :func:`~bastion.signals.vpdq.match_percentages`.
    """
    rows = np.array(sorted(videos), dtype=np.int64)
    frames = [
        codes_from_hex([f.hex for f in matchable(parse_vpdq(videos[int(row)]))]) for row in rows
    ]
    counts = np.array([len(f) for f in frames], dtype=np.int64)
    if not counts.sum():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), counts)
    frame, other = _pairs_within(np.concatenate(frames), DISTANCE_THRESHOLD, workers)
    # Both directions of every frame pair between two different videos.
    between = owner[frame] != owner[other]
    frame, other = frame[between], other[between]
    videos_n = len(rows)
    frame_in_video = np.unique(
        np.concatenate([frame * videos_n + owner[other], other * videos_n + owner[frame]])
    )
    found_frame = frame_in_video // videos_n
    pairs, found = np.unique(
        owner[found_frame] * videos_n + frame_in_video % videos_n, return_counts=True
    )
    query, compared = np.divmod(pairs, videos_n)
    # A frame of one video near a frame of the other is near in both directions.
    found_back = found[np.searchsorted(pairs, compared * videos_n + query)]
    query_share = 100.0 * found / counts[query]
    compared_share = 100.0 * found_back / counts[compared]
    linked = np.array(
        [
            VideoSimilarity(float(q), float(c)).matches(query_percent, compared_percent)
            for q, c in zip(query_share, compared_share, strict=True)
        ],
        dtype=np.bool_,
    )
    return rows[query[linked]], rows[compared[linked]]


def _labels(size: int, edges: Sequence[Edges]) -> NDArray[np.int64]:
    """Connected components of the rows under ``edges``, each named by its smallest row."""
    left = np.concatenate([pair[0] for pair in edges])
    right = np.concatenate([pair[1] for pair in edges])
    graph = coo_array(
        (np.ones(len(left), dtype=np.int8), (left, right)), shape=(size, size)
    ).tocsr()
    _, component = connected_components(graph, directed=False)
    _, first, inverse = np.unique(component, return_index=True, return_inverse=True)
    labels: NDArray[np.int64] = first[inverse].astype(np.int64)
    return labels


def brute_force_clusters(
    data: ClusterInput,
    *,
    pdq_radius: int,
    query_percent: float = QUERY_MATCH_PERCENT,
    compared_percent: float = COMPARED_MATCH_PERCENT,
) -> NDArray[np.int64]:
    """The reference: every pair compared, plain union-find.  Same labels as :func:`cluster`.

    PDQ by popcount on all 256 bits, videos by
    :func:`~bastion.signals.vpdq.match_percentages` both ways, SHA-256 by
    equality.  Quadratic: for tests and benchmarks only.
    """
    parent = list(range(data.size))

    def find(row: int) -> int:
        while parent[row] != row:
            parent[row] = parent[parent[row]]
            row = parent[row]
        return row

    def union(a: int, b: int) -> None:
        root_a, root_b = find(a), find(b)
        parent[max(root_a, root_b)] = min(root_a, root_b)  # the root is the smallest row

    first_with: dict[bytes, int] = {}
    for row in np.flatnonzero(data.has_sha256).tolist():
        union(row, first_with.setdefault(data.sha256[row].tobytes(), row))
    linkable = np.flatnonzero(data.pdq_linkable)
    codes = data.pdq[linkable]
    for number, row in enumerate(linkable.tolist()):
        later = codes[number + 1 :]
        distances = np.zeros(len(later), dtype=np.uint16)  # 256 does not fit a popcount's uint8
        for word in range(4):
            distances += np.bitwise_count(later[:, word] ^ codes[number, word])
        for other in linkable[number + 1 :][distances <= pdq_radius].tolist():
            union(row, other)
    features = {row: parse_vpdq(text) for row, text in data.videos.items()}
    for a, b in combinations(sorted(features), 2):
        forward = match_percentages(features[a], features[b])
        backward = match_percentages(features[b], features[a])
        if forward.matches(query_percent, compared_percent) or backward.matches(
            query_percent, compared_percent
        ):
            union(a, b)
    return np.array([find(row) for row in range(data.size)], dtype=np.int64)
