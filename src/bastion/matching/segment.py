"""A segment: every active entry of the store at one moment, ready to search.

PDQ entries, and each frame of a vPDQ entry, go into a multi-index
(:mod:`pdq_mih`); digests and opaque
values into a sorted table of 128-bit keys for binary search; the terms of
term banks (``text`` entries) into a term matcher (:mod:`terms`), built
from the saved terms on the first text lookup.  Next to each
lives the row's entry id, bank id and label-set id, so a hit needs no
database round trip.  Segments are built from a stream of rows in bounded
memory, saved as ``.npy`` files and memory-mapped back.
"""

from __future__ import annotations

import hashlib
import json
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from bastion.fingerprint import Signal
from bastion.matching.pdq_mih import PdqMultiIndex, codes_from_bytes, codes_from_hex, load_mapped
from bastion.matching.terms import TermMatcher
from bastion.signals.types import SIGNAL_TYPES, SignalKind, signal_type
from bastion.signals.vpdq import matchable, parse_vpdq

#: Signal type names by the small code stored per row.
TYPE_NAMES = tuple(SIGNAL_TYPES)
_TYPE_CODES = {name: code for code, name in enumerate(TYPE_NAMES)}


class EntryRow(NamedTuple):
    entry_id: int
    bank_id: int
    signal_type: str
    value: str
    label_set_id: int


class Hit(NamedTuple):
    entry_id: int
    bank_id: int
    label_set_id: int
    signal_type: str
    distance: int
    #: For a frame of a banked video: its time in that video, in seconds.
    time: float | None = None


def _exact_keys(row: EntryRow) -> list[tuple[int, int]]:
    """Every key a row is found by: a model's SHA-256 also by its AutoV2 prefix,
    the short hash image generators write into their metadata."""
    keys = [exact_key(Signal(row.signal_type, row.value))]
    if row.signal_type == "model_sha256":
        keys.append(exact_key(Signal("model_autov2", row.value[:10])))
    return keys


def exact_key(signal: Signal) -> tuple[int, int]:
    """128-bit key of a digest or opaque value; one family shares keys (md5 = video_md5)."""
    family = signal_type(signal.type).family
    digest = hashlib.blake2b(f"{family}:{signal.value}".encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")


@dataclass(frozen=True, slots=True)
class RowTable:
    """Entry id, bank id, label set and signal type of each row of an index."""

    entry_ids: NDArray[np.int64]
    bank_ids: NDArray[np.int32]
    label_sets: NDArray[np.int32]
    types: NDArray[np.uint8]
    #: Time of a video frame row in its video; NaN for every other row.
    times: NDArray[np.float32]

    NAMES = ("entry_ids", "bank_ids", "label_sets", "types", "times")

    def hits(self, rows: NDArray[np.intp], distances: Iterable[int]) -> list[Hit]:
        return [
            Hit(
                int(self.entry_ids[row]),
                int(self.bank_ids[row]),
                int(self.label_sets[row]),
                TYPE_NAMES[self.types[row]],
                int(distance),
                None if np.isnan(time := float(self.times[row])) else round(time, 3),
            )
            for row, distance in zip(rows.tolist(), distances, strict=True)
        ]

    def frame_counts(self) -> dict[int, int]:
        """Indexed frames of each banked video, by entry id."""
        frames = self.types == _TYPE_CODES["vpdq"]
        ids, counts = np.unique(self.entry_ids[frames], return_counts=True)
        return dict(zip(ids.tolist(), counts.tolist(), strict=True))

    def take(self, order: NDArray[np.intp]) -> RowTable:
        return RowTable(*(getattr(self, name)[order] for name in self.NAMES))

    def save(self, directory: Path, prefix: str) -> None:
        for name in self.NAMES:
            np.save(directory / f"{prefix}_{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, directory: Path, prefix: str) -> RowTable:
        return cls(*(load_mapped(directory / f"{prefix}_{n}.npy") for n in cls.NAMES))


class _RowsBuilder:
    def __init__(self) -> None:
        self.entry_ids = array("q")
        self.bank_ids = array("i")
        self.label_sets = array("i")
        self.types = array("B")
        self.times = array("f")

    def append(self, row: EntryRow, time: float = math.nan) -> None:
        self.entry_ids.append(row.entry_id)
        self.bank_ids.append(row.bank_id)
        self.label_sets.append(row.label_set_id)
        self.types.append(_TYPE_CODES[row.signal_type])
        self.times.append(time)

    def table(self) -> RowTable:
        return RowTable(
            np.frombuffer(self.entry_ids, dtype=np.int64),
            np.frombuffer(self.bank_ids, dtype=np.int32),
            np.frombuffer(self.label_sets, dtype=np.int32),
            np.frombuffer(self.types, dtype=np.uint8),
            np.frombuffer(self.times, dtype=np.float32),
        )


class Segment:
    """PDQ multi-index, exact-key table and terms over a set of entry rows."""

    def __init__(
        self,
        pdq: PdqMultiIndex,
        pdq_rows: RowTable,
        exact_keys: NDArray[np.uint64],
        exact_rows: RowTable,
        terms: list[str],
        term_rows: RowTable,
    ) -> None:
        self.pdq = pdq
        self.pdq_rows = pdq_rows
        #: (N, 2) sorted lexicographically: high and low 64 bits of each key.
        self.exact_keys = exact_keys
        self.exact_rows = exact_rows
        #: The term of each ``text`` row, in the order of ``term_rows``.
        self.terms = terms
        self.term_rows = term_rows
        self._frame_counts: dict[int, int] | None = None
        self._matcher: tuple[TermMatcher, list[NDArray[np.intp]]] | None = None

    def video_frames(self, entry_id: int) -> int:
        """Indexed frames of a banked video (0 when it is not in this segment)."""
        if self._frame_counts is None:
            self._frame_counts = self.pdq_rows.frame_counts()
        return self._frame_counts.get(entry_id, 0)

    def __len__(self) -> int:
        return self.pdq.size + len(self.exact_keys) + len(self.terms)

    @classmethod
    def build(cls, rows: Iterable[EntryRow]) -> Segment:
        pdq_bytes = bytearray()
        pdq_rows = _RowsBuilder()
        keys = array("Q")
        exact_rows = _RowsBuilder()
        terms: list[str] = []
        term_rows = _RowsBuilder()
        for row in rows:
            kind = SIGNAL_TYPES[row.signal_type].kind
            if kind is SignalKind.TEXT:
                terms.append(row.value)
                term_rows.append(row)
            elif kind is SignalKind.PDQ:
                pdq_bytes += bytes.fromhex(row.value)
                pdq_rows.append(row)
            elif kind is SignalKind.VPDQ:
                # Every matchable frame of a banked video is a row of the one
                # PDQ index, so a query frame costs one lookup for all videos.
                for frame in matchable(parse_vpdq(row.value)):
                    pdq_bytes += bytes.fromhex(frame.hex)
                    pdq_rows.append(row, frame.timestamp)
            else:
                for key in _exact_keys(row):
                    keys.extend(key)
                    exact_rows.append(row)
        exact = np.frombuffer(keys, dtype=np.uint64).reshape(-1, 2)
        order = np.lexsort((exact[:, 1], exact[:, 0]))
        return cls(
            PdqMultiIndex.build(codes_from_bytes(pdq_bytes)),
            pdq_rows.table(),
            exact[order],
            exact_rows.table().take(order),
            terms,
            term_rows.table(),
        )

    def save(self, directory: Path) -> None:
        self.pdq.save(directory)
        self.pdq_rows.save(directory, "pdq")
        np.save(directory / "exact_keys.npy", self.exact_keys)
        self.exact_rows.save(directory, "exact")
        self.term_rows.save(directory, "text")
        (directory / "text_terms.json").write_text(json.dumps(self.terms))
        (directory / "segment.json").write_text(
            json.dumps(
                {"pdq": self.pdq.size, "exact": len(self.exact_keys), "text": len(self.terms)}
            )
        )

    @classmethod
    def load(cls, directory: Path) -> Segment:
        return cls(
            PdqMultiIndex.load(directory),
            RowTable.load(directory, "pdq"),
            load_mapped(directory / "exact_keys.npy"),
            RowTable.load(directory, "exact"),
            json.loads((directory / "text_terms.json").read_text()),
            RowTable.load(directory, "text"),
        )

    def lookup_exact(self, key: tuple[int, int]) -> list[Hit]:
        """Hits of one ``exact_key``."""
        if not len(self.exact_keys):
            return []
        high, low = key
        highs = self.exact_keys[:, 0]
        first = int(np.searchsorted(highs, np.uint64(high), side="left"))
        last = int(np.searchsorted(highs, np.uint64(high), side="right"))
        rows = np.arange(first, last)
        rows = rows[self.exact_keys[first:last, 1] == np.uint64(low)]
        return self.exact_rows.hits(rows, [0] * len(rows))

    def lookup_pdq(self, hexes: list[str], radius: int) -> list[list[Hit]]:
        """Hits for each query hash, in query order."""
        if not self.pdq.size:
            return [[] for _ in hexes]
        rows, distances, owners = self.pdq.search_batch(codes_from_hex(hexes), radius)
        found: list[list[Hit]] = [[] for _ in hexes]
        for owner, hit in zip(
            owners.tolist(), self.pdq_rows.hits(rows, distances.tolist()), strict=True
        ):
            found[owner].append(hit)
        return found

    def lookup_text(self, text: str) -> list[Hit]:
        """Hits of the terms found in canonical ``text``, at their edit distances."""
        if not self.terms:
            return []
        matcher, rows_of_term = self._term_matcher()
        hits: list[Hit] = []
        for number, place in matcher.find(text).items():
            rows = rows_of_term[number]
            hits += self.term_rows.hits(rows, [place.distance] * len(rows))
        return hits

    def _term_matcher(self) -> tuple[TermMatcher, list[NDArray[np.intp]]]:
        """The matcher over the terms and the rows of each of its terms, built
        on first use (a snapshot saves the terms, not the matcher) and set in
        one assignment, so a thread that looks meanwhile builds its own."""
        if self._matcher is None:
            rows: dict[str, list[int]] = {}
            for row, term in enumerate(self.terms):
                rows.setdefault(term, []).append(row)
            matcher = TermMatcher(rows)
            rows_of_term = [np.array(rows[term], dtype=np.intp) for term in matcher.terms]
            self._matcher = (matcher, rows_of_term)
        return self._matcher
