"""A case as documents: the VICS 2.0 export and the case report's data.

Both are read from the store a batch at a time, so a case of a million items
exports in constant memory.  The export carries each item's category in
Project VIC's scale (``Category``) when the case has one, marks categories a
bank's labels gave (``IsPrecategorized``), and keeps any other scheme's
category as a tag, so nothing an analyst decided is dropped on the way to
Griffeye.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from bastion.cases.priority import Tier
from bastion.cases.reading import CaseReader
from bastion.cases.records import CaseRecord, case_named
from bastion.cases.report import (
    CaseReportData,
    ReportBank,
    ReportCluster,
    ReportDecision,
    ReportSource,
)
from bastion.formats.vics import CaseMedia
from bastion.store import Store
from bastion.store.models import CaseCluster, CaseDecision, CaseItem, CaseSource, User

#: Clusters the report lists by size.
LARGEST = 20
_VIC = "projectvic:"


@dataclass
class ExportCounts:
    written: int = 0
    #: Items VICS cannot carry (no MD5 or SHA-1: nothing of them could be read), by reason.
    left_out: dict[str, int] = field(default_factory=dict)


def case_media(store: Store, name: str, counts: ExportCounts) -> Iterator[CaseMedia]:
    """The case's items as VICS Media, in case order; what cannot be carried is counted."""
    with store.sessions() as session:
        case = case_named(session, name)
        roots = _roots(session, case)
        rows = session.execute(
            select(CaseItem, CaseSource.paths)
            .join(CaseSource, CaseSource.id == CaseItem.source_id)
            .where(CaseItem.case_id == case.id)
            .order_by(CaseItem.number),
            execution_options={"yield_per": 5000},
        )
        for item, paths in rows:
            if not (item.md5 or item.sha1):
                reason = item.error_code or item.status
                counts.left_out[reason] = counts.left_out.get(reason, 0) + 1
                continue
            counts.written += 1
            yield _media(item, roots.get(paths, []))


def _roots(session: Session, case: CaseRecord) -> dict[str, list[str]]:
    rows = session.execute(select(CaseSource.paths).where(CaseSource.case_id == case.id)).scalars()
    return {paths: json.loads(paths) for paths in rows}


def _media(item: CaseItem, roots: list[str]) -> CaseMedia:
    label = item.category or item.bank_category
    category = int(label[len(_VIC) :]) if label and label.startswith(_VIC) else None
    tags = [f"cluster:{item.cluster_id}"]
    if label and category is None:
        tags.append(label)
    relative = _relative(item.item_id, roots)
    return CaseMedia(
        media_id=item.id,
        md5=item.md5,
        sha1=item.sha1,
        category=category,
        media_size=item.size,
        relative_file_path=relative,
        file_name=PurePath(relative.rsplit("!", 1)[-1]).name,
        is_distributed=None,
        tags=tuple(tags),
        is_precategorized=(item.category is None and item.bank_category is not None) or None,
    )


def _relative(item_id: str, roots: list[str]) -> str:
    """The item's path inside the evidence it was found in."""
    for root in roots:
        if item_id == root:
            return PurePath(root).name
        if item_id.startswith(root.rstrip("/") + "/"):
            return item_id[len(root.rstrip("/")) + 1 :]
    return item_id


def report_data(store: Store, name: str) -> CaseReportData:
    """Everything the case report shows, counted in the store."""
    summary = CaseReader(store).summary(name)
    case = summary.case
    scheme = case.scheme
    with store.sessions() as session:
        month = func.substr(CaseItem.captured_at, 1, 7)
        months = session.execute(
            select(month, func.count())
            .where(CaseItem.case_id == case.id, CaseItem.captured_at.is_not(None))
            .group_by(month)
            .order_by(month)
        ).all()
        levels = session.execute(
            select(func.coalesce(CaseItem.provenance, "not assessed"), func.count())
            .where(CaseItem.case_id == case.id)
            .group_by(CaseItem.provenance)
            .order_by(func.count().desc())
        ).all()
        largest = session.execute(
            select(CaseCluster)
            .where(CaseCluster.case_id == case.id)
            .order_by(CaseCluster.size.desc(), CaseCluster.id)
            .limit(LARGEST)
        ).scalars()
        clusters = [
            ReportCluster(
                c.id,
                c.size,
                f"{c.tier}. {Tier(c.tier).title}",
                scheme.title(c.category or c.bank_category),
                c.reason,
            )
            for c in largest
        ]
        decisions = _decisions(session, case)
        versions = [
            json.loads(text)
            for text in session.execute(
                select(CaseSource.bank_versions)
                .where(CaseSource.case_id == case.id)
                .order_by(CaseSource.id)
            ).scalars()
        ]
    return CaseReportData(
        case=case.name,
        created_at=case.created_at,
        generated_at=datetime.now(UTC),
        scheme=scheme.name,
        sources=[
            ReportSource(", ".join(s.paths), s.added_at, s.items, sum(s.unchecked.values()))
            for s in summary.sources
        ],
        counts_by_priority=[
            (tier.title, clusters_, items) for tier, clusters_, items, _ in summary.tiers
        ],
        counts_by_category=[(scheme.title(label), items) for label, items in summary.categories],
        capture_months=[(str(m).replace(":", "-"), int(n)) for m, n in months],
        provenance_levels=[(str(level), int(n)) for level, n in levels],
        largest_clusters=clusters,
        banks=_banks(versions),
        decisions=decisions,
        unchecked=sorted(summary.unchecked.items()),
    )


def _decisions(session: Session, case: CaseRecord) -> list[ReportDecision]:
    undoer = aliased(User)
    rows = session.execute(
        select(CaseDecision, User.name, undoer.name)
        .join(User, User.id == CaseDecision.user_id)
        .outerjoin(undoer, undoer.id == CaseDecision.undone_by)
        .where(CaseDecision.case_id == case.id)
        .order_by(CaseDecision.at, CaseDecision.id)
    ).all()
    found: list[ReportDecision] = []
    for decision, analyst, undone_by in rows:
        title = case.scheme.title(decision.category)
        found.append(
            ReportDecision(
                decision.at, analyst, decision.cluster_id, decision.members, "categorised", title
            )
        )
        if decision.undone_at is not None:
            found.append(
                ReportDecision(
                    decision.undone_at,
                    undone_by or "?",
                    decision.cluster_id,
                    decision.members,
                    "undone",
                    title,
                )
            )
    return sorted(found, key=lambda d: d.at)


def _banks(versions: list[dict[str, dict[str, object]]]) -> list[ReportBank]:
    """Each bank as the newest evidence was matched against it."""
    latest: dict[str, dict[str, object]] = {}
    for scan in versions:
        latest.update(scan)
    banks = []
    for name, info in sorted(latest.items()):
        last = info.get("last_import") or {}
        assert isinstance(last, dict)
        at = last.get("at")
        banks.append(
            ReportBank(
                name,
                str(info.get("kind", "")),
                int(str(info.get("entries", 0))),
                None if last.get("version") is None else str(last.get("version")),
                datetime.fromisoformat(str(at)) if at else None,
            )
        )
    return banks
