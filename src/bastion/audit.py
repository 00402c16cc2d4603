"""An append-only, hash-chained log of every security-relevant action.

Each record's digest covers its own fields and the digest of the record
before it, so editing a record breaks its digest, deleting one breaks the
chain, and deleting the newest ones shows as a mismatch with the head row
(which every append updates in the same transaction).  Account and review
actions write their record in their own transaction (an action that rolls
back leaves no record); bank changes made through the service are recorded
as soon as they commit.

What the chain cannot show by itself is a rewrite of the whole log by
someone with write access to the database; ``bastion audit verify`` prints
the head digest so it can be kept elsewhere (a ticket, a notarised file)
and compared later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bastion.store import Store
from bastion.store.models import AuditHead, AuditRecord, as_utc

GENESIS = "0" * 64
_BATCH = 5_000


def _digest(
    seq: int, at: datetime, actor: str, action: str, target: str, detail: str, previous: str
) -> str:
    canonical = json.dumps(
        [
            seq,
            as_utc(at).isoformat(timespec="microseconds"),
            actor,
            action,
            target,
            detail,
            previous,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(
    session: Session, actor: str, action: str, target: str = "", **detail: Any
) -> AuditRecord:
    """Append a record in ``session``'s transaction (committed with the action)."""
    # The UPDATE takes the head row's write lock first: concurrent writers in
    # other processes queue here instead of both extending the same digest.
    seq = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq)
    ).scalar_one()
    previous = session.execute(select(AuditHead.digest).where(AuditHead.id == 1)).scalar_one()
    at = datetime.now(UTC)
    text = json.dumps(detail, sort_keys=True, default=str, ensure_ascii=False)
    digest = _digest(seq, at, actor, action, target, text, previous)
    entry = AuditRecord(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        target=target,
        detail=text,
        previous=previous,
        digest=digest,
    )
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(digest=digest))
    return entry


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    records: int
    head_seq: int
    head_digest: str
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(store: Store) -> Verification:
    """Recompute every digest and follow the chain to the head row."""
    problems: list[Problem] = []
    expected_seq, previous, count = 1, GENESIS, 0
    for entry in _records(store):
        count += 1
        if entry.seq != expected_seq:
            missing = (
                f"{expected_seq}"
                if entry.seq == expected_seq + 1
                else f"{expected_seq}-{entry.seq - 1}"
            )
            problems.append(Problem(entry.seq, f"record(s) {missing} missing"))
        if entry.previous != previous:
            problems.append(Problem(entry.seq, "does not follow the record before it"))
        recomputed = _digest(
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.target,
            entry.detail,
            entry.previous,
        )
        if recomputed != entry.digest:
            problems.append(Problem(entry.seq, "edited: its contents do not match its digest"))
        expected_seq, previous = entry.seq + 1, entry.digest
    with store.sessions() as session:
        head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one()
    if head.seq != expected_seq - 1 or head.digest != previous:
        problems.append(
            Problem(
                head.seq, f"the log ends at record {expected_seq - 1} but the head says {head.seq}"
            )
            if head.seq != expected_seq - 1
            else Problem(head.seq, "the newest record does not match the head digest")
        )
    return Verification(count, head.seq, head.digest, tuple(problems))


def _records(store: Store) -> Iterator[AuditRecord]:
    after = 0
    while True:
        with store.sessions() as session:
            batch = list(
                session.execute(
                    select(AuditRecord)
                    .where(AuditRecord.seq > after)
                    .order_by(AuditRecord.seq)
                    .limit(_BATCH)
                ).scalars()
            )
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


def recent(store: Store, limit: int = 100) -> list[AuditRecord]:
    """The newest records, newest first."""
    with store.sessions() as session:
        return list(
            session.execute(
                select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
            ).scalars()
        )
