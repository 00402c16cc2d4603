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

from collections.abc import Sequence
from functools import cache
from itertools import combinations
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

CHUNK_BITS = 21
CHUNKS = 12  # 252 of the 256 bits; the pigeonhole argument needs no more
BUCKETS = 1 << CHUNK_BITS
HASH_BYTES = 32
#: Queries verified together in one vectorised pass of a batch search.
BATCH = 64
#: Below this many hashes, comparing with all of them is faster than probing
#: and the 100 MB of bucket tables are not worth allocating.
BRUTE_FORCE_BELOW = 20_000

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


def hamming_to(codes: Codes, query: Codes) -> NDArray[np.uint16]:
    """Distances from each row of ``codes`` to ``query`` (one code, or one per row)."""
    distances: NDArray[np.uint16] = np.bitwise_count(codes ^ query).sum(axis=1, dtype=np.uint16)
    return distances


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
        arrays = [np.load(directory / f"{name}.npy", mmap_mode="r") for name in cls.FILES]
        # Plain ndarray views of the maps: same pages, without np.memmap's
        # per-indexing overhead.
        return cls(*(array.view(np.ndarray) for array in arrays))

    def search(self, query: Codes, radius: int) -> tuple[NDArray[np.intp], NDArray[np.uint16]]:
        """Rows within ``radius`` of one query code (shape (1, 4)) and their distances.

        The single-query path avoids the bookkeeping of batches: a platform
        checking one upload at a time pays only for the probes themselves.
        """
        if self.size == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.uint16)
        if not len(self.offsets):
            rows, distances, _ = self._brute_force(query, radius, 0)
            return rows, distances
        value = int.from_bytes(query.astype(">u8").tobytes(), "big")
        keys = np.array(
            [(value >> (256 - CHUNK_BITS * (c + 1))) & (BUCKETS - 1) for c in range(CHUNKS)],
            dtype=np.uint32,
        )
        probe_chunks, probe_masks = probe_plan(radius)
        buckets = _bucket_base(radius) + (keys[probe_chunks] ^ probe_masks)
        starts = self.offsets[buckets].astype(np.int64)
        lengths = self.offsets[buckets + 1] - starts
        nonzero = lengths > 0
        lengths = lengths[nonzero]
        starts = starts[nonzero] + probe_chunks[nonzero] * self.size
        ends = np.cumsum(lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1])
        candidates = self.perm[positions]
        distances = hamming_to(self.codes[candidates], query)
        near = distances <= radius
        rows, first = np.unique(candidates[near], return_index=True)
        return rows.astype(np.intp), distances[near][first]

    def search_batch(
        self, queries: Codes, radius: int
    ) -> tuple[NDArray[np.intp], NDArray[np.uint16], NDArray[np.intp]]:
        """(rows, distances, query numbers) of every pair within ``radius``."""
        found: list[tuple[NDArray[np.intp], NDArray[np.uint16], NDArray[np.intp]]] = []
        for first in range(0, len(queries), BATCH):
            found.append(self._search_block(queries[first : first + BATCH], radius, first))
        if not found:
            empty = np.empty(0, dtype=np.intp)
            return empty, np.empty(0, dtype=np.uint16), empty
        rows, distances, owners = (np.concatenate(parts) for parts in zip(*found, strict=True))
        return rows, distances, owners

    def _search_block(
        self, queries: Codes, radius: int, first: int
    ) -> tuple[NDArray[np.intp], NDArray[np.uint16], NDArray[np.intp]]:
        if self.size == 0 or len(queries) == 0:
            empty = np.empty(0, dtype=np.intp)
            return empty, np.empty(0, dtype=np.uint16), empty
        if not len(self.offsets):
            return self._brute_force(queries, radius, first)
        probe_chunks, probe_masks = probe_plan(radius)
        keys = np.stack([chunk_key(queries, chunk) for chunk in range(CHUNKS)], axis=1)
        # Bucket of every probe of every query, in the flattened offsets table.
        buckets = probe_chunks * (BUCKETS + 1) + (keys[:, probe_chunks] ^ probe_masks)
        starts = self.offsets[buckets].astype(np.int64)
        lengths = (self.offsets[buckets + 1] - starts).ravel()
        starts = (starts + probe_chunks * self.size).ravel()
        total = int(lengths.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.intp)
            return empty, np.empty(0, dtype=np.uint16), empty
        nonzero = lengths > 0
        lengths, starts = lengths[nonzero], starts[nonzero]
        owner_of_probe = np.repeat(np.arange(len(queries)), len(probe_chunks))[nonzero]
        ends = np.cumsum(lengths)
        positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(total)
        candidates = self.perm[positions].astype(np.intp)
        owners = np.repeat(owner_of_probe, lengths)
        distances = hamming_to(
            self.codes[candidates], queries if len(queries) == 1 else queries[owners]
        )
        near = distances <= radius
        candidates, distances, owners = candidates[near], distances[near], owners[near]
        # A hash close in several chunks is found once per chunk: keep one.
        pair = owners.astype(np.int64) * self.size + candidates
        _, unique = np.unique(pair, return_index=True)
        return candidates[unique], distances[unique], owners[unique] + first

    def _brute_force(
        self, queries: Codes, radius: int, first: int
    ) -> tuple[NDArray[np.intp], NDArray[np.uint16], NDArray[np.intp]]:
        distances = np.bitwise_count(self.codes[None, :, :] ^ queries[:, None, :]).sum(
            axis=2, dtype=np.uint16
        )
        owners, rows = np.nonzero(distances <= radius)
        return rows.astype(np.intp), distances[owners, rows], owners.astype(np.intp) + first


def brute_force_search(
    codes: Codes, query: Codes, radius: int
) -> tuple[NDArray[np.intp], NDArray[np.uint16]]:
    """The reference every index is tested against: compare with every code."""
    distances = hamming_to(codes, query)
    rows = np.nonzero(distances <= radius)[0]
    return rows, distances[rows]
