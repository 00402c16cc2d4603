"""Making a case: its record, each piece of evidence's scan read in, and its clusters.

Evidence is scanned by the scan engine into a folder of the case (so a
killed scan resumes, and the case keeps the Parquet it was built from);
:meth:`CaseBuilder.add_scanned` then clusters every item of the case -
streaming the hashes from each scan's Parquet - and stores the new items,
the clusters and their places in one transaction.

Cluster ids are stable as evidence is added: a cluster that gains members
keeps its id, and clusters that new evidence joins become the one with the
smallest id, so a decision made on a cluster stays with it.  A cluster that
gains members after it was decided is open again: its new members are not
categorised until an analyst looks at them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.cases.clusters import ClusterInput, cluster
from bastion.cases.priority import ClusterFacts, ItemFacts, item_facts, place
from bastion.cases.records import CaseError, CaseRecord, ClusterStatus, case_named
from bastion.cases.schemes import CaseScheme, case_scheme
from bastion.media.video import VideoOptions
from bastion.pipeline import Status
from bastion.scan.results import RESULTS, iter_rows
from bastion.store import Store
from bastion.store.bulk import insert_rows, new_ids, one_of
from bastion.store.models import Case, CaseCluster, CaseItem, CaseSource, table

#: Rows inserted per statement batch.
BATCH = 5000
_ITEM_COLUMNS = [
    "id",
    "case_id",
    "number",
    "source_id",
    "item_id",
    "status",
    "error_code",
    "error",
    "media_type",
    "size",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "low_quality",
    "verdict",
    "matches",
    "bank_category",
    "generation",
    "edited",
    "camera",
    "provenance",
    "captured_at",
    "details",
    "cluster_id",
]
_SCAN_COLUMNS = [
    "item_id",
    "status",
    "error_code",
    "error",
    "media_type",
    "size",
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "low_quality",
    "verdict",
    "matches",
    "suppressed",
    "provenance",
    "provenance_evidence",
]
SCANS = "scans"
#: Videos of a case are hashed at every frame, dropping each frame within 16
#: bits of the last one kept.  One frame a second, the scan's default, samples
#: two edits of a clip at different moments, and they no longer match (two
#: edits of the test clip: 16% of frames at 1 fps, 100% at every frame).  A
#: pruned frame is within 16 bits of a kept one, so a frame it would have
#: matched within 15 bits still matches the kept one within 31.
VIDEO_FRAMES = VideoOptions(interval=0.0, prune_bits=16)


@dataclass(frozen=True, slots=True)
class AddReport:
    """What one piece of evidence added to a case."""

    items: int
    #: Items not checked (unreadable, skipped members ...), by reason.
    unchecked: dict[str, int]
    clusters: int
    #: Existing clusters the new evidence joined into others.
    merged: int
    reopened: int = 0
    bank_versions: dict[str, Any] = field(default_factory=dict)


class CaseBuilder:
    def __init__(self, store: Store, actor: str) -> None:
        self.store = store
        self.actor = actor

    def create(
        self,
        name: str,
        *,
        banks: Sequence[str],
        scheme: str,
        categories: Sequence[str] = (),
        pdq_threshold: int,
        folder: Path,
    ) -> CaseRecord:
        """A new, empty case; its evidence is added with :meth:`add_scanned`."""
        chosen = case_scheme(scheme, categories)
        if not name or len(name) > 64 or "/" in name:
            raise CaseError("a case name is 1-64 characters without '/'")
        with self.store.transaction() as session:
            if session.execute(select(Case.id).where(Case.name == name)).first():
                raise CaseError(f"case {name!r} exists; add evidence with `bastion case add`")
            row = Case(
                name=name,
                created_at=datetime.now(UTC),
                created_by=self.actor,
                scheme=chosen.name,
                categories=json.dumps([c.label for c in chosen.categories]),
                banks=json.dumps(list(banks)),
                pdq_threshold=pdq_threshold,
                folder=str(folder.resolve()),
            )
            session.add(row)
            session.flush()
            audit.record(
                session, self.actor, "case.create", f"case:{name}", banks=list(banks), scheme=scheme
            )
            return CaseRecord.from_row(row)

    def scan_folder(self, case: CaseRecord) -> Path:
        """Where the next evidence's scan goes: a scan left unfinished is resumed."""
        with self.store.sessions() as session:
            added = session.execute(
                select(func.count()).where(CaseSource.case_id == case.id)
            ).scalar_one()
        return case.folder / SCANS / f"{added + 1:04d}"

    def add_scanned(self, case: CaseRecord, paths: Sequence[str], folder: Path) -> AddReport:
        """Read a finished scan of new evidence into the case and recluster it."""
        summary = json.loads((folder / "summary.json").read_text())
        with self.store.sessions() as session:
            scans = [
                Path(s)
                for s in session.execute(
                    select(CaseSource.scan_folder)
                    .where(CaseSource.case_id == case.id)
                    .order_by(CaseSource.id)
                ).scalars()
            ]
        if folder.resolve() in [s.resolve() for s in scans]:
            raise CaseError(f"{folder} is already part of case {case.name}")
        labels = cluster(
            ClusterInput.from_parquet([s / RESULTS for s in [*scans, folder]]),
            pdq_radius=case.pdq_threshold,
        )
        with self.store.transaction() as session:
            source = CaseSource(
                case_id=case.id,
                paths=json.dumps(list(paths)),
                scan_folder=str(folder.resolve()),
                added_at=datetime.now(UTC),
                added_by=self.actor,
                items=0,
                unchecked="{}",
                bank_versions=json.dumps(summary.get("banks") or {}),
            )
            session.add(source)
            session.flush()
            merge = _Merge(session, case, labels)
            unchecked = _insert_items(session, case, source.id, folder / RESULTS, merge)
            source.items = len(labels) - merge.known
            source.unchecked = json.dumps(unchecked)
            reopened = place_clusters(session, case, merge.touched)
            audit.record(
                session,
                self.actor,
                "case.add",
                f"case:{case.name}",
                paths=list(paths),
                items=source.items,
                unchecked=sum(unchecked.values()),
                merged=len(merge.merged),
            )
        return AddReport(
            items=len(labels) - merge.known,
            unchecked=unchecked,
            clusters=len(merge.touched),
            merged=len(merge.merged),
            reopened=reopened,
            bank_versions=summary.get("banks") or {},
        )


class _Merge:
    """Cluster ids for the case's components: existing ids kept, new ones made."""

    def __init__(self, session: Session, case: CaseRecord, labels: NDArray[np.int64]) -> None:
        old = np.fromiter(
            session.execute(
                select(CaseItem.cluster_id)
                .where(CaseItem.case_id == case.id)
                .order_by(CaseItem.number)
            ).scalars(),
            dtype=np.int64,
        )
        self.known = len(old)
        components, inverse = np.unique(labels, return_inverse=True)
        target = np.full(len(components), -1, dtype=np.int64)
        # Each component takes the smallest existing cluster id among its old members.
        old_components = inverse[: self.known]
        if self.known:
            order = np.lexsort((old, old_components))
            first = np.ones(len(order), dtype=bool)
            first[1:] = old_components[order][1:] != old_components[order][:-1]
            target[old_components[order][first]] = old[order][first]
        fresh = np.nonzero(target < 0)[0]
        connection = session.connection()
        target[fresh] = new_ids(connection, table(CaseCluster), len(fresh))
        self.cluster_of = target[inverse]
        moved = np.nonzero(self.cluster_of[: self.known] != old)[0]
        self.merged = set(old[moved].tolist()) - set(target.tolist())
        self.touched = set(np.unique(self.cluster_of[self.known :]).tolist()) | set(
            self.cluster_of[moved].tolist()
        )
        if len(moved):
            numbers = [int(n) for n in moved]
            for start in range(0, len(numbers), BATCH):
                for number in numbers[start : start + BATCH]:
                    session.execute(
                        update(CaseItem)
                        .where(CaseItem.case_id == case.id, CaseItem.number == number)
                        .values(cluster_id=int(self.cluster_of[number]))
                    )
        if self.merged:
            session.execute(
                delete(CaseCluster).where(
                    one_of(CaseCluster.id, sorted(self.merged), connection.dialect.name)
                )
            )


def _insert_items(
    session: Session, case: CaseRecord, source_id: int, results: Path, merge: _Merge
) -> dict[str, int]:
    """Insert the scan's rows as the case's next items; the unchecked, by reason."""
    unchecked: dict[str, int] = {}
    connection = session.connection()
    items = table(CaseItem)
    batch: list[tuple[Any, ...]] = []
    number = merge.known
    for row in iter_rows(results, _SCAN_COLUMNS):
        facts = item_facts(row, case.scheme)
        for reason in _not_checked(row, facts):
            unchecked[reason] = unchecked.get(reason, 0) + 1
        batch.append(_item_row(case.id, number, source_id, row, facts, merge.cluster_of[number]))
        number += 1
        if len(batch) == BATCH:
            _flush(connection, items, batch)
    _flush(connection, items, batch)
    return unchecked


def _not_checked(row: dict[str, Any], facts: ItemFacts) -> list[str]:
    """Why an item was not fully checked (the scan's own reasons), if it was not."""
    if not facts.checked:
        return [row.get("error_code") or row.get("status") or "unknown"]
    reasons = ["low-quality PDQ"] if facts.low_quality else []
    return reasons + ["match suppressed by an allowlist"] * bool(facts.suppressed_banks)


def _flush(connection: Any, items: Any, batch: list[tuple[Any, ...]]) -> None:
    if batch:
        ids = new_ids(connection, items, len(batch))
        insert_rows(
            connection, items, _ITEM_COLUMNS, [(i, *row) for i, row in zip(ids, batch, strict=True)]
        )
        batch.clear()


def _item_row(
    case_id: int,
    number: int,
    source_id: int,
    row: dict[str, Any],
    facts: ItemFacts,
    cluster_id: np.int64,
) -> tuple[Any, ...]:
    matches = [{**m, "suppressed": False} for m in row.get("matches") or []]
    matches += [{**m, "suppressed": True} for m in row.get("suppressed") or []]
    return (
        case_id,
        number,
        source_id,
        row["item_id"],
        row["status"],
        row.get("error_code"),
        row.get("error"),
        row.get("media_type"),
        row.get("size"),
        row.get("md5"),
        row.get("sha1"),
        row.get("sha256"),
        row.get("pdq"),
        bool(row.get("low_quality")),
        row.get("verdict") or "unknown",
        json.dumps(matches),
        facts.bank_category,
        facts.generation,
        facts.edited,
        facts.camera,
        row.get("provenance"),
        facts.captured_at,
        json.dumps(facts.details),
        int(cluster_id),
    )


def _stored_facts(row: Any) -> ItemFacts:
    """An item's facts as the store keeps them (no need to read its scan again)."""
    if row.status != Status.HASHED:
        return ItemFacts(checked=False)
    matches = json.loads(row.matches) if row.matches != "[]" else []
    return ItemFacts(
        checked=True,
        known_banks=tuple(sorted({m["bank"] for m in matches if not m.get("suppressed")})),
        suppressed_banks=tuple(sorted({m["bank"] for m in matches if m.get("suppressed")})),
        low_quality=row.low_quality,
        bank_category=row.bank_category,
        generation=row.generation,
        edited=row.edited,
        camera=row.camera,
    )


def place_clusters(session: Session, case: CaseRecord, clusters: set[int]) -> int:
    """Recompute the members, tier and reason of ``clusters`` (new ones are
    inserted); returns how many decided clusters are open again."""
    if not clusters:
        return 0
    existing = {
        row.id: row
        for row in _rows_of(
            session, select(CaseCluster.id, CaseCluster.status), CaseCluster.id, clusters, case.id
        )
    }
    reopened = 0
    fresh: list[dict[str, Any]] = []
    for cluster_id, facts, first in _cluster_facts(session, case, clusters):
        placement = place(facts, case.scheme)
        values: dict[str, Any] = {
            "size": facts.size,
            "first_item": first,
            "tier": int(placement.tier),
            "sort_key": placement.sort_key(facts.size),
            "reason": placement.reason,
            "bank_category": placement.bank_category,
        }
        current = existing.get(cluster_id)
        if current is None:
            fresh.append({"id": cluster_id, "case_id": case.id, "status": "open", **values})
            continue
        decided = facts.categorised == facts.size
        if current.status == ClusterStatus.DECIDED and not decided:
            reopened += 1
        if current.status != ClusterStatus.CLAIMED:  # a claim stays its holder's
            values["status"] = ClusterStatus.DECIDED if decided else ClusterStatus.OPEN
        session.execute(update(CaseCluster).where(CaseCluster.id == cluster_id).values(**values))
    for start in range(0, len(fresh), BATCH):
        session.execute(table(CaseCluster).insert(), fresh[start : start + BATCH])
    return reopened


def _cluster_facts(
    session: Session, case: CaseRecord, clusters: set[int]
) -> Iterator[tuple[int, ClusterFacts, int]]:
    """(cluster id, its members' facts, its first member's id), streamed in cluster order."""
    columns = select(
        CaseItem.id,
        CaseItem.cluster_id,
        CaseItem.status,
        CaseItem.matches,
        CaseItem.bank_category,
        CaseItem.generation,
        CaseItem.edited,
        CaseItem.camera,
        CaseItem.low_quality,
        CaseItem.category,
    ).order_by(CaseItem.cluster_id, CaseItem.number)
    current: int | None = None
    facts = ClusterFacts()
    first = 0
    for row in _rows_of(session, columns, CaseItem.cluster_id, clusters, case.id):
        if row.cluster_id != current:
            if current is not None:
                yield current, facts, first
            current, facts, first = row.cluster_id, ClusterFacts(), row.id
        facts.add(_stored_facts(row), categorised=row.category is not None)
    if current is not None:
        yield current, facts, first


#: Above this many clusters, scan the whole case rather than list them.
_WHOLE_CASE = 10_000


def _rows_of(
    session: Session, query: Any, column: Any, ids: set[int], case_id: int
) -> Iterator[Any]:
    """Rows of ``query`` whose ``column`` is in ``ids``, streamed."""
    owner = column.table.c.case_id == case_id
    if len(ids) > _WHOLE_CASE:
        for row in session.execute(query.where(owner), execution_options={"yield_per": BATCH}):
            if getattr(row, column.key) in ids:
                yield row
        return
    dialect = session.get_bind().dialect.name
    ordered = sorted(ids)
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        yield from session.execute(query.where(owner, one_of(column, chunk, dialect)))


def open_case(store: Store, name: str) -> CaseRecord:
    with store.sessions() as session:
        return case_named(session, name)


__all__ = ["AddReport", "CaseBuilder", "CaseScheme", "open_case", "place_clusters"]
