"""The match index: a memory-mapped snapshot plus the changes made since.

Building an index over millions of entries takes a while, loading one must
not: the *base* segment is saved under ``BASTION_HOME/index/<store id>/`` and
memory-mapped, so every process (CLI, API workers, scan workers) shares its
pages.  Entries changed after the snapshot - added, withdrawn, relabelled,
tracked by the store's change sequence - form a small in-memory *delta*
segment and hide their stale base rows.  When the delta outgrows a fraction
of the base, a new snapshot is written and older ones are removed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Executable, func, select

from bastion.banks.bank import Bank, BankKind, BankNotFound, load_label_sets
from bastion.banks.stored import read_value
from bastion.config import Settings
from bastion.fingerprint import Signal
from bastion.matching.segment import EntryRow, Hit, Segment, exact_key
from bastion.signals.types import SignalKind, signal_type
from bastion.store import Store
from bastion.store.models import Bank as BankRow
from bastion.store.models import Entry

#: 2: rows carry a time (video frames); 3: segments hold the terms of term banks.
SNAPSHOT_FORMAT = 3
#: The delta is folded into a new snapshot once it exceeds both of these.
DELTA_MIN_ROWS = 50_000
DELTA_FRACTION = 0.05
_FETCH = 50_000


_COLUMNS = (
    Entry.id,
    Entry.bank_id,
    Entry.signal_type,
    Entry.value,
    Entry.payload,
    Entry.label_set_id,
)


def _entry_row(row: Sequence[Any]) -> EntryRow:
    return EntryRow(row[0], row[1], row[2], read_value(row[3], row[4]), row[5])


def _stream(store: Store, statement: Executable) -> Iterator[Sequence[Any]]:
    with store.engine.connect() as connection:
        options = connection.execution_options(stream_results=True, yield_per=_FETCH)
        yield from options.execute(statement)


def _active_rows(store: Store, upto: int) -> Iterator[EntryRow]:
    """Every active entry as of change ``upto``, streamed."""
    statement = select(*_COLUMNS).where(Entry.withdrawn_at.is_(None), Entry.seq <= upto)
    for row in _stream(store, statement):
        yield _entry_row(row)


def _changes(store: Store, after: int) -> Iterator[tuple[EntryRow, bool]]:
    """Entries changed after ``after``, each with whether it is now withdrawn."""
    statement = select(*_COLUMNS, Entry.withdrawn_at.is_not(None)).where(Entry.seq > after)
    for row in _stream(store, statement):
        yield _entry_row(row), bool(row[6])


class MatchIndex(Protocol):
    """What matching asks of an index: an extension point.

    :class:`bastion.matching.brute.BruteForceIndex` is the reference every
    implementation is tested against (tests/banks/test_index_contract.py).
    """

    def lookup(self, signal: Signal, *, radius: int | None = None) -> list[Hit]:
        """Raw hits of one signal in all live banks, allowlists included: exact
        signals by value (within their family), PDQ as :meth:`lookup_pdq`, a
        text by the banked terms found in it (at their edit distances, each
        within its length's edits; ``radius`` does not apply)."""
        ...

    def lookup_pdq(self, hexes: list[str], *, radius: int | None = None) -> list[list[Hit]]:
        """Hits within ``radius`` (default: the largest bank threshold) of each
        hash, PDQ entries and frames of banked videos alike."""
        ...


class Index(MatchIndex):
    """Searches every bank of a store; see :func:`bastion.matching.match.match`."""

    def __init__(self, store: Store, snapshot_root: Path, snapshot: Path) -> None:
        self.store: Store | None = store
        self.snapshot_root = snapshot_root
        self.snapshot = snapshot
        base_seq = _snapshot_seq(snapshot)
        self.base = Segment.load(snapshot)
        self.base_seq = base_seq
        self.seq = base_seq
        self.delta = Segment.build([])
        self.changed: np.ndarray = np.empty(0, dtype=np.int64)
        self.banks: dict[int, Bank] = {}
        self.label_sets: dict[int, tuple[str, ...]] = {}

    @classmethod
    def open(cls, store: Store, settings: Settings) -> Index:
        """Load the newest snapshot (building one if there is none) and catch up."""
        root = settings.home / "index" / store.instance_id
        snapshot = _newest_snapshot(root)
        if snapshot is None:
            snapshot = _write_snapshot(store, root)
        index = cls(store, root, snapshot)
        index.refresh()
        return index

    def refresh(self) -> bool:
        """Apply changes made since the last refresh; True if there were any."""
        store = self._store()
        with store.sessions() as session:
            seq = store.current_seq(session)
            if seq == self.seq and self.banks:
                return False
            # A disabled bank's hits are dropped like a deleted bank's.
            self.banks = {
                row.id: Bank.from_row(row)
                for row in session.execute(select(BankRow)).scalars()
                if row.matching_enabled_ratio > 0
            }
            self.label_sets = load_label_sets(session)
            pending = session.execute(
                select(func.count()).select_from(Entry).where(Entry.seq > self.base_seq)
            ).scalar_one()
        if pending > max(DELTA_MIN_ROWS, DELTA_FRACTION * len(self.base)):
            self.rebuild()
        else:
            self._load_delta()
        self.seq = seq
        return True

    def rebuild(self) -> None:
        """Write a new snapshot of the whole store and switch to it."""
        self.snapshot = _write_snapshot(self._store(), self.snapshot_root)
        self.base = Segment.load(self.snapshot)
        self.base_seq = _snapshot_seq(self.snapshot)
        self._load_delta()

    def copy(self) -> Index:
        """A copy sharing this one's segments, to refresh while this one serves
        (``copy.copy`` would go through pickling, which drops the store)."""
        clone = object.__new__(Index)
        clone.__dict__.update(self.__dict__)
        return clone

    def _store(self) -> Store:
        if self.store is None:
            raise RuntimeError("this index was sent to a worker; refresh it where it was opened")
        return self.store

    def __getstate__(self) -> dict[str, Any]:
        """Pickle for worker processes: the snapshot by path (mapped again there), not copied."""
        state = dict(self.__dict__)
        state["store"] = None
        del state["base"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.base = Segment.load(self.snapshot)

    def _load_delta(self) -> None:
        # One statement yields both what changed and what is now active, so
        # a change committed meanwhile is either in both or in neither.
        changed: list[int] = []
        active: list[EntryRow] = []
        for row, withdrawn in _changes(self._store(), self.base_seq):
            changed.append(row.entry_id)
            if not withdrawn:
                active.append(row)
        self.changed = np.sort(np.array(changed, dtype=np.int64))
        self.delta = Segment.build(active)

    def restrict(self, names: list[str]) -> None:
        """Match only these blocklists (allowlists always apply)."""
        unknown = set(names) - {bank.name for bank in self.banks.values()}
        if unknown:
            raise BankNotFound(f"no bank named {sorted(unknown)[0]!r} (see `bastion bank list`)")
        self.banks = {
            id_: bank
            for id_, bank in self.banks.items()
            if bank.name in names or bank.kind is BankKind.ALLOWLIST
        }

    def entry_counts(self) -> dict[int, int]:
        """Entries each live bank has in this index (what a match is checked against)."""
        return self._counts(terms_only=False)

    def term_counts(self) -> dict[int, int]:
        """Text entries each live bank has: where none is live, no text can be screened."""
        return self._counts(terms_only=True)

    def _counts(self, *, terms_only: bool) -> dict[int, int]:
        counts: Counter[int] = Counter()
        for segment, base in ((self.base, True), (self.delta, False)):
            kinds = (
                (segment.term_rows,)
                if terms_only
                else (segment.pdq_rows, segment.exact_rows, segment.term_rows)
            )
            for rows in kinds:
                # An entry found by two keys (a model hash and its AutoV2) has two rows.
                _, first = np.unique(rows.entry_ids, return_index=True)
                entry_ids, bank_ids = rows.entry_ids[first], rows.bank_ids[first]
                if base and len(self.changed):
                    bank_ids = bank_ids[~np.isin(entry_ids, self.changed)]
                values, numbers = np.unique(bank_ids, return_counts=True)
                counts.update(dict(zip(values.tolist(), numbers.tolist(), strict=True)))
        return {bank_id: counts[bank_id] for bank_id in self.banks}

    def video_frames(self, entry_id: int) -> int:
        """Indexed frames of a banked video, in the segment holding its live row
        (``changed`` lists every entry added or changed since the snapshot)."""
        if len(self.changed) and np.isin(entry_id, self.changed):
            return self.delta.video_frames(entry_id)
        return self.base.video_frames(entry_id)

    @property
    def max_pdq_threshold(self) -> int:
        return max((bank.pdq_threshold for bank in self.banks.values()), default=0)

    def lookup(self, signal: Signal, *, radius: int | None = None) -> list[Hit]:
        """Raw hits in all live banks, allowlists included."""
        kind = signal_type(signal.type).kind
        if kind is SignalKind.PDQ:
            return self.lookup_pdq([signal.value], radius=radius)[0]
        if kind is SignalKind.TEXT:
            hits = self._live(self.base.lookup_text(signal.value), base=True)
            return hits + self._live(self.delta.lookup_text(signal.value), base=False)
        key = exact_key(signal)
        hits = self._live(self.base.lookup_exact(key), base=True)
        return hits + self._live(self.delta.lookup_exact(key), base=False)

    def lookup_pdq(self, hexes: list[str], *, radius: int | None = None) -> list[list[Hit]]:
        """Hits within ``radius`` (default: the largest bank threshold) of each hash."""
        reach = self.max_pdq_threshold if radius is None else radius
        base = self.base.lookup_pdq(hexes, reach)
        delta = self.delta.lookup_pdq(hexes, reach)
        return [
            self._live(b, base=True) + self._live(d, base=False)
            for b, d in zip(base, delta, strict=True)
        ]

    def _live(self, hits: list[Hit], *, base: bool) -> list[Hit]:
        """Drop hits in deleted banks and base hits whose entry changed since."""
        live = [hit for hit in hits if hit.bank_id in self.banks]
        if base and live and len(self.changed):
            ids = np.array([hit.entry_id for hit in live], dtype=np.int64)
            stale = np.isin(ids, self.changed)
            live = [hit for hit, gone in zip(live, stale.tolist(), strict=True) if not gone]
        return live


def _snapshot_seq(snapshot: Path) -> int:
    return int(json.loads((snapshot / "manifest.json").read_text())["seq"])


def _newest_snapshot(root: Path) -> Path | None:
    candidates = sorted(
        (path for path in root.glob("seq-*") if (path / "manifest.json").exists()), reverse=True
    )
    for path in candidates:
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format") == SNAPSHOT_FORMAT:
            return path
    return None


def _write_snapshot(store: Store, root: Path) -> Path:
    """Build a snapshot of every active entry, atomically, and prune older ones."""
    with store.sessions() as session:
        seq = store.current_seq(session)
    segment = Segment.build(_active_rows(store, seq))
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"seq-{seq:015d}"
    if (final / "manifest.json").exists():
        return final
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    segment.save(work)
    manifest = {"format": SNAPSHOT_FORMAT, "seq": seq, "entries": len(segment)}
    (work / "manifest.json").write_text(json.dumps(manifest))
    try:
        os.rename(work, final)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)  # another process wrote it first
    for old in root.glob("seq-*"):
        if old.name < final.name:
            shutil.rmtree(old, ignore_errors=True)
    return final
