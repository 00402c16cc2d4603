"""The brute-force match index: every live entry in a list, compared one by one.

Far too slow to serve, simple enough to trust: it is the reference the real
:class:`bastion.matching.index.Index` (snapshots, deltas, a PDQ multi-index)
is tested against.  It reads the store as it is now and knows nothing of
snapshots or change sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bastion.banks.bank import Bank, load_label_sets
from bastion.banks.stored import read_value
from bastion.fingerprint import Signal
from bastion.matching.index import MatchIndex
from bastion.matching.segment import EntryRow, Hit
from bastion.signals.text import find_term, max_edits
from bastion.signals.types import SignalKind, signal_type
from bastion.signals.vpdq import matchable, parse_vpdq
from bastion.store import Store
from bastion.store.models import Bank as BankRow
from bastion.store.models import Entry

#: Decimals of a frame's time in a hit, as the index reports it.
_TIME_DECIMALS = 3


@dataclass(frozen=True, slots=True)
class _PdqRow:
    entry: EntryRow
    hex: str
    time: float | None


class BruteForceIndex(MatchIndex):
    """Every active entry of every bank, searched by comparing each one."""

    def __init__(
        self,
        rows: list[EntryRow],
        banks: dict[int, Bank],
        label_sets: dict[int, tuple[str, ...]],
    ) -> None:
        self.banks = banks
        self.label_sets = label_sets
        self.exact: list[tuple[str, str, EntryRow]] = []
        self.pdq: list[_PdqRow] = []
        self.text: list[EntryRow] = []
        for row in rows:
            if row.bank_id not in banks:
                continue
            kind = signal_type(row.signal_type).kind
            if kind is SignalKind.TEXT:
                self.text.append(row)
            elif kind is SignalKind.PDQ:
                self.pdq.append(_PdqRow(row, row.value, None))
            elif kind is SignalKind.VPDQ:
                for frame in matchable(parse_vpdq(row.value)):
                    self.pdq.append(_PdqRow(row, frame.hex, round(frame.timestamp, _TIME_DECIMALS)))
            else:
                self.exact.append((signal_type(row.signal_type).family, row.value, row))
                if row.signal_type == "model_sha256":
                    # Generators write a model's AutoV2, the first 10 digits of its SHA-256.
                    self.exact.append(("model_autov2", row.value[:10], row))

    @classmethod
    def from_store(cls, store: Store) -> BruteForceIndex:
        with store.sessions() as session:
            bank_rows = session.execute(select(BankRow)).scalars()
            banks = {row.id: Bank.from_row(row) for row in bank_rows}
            label_sets = load_label_sets(session)
            statement = select(
                Entry.id,
                Entry.bank_id,
                Entry.signal_type,
                Entry.value,
                Entry.payload,
                Entry.label_set_id,
            ).where(Entry.withdrawn_at.is_(None))
            rows = [
                EntryRow(id_, bank_id, type_, read_value(value, payload), label_set)
                for id_, bank_id, type_, value, payload, label_set in session.execute(statement)
            ]
        return cls(rows, banks, label_sets)

    def lookup(self, signal: Signal, *, radius: int | None = None) -> list[Hit]:
        kind = signal_type(signal.type)
        if kind.kind is SignalKind.PDQ:
            return self.lookup_pdq([signal.value], radius=radius)[0]
        if kind.kind is SignalKind.TEXT:
            return self._lookup_text(signal.value)
        return [
            _hit(row, 0, None)
            for family, value, row in self.exact
            if family == kind.family and value == signal.value
        ]

    def _lookup_text(self, text: str) -> list[Hit]:
        """Each banked term the brute-force rule finds in ``text``, however large
        the bank's threshold (the length rule alone caps the edits)."""
        hits = []
        for row in self.text:
            found = find_term(text, row.value, max_edits(row.value))
            if found is not None:
                hits.append(_hit(row, found.distance, None))
        return hits

    def lookup_pdq(self, hexes: list[str], *, radius: int | None = None) -> list[list[Hit]]:
        reach = radius
        if reach is None:
            reach = max((bank.pdq_threshold for bank in self.banks.values()), default=0)
        pdq = signal_type("pdq")
        found: list[list[Hit]] = []
        for query in hexes:
            hits = []
            for row in self.pdq:
                comparison = pdq.compare(query, row.hex, reach)
                if comparison.matched and comparison.distance is not None:
                    hits.append(_hit(row.entry, comparison.distance, row.time))
            found.append(hits)
        return found


def _hit(row: EntryRow, distance: int, time: float | None) -> Hit:
    return Hit(row.entry_id, row.bank_id, row.label_set_id, row.signal_type, distance, time)
