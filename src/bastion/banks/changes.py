"""A bank's changes in order, so another Bastion can follow the bank.

Every change to an entry stamps it with the store-wide change sequence
``seq`` (``bastion.store.models``); a withdrawn entry keeps its row.  So
the entries of a bank ordered by ``(seq, id)`` list the present state of
every entry that changed after any point, withdrawals included, and a
follower that remembers the position of the last one it applied misses
nothing: writers take ``seq`` under a lock held until they commit, so no
change can later appear behind a position already read.  An entry that
changes twice between two reads is listed once, in its newer state.

Many entries share one ``seq`` (an import stamps all of its rows with one),
so a position is ``(seq, entry id)``; ``"S"`` stands for "after all of S".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select, tuple_

from bastion.banks.bank import BankError, bank_row
from bastion.banks.stored import read_value
from bastion.fingerprint import Signal
from bastion.labels import parse_stored_labels
from bastion.store import Store
from bastion.store.models import Entry, LabelSet

#: A database id or sequence number fits a signed 64-bit integer.
_LAST = 2**63 - 1
_POSITION = re.compile(r"([0-9]{1,19})(?:\.([0-9]{1,19}))?")
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000


@dataclass(frozen=True, order=True, slots=True)
class Position:
    """Where a follower is: after the change of entry ``entry_id`` at ``seq``."""

    seq: int
    entry_id: int = _LAST

    @classmethod
    def parse(cls, text: str) -> Position:
        """``"S"`` (after every change numbered S) or ``"S.ID"``; refused otherwise."""
        found = _POSITION.fullmatch(text)
        if found is None:
            raise BankError(f"not a change position: {text[:40]!r} (expected SEQ or SEQ.ID)")
        seq, entry_id = found.groups()
        position = cls(int(seq), _LAST if entry_id is None else int(entry_id))
        if max(position.seq, position.entry_id) > _LAST:
            raise BankError(f"change position out of range: {text[:40]!r}")
        return position

    def __str__(self) -> str:
        return str(self.seq) if self.entry_id == _LAST else f"{self.seq}.{self.entry_id}"


@dataclass(frozen=True, slots=True)
class BankChange:
    """An entry as it is now, listed at the position of its latest change."""

    position: Position
    signal: Signal
    withdrawn: bool
    labels: tuple[str, ...]
    external_id: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.position.seq,
            "id": self.position.entry_id,
            "op": "withdraw" if self.withdrawn else "add",
            "signal_type": self.signal.type,
            "value": self.signal.value,
            "external_id": self.external_id,
            "labels": list(self.labels),
        }


@dataclass(frozen=True, slots=True)
class ChangesPage:
    """Changes after a position; ``next`` is where the following page starts."""

    changes: list[BankChange]
    next: Position
    #: Whether changes past ``next`` were already there when the page was read.
    more: bool


def bank_changes(
    store: Store, bank: str, *, after: Position, limit: int = DEFAULT_LIMIT
) -> ChangesPage:
    """The first ``limit`` changes of ``bank`` after ``after``, in order."""
    if not 1 <= limit <= MAX_LIMIT:
        raise BankError(f"limit must be 1 to {MAX_LIMIT:,}, not {limit}")
    with store.sessions() as session:
        bank_id = bank_row(session, bank).id
        rows = session.execute(
            select(
                Entry.seq,
                Entry.id,
                Entry.signal_type,
                Entry.value,
                Entry.payload,
                Entry.withdrawn_at.is_not(None),
                LabelSet.labels,
                Entry.external_id,
            )
            .join(LabelSet, LabelSet.id == Entry.label_set_id)
            .where(
                Entry.bank_id == bank_id,
                tuple_(Entry.seq, Entry.id) > tuple_(after.seq, after.entry_id),
            )
            .order_by(Entry.seq, Entry.id)
            .limit(limit + 1)
        ).all()
    changes = [
        BankChange(
            Position(seq, entry_id),
            Signal(signal_type, read_value(value, payload)),
            bool(withdrawn),
            parse_stored_labels(labels),
            external_id,
        )
        for seq, entry_id, signal_type, value, payload, withdrawn, labels, external_id in rows[
            :limit
        ]
    ]
    return ChangesPage(changes, changes[-1].position if changes else after, len(rows) > limit)


def latest_change(store: Store, bank: str) -> Position | None:
    """The position of ``bank``'s newest change (None for a bank never filled):
    where a follower stands once it has read them all, so the bank's version."""
    with store.sessions() as session:
        bank_id = bank_row(session, bank).id
        newest = session.execute(
            select(Entry.seq, Entry.id)
            .where(Entry.bank_id == bank_id)
            .order_by(Entry.seq.desc(), Entry.id.desc())
            .limit(1)
        ).first()
    return None if newest is None else Position(newest.seq, newest.id)
