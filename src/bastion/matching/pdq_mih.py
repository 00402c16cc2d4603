"""Exact PDQ radius search by multi-index hashing.

A 256-bit PDQ hash is cut into 12 chunks of 21 bits.  If two hashes are
within distance R, then for chunk radii r_c with sum(r_c + 1) = R + 1 at
least one chunk differs by at most r_c bits (otherwise the distance would be
at least R + 1).  So probing, in each chunk's table, every key within r_c
of the query's chunk finds *every* hash within R - recall is 1.0 by
construction - and the candidates are then verified on all 256 bits.  For
R = 31 that is 8 chunks at radius 2 and 4 at radius 1: 1,944 probes, about
ten thousand candidates at 10 million hashes instead of ten million.

The tables are flat arrays (per chunk: bucket offsets and a permutation of
row numbers), so a segment saves as ``.npy`` files and loads by
memory-mapping in milliseconds, shared by every process that maps it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

CHUNK_BITS = 21
CHUNKS = 12  # 252 of the 256 bits; the pigeonhole argument needs no more
BUCKETS = 1 << CHUNK_BITS
#: Below this many hashes, comparing with all of them is faster than probing
#: and the 100 MB of bucket tables are not worth allocating.
BRUTE_FORCE_BELOW = 20_000
#: From this size on, batch searches use a thread per core (see search_batch).
THREADS_FROM = 2_000_000

Codes = NDArray[np.uint64]


def codes_from_hex(hexes: Sequence[str]) -> Codes:
    """(N, 4) big-endian 64-bit words of N PDQ hex strings."""
    raw = bytes.fromhex("".join(hexes))
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def codes_from_bytes(raw: bytes | bytearray) -> Codes:
    return np.frombuffer(raw, dtype=">u8").reshape(-1, 4).astype(np.uint64)


def chunk_key(codes: Codes, chunk: int) -> NDArray[np.uint32]:
    """The ``chunk``-th 21-bit slice of every code (bit 0 = first hex digit's top bit)."""
    start = chunk * CHUNK_BITS
    word, offset = divmod(start, 64)
    mask = np.uint64(BUCKETS - 1)
    if offset + CHUNK_BITS <= 64:
        key = (codes[:, word] >> np.uint64(64 - offset - CHUNK_BITS)) & mask
    else:
        high = 64 - offset
        low = CHUNK_BITS - high
        key = ((codes[:, word] & np.uint64((1 << high) - 1)) << np.uint64(low)) | (
            codes[:, word + 1] >> np.uint64(64 - low)
        )
    return key.astype(np.uint32)


def chunk_radii(radius: int) -> list[int]:
    """Per-chunk probe radii whose (r + 1) sum to radius + 1 (-1: chunk not probed)."""
    base, extra = divmod(radius + 1, CHUNKS)
    return [base + (chunk < extra) - 1 for chunk in range(CHUNKS)]


@cache
def _flip_masks(radius: int) -> NDArray[np.uint32]:
    """Every CHUNK_BITS-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for flips in range(1, radius + 1):
        masks.extend(
            sum(1 << bit for bit in bits) for bits in combinations(range(CHUNK_BITS), flips)
        )
    return np.array(masks, dtype=np.uint32)


@cache
def probe_plan(radius: int) -> tuple[NDArray[np.intp], NDArray[np.uint32]]:
    """(chunk of each probe, flip mask of each probe) for a search at ``radius``."""
    chunks: list[NDArray[np.intp]] = []
    masks: list[NDArray[np.uint32]] = []
    for chunk, chunk_radius in enumerate(chunk_radii(radius)):
        if chunk_radius >= 0:
            flips = _flip_masks(min(chunk_radius, CHUNK_BITS))
            chunks.append(np.full(len(flips), chunk, dtype=np.intp))
            masks.append(flips)
    return np.concatenate(chunks), np.concatenate(masks)


@cache
def _bucket_base(radius: int) -> NDArray[np.int64]:
    """Offset of each probe's chunk table in the flattened offsets array."""
    return probe_plan(radius)[0].astype(np.int64) * (BUCKETS + 1)


# np.take rather than fancy indexing for every gather: on a 10-million-row
# memory map it is several times faster (a tight loop the CPU can overlap).


def hamming_to(codes: Codes, query: Codes) -> NDArray[np.uint16]:
    """Distances from each row of ``codes`` to one ``query`` code (shape (1, 4))."""
    # Word by word with scalars: numpy broadcasts a 4-wide inner axis slowly.
    distances = np.zeros(len(codes), dtype=np.uint16)
    for word in range(4):
        distances += np.bitwise_count(codes[:, word] ^ query[0, word])
    return distances


def load_mapped(path: Path) -> NDArray[Any]:
    """A saved array memory-mapped, as a plain ndarray view of the same pages.

    np.memmap's per-indexing bookkeeping costs more than the lookups it wraps.
    """
    array: NDArray[Any] = np.load(path, mmap_mode="r").view(np.ndarray)
    return array


class PdqMultiIndex:
    """Immutable multi-index over N codes; rows are numbered 0..N-1."""

    FILES = ("codes", "offsets", "perm")

    def __init__(self, codes: Codes, offsets: NDArray[np.uint32], perm: NDArray[np.uint32]):
        self.codes = codes
        self.offsets = offsets.reshape(-1)
        self.perm = perm.reshape(-1)
        self.size = len(codes)

    @classmethod
    def build(cls, codes: Codes) -> PdqMultiIndex:
        size = len(codes)
        if size >= 1 << 32:
            raise ValueError("a segment holds fewer than 2**32 hashes")
        if size < BRUTE_FORCE_BELOW:
            none = np.empty(0, dtype=np.uint32)
            return cls(codes, none, none)
        offsets = np.zeros((CHUNKS, BUCKETS + 1), dtype=np.uint32)
        perm = np.empty((CHUNKS, size), dtype=np.uint32)
        for chunk in range(CHUNKS):
            keys = chunk_key(codes, chunk)
            perm[chunk] = np.argsort(keys, kind="stable")
            np.cumsum(np.bincount(keys, minlength=BUCKETS), out=offsets[chunk, 1:])
        return cls(codes, offsets, perm)

    def save(self, directory: Path) -> None:
        np.save(directory / "codes.npy", self.codes)
        np.save(directory / "offsets.npy", self.offsets)
        np.save(directory / "perm.npy", self.perm)

    @classmethod
    def load(cls, directory: Path) -> PdqMultiIndex:
        """Memory-map a saved index: pages load on first touch and are shared."""
        return cls(*(load_mapped(directory / f"{name}.npy") for name in cls.FILES))

    def search(self, query: Codes, radius: int) -> tuple[NDArray[np.intp], NDArray[np.uint16]]:
        """Rows within ``radius`` of one query code (shape (1, 4)) and their distances.

        The single-query path avoids the bookkeeping of batches: a platform
        checking one upload at a time pays only for the probes themselves.
        """
        if self.size == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
        if not len(self.offsets):
            return brute_force_search(self.codes, query, radius)
        value = int.from_bytes(query.astype(">u8").tobytes(), "big")
        keys = np.array(
            [(value >> (256 - CHUNK_BITS * (c + 1))) & (BUCKETS - 1) for c in range(CHUNKS)],
            dtype=np.uint32,
        )
        probe_chunks, probe_masks = probe_plan(radius)
        buckets = _bucket_base(radius) + (keys[probe_chunks] ^ probe_masks)
        starts = np.take(self.offsets, buckets).astype(np.int64)
        lengths = np.take(self.offsets, buckets + 1) - starts
        nonzero = lengths > 0
        lengths = lengths[nonzero]
        if not len(lengths):
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
        starts = starts[nonzero] + probe_chunks[nonzero] * self.size
        ends = np.cumsum(lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1])
        candidates = np.take(self.perm, positions)
        distances = hamming_to(np.take(self.codes, candidates, axis=0), query)
        near = distances <= radius
        rows, first = np.unique(candidates[near], return_index=True)
        return rows.astype(np.intp), distances[near][first]

    def search_batch(
        self, queries: Codes, radius: int, *, workers: int | None = None
    ) -> tuple[NDArray[np.intp], NDArray[np.uint16], NDArray[np.intp]]:
        """(rows, distances, query numbers) of every pair within ``radius``.

        Large indices are searched on ``workers`` threads (default: one per
        core): their searches wait on memory in gathers that release the GIL,
        so a batch scales with cores while sharing one mapped index.  Small
        ones are bound by Python overhead, where threads only add contention.
        """
        count = len(queries)
        default = os.cpu_count() or 1 if self.size >= THREADS_FROM else 1
        threads = min(workers or default, max(1, count // 64))

        def run(numbers: range) -> list[tuple[NDArray[np.intp], NDArray[np.uint16], int]]:
            return [(*self.search(queries[n : n + 1], radius), n) for n in numbers]

        if threads == 1:
            found = run(range(count))
        else:
            with ThreadPoolExecutor(threads) as pool:
                parts = pool.map(run, (range(t, count, threads) for t in range(threads)))
                found = [item for part in parts for item in part]
        if not found:
            empty = np.empty(0, dtype=np.intp)
            return empty, np.empty(0, dtype=np.uint16), empty
        rows = np.concatenate([item[0] for item in found])
        distances = np.concatenate([item[1] for item in found])
        owners = np.repeat([item[2] for item in found], [len(item[0]) for item in found])
        return rows, distances, owners.astype(np.intp)


def brute_force_search(
    codes: Codes, query: Codes, radius: int
) -> tuple[NDArray[np.intp], NDArray[np.uint16]]:
    """The reference every index is tested against: compare with every code."""
    distances = hamming_to(codes, query)
    rows = np.nonzero(distances <= radius)[0]
    return rows, distances[rows]
