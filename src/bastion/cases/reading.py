"""What a case holds, read for people: counts, the clusters in order, one cluster.

Pages of clusters are read by keyset (the cluster's place, ``sort_key``,
then its id) from an index, so the first page and the ten-thousandth cost
the same and a case of a million items is never loaded into memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, func, select, tuple_

from bastion.cases.priority import Tier, tier_keys
from bastion.cases.records import CaseError, CaseNotFound, CaseRecord, ClusterStatus, case_named
from bastion.store import Store
from bastion.store.models import Case, CaseCluster, CaseItem, CaseSource, User

#: Clusters on one page of the grid.
PAGE_SIZE = 48
#: Members listed with a cluster, at most (the rest are counted).
MEMBERS_SHOWN = 200


@dataclass(frozen=True, slots=True)
class ClusterCard:
    id: int
    tier: Tier
    size: int
    reason: str
    status: str
    category: str | None
    category_title: str
    claimed_by: str | None
    first_item: int


@dataclass(frozen=True, slots=True)
class ClusterPage:
    clusters: list[ClusterCard]
    #: The cursor of the next page (None: this is the last).
    after: str | None


@dataclass(frozen=True, slots=True)
class MemberLine:
    id: int
    item_id: str
    media_type: str | None
    size: int | None
    status: str
    verdict: str
    known: list[str]
    provenance: str | None
    camera: str | None
    category: str | None
    decision_id: int | None


@dataclass(frozen=True, slots=True)
class ClusterDetail:
    card: ClusterCard
    members: list[MemberLine]


@dataclass(frozen=True, slots=True)
class SourceLine:
    paths: list[str]
    added_at: datetime
    added_by: str
    items: int
    unchecked: dict[str, int]


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case: CaseRecord
    sources: list[SourceLine]
    items: int
    #: Items that were not checked, by reason: never counted as clean.
    unchecked: dict[str, int]
    #: (tier, clusters, items, undecided clusters), best tier first.
    tiers: list[tuple[Tier, int, int, int]]
    #: (category label or None, items): the analyst's category, else the bank's.
    categories: list[tuple[str | None, int]]

    def to_json(self) -> dict[str, Any]:
        scheme = self.case.scheme
        return {
            "case": self.case.name,
            "created_at": self.case.created_at.isoformat(),
            "scheme": scheme.name,
            "banks": list(self.case.banks),
            "pdq_threshold": self.case.pdq_threshold,
            "items": self.items,
            "unchecked": sum(self.unchecked.values()),
            "unchecked_by_reason": self.unchecked,
            "tiers": [
                {
                    "tier": int(tier),
                    "title": tier.title,
                    "clusters": clusters,
                    "items": items,
                    "undecided": undecided,
                }
                for tier, clusters, items, undecided in self.tiers
            ],
            "categories": [
                {"category": label, "title": scheme.title(label), "items": items}
                for label, items in self.categories
            ],
            "sources": [
                {
                    "paths": source.paths,
                    "added_at": source.added_at.isoformat(),
                    "added_by": source.added_by,
                    "items": source.items,
                    "unchecked": source.unchecked,
                }
                for source in self.sources
            ],
        }


class CaseReader:
    def __init__(self, store: Store) -> None:
        self.store = store

    def names(self) -> list[str]:
        with self.store.sessions() as session:
            return list(session.execute(select(Case.name).order_by(Case.name)).scalars())

    def summary(self, name: str) -> CaseSummary:
        with self.store.sessions() as session:
            case = case_named(session, name)
            sources = [
                SourceLine(
                    json.loads(row.paths),
                    row.added_at,
                    row.added_by,
                    row.items,
                    json.loads(row.unchecked),
                )
                for row in session.execute(
                    select(CaseSource).where(CaseSource.case_id == case.id).order_by(CaseSource.id)
                ).scalars()
            ]
            unchecked: dict[str, int] = {}
            for source in sources:
                for reason, count in source.unchecked.items():
                    unchecked[reason] = unchecked.get(reason, 0) + count
            undecided = func.sum((CaseCluster.status != ClusterStatus.DECIDED).cast(Integer))
            tiers = [
                (Tier(tier), int(clusters), int(items or 0), int(open_ or 0))
                for tier, clusters, items, open_ in session.execute(
                    select(CaseCluster.tier, func.count(), func.sum(CaseCluster.size), undecided)
                    .where(CaseCluster.case_id == case.id)
                    .group_by(CaseCluster.tier)
                    .order_by(CaseCluster.tier)
                )
            ]
            effective = func.coalesce(CaseItem.category, CaseItem.bank_category)
            categories: list[tuple[str | None, int]] = [
                (label, int(count))
                for label, count in session.execute(
                    select(effective, func.count())
                    .where(CaseItem.case_id == case.id)
                    .group_by(effective)
                    .order_by(effective)
                )
            ]
        return CaseSummary(
            case=case,
            sources=sources,
            items=sum(source.items for source in sources),
            unchecked=unchecked,
            tiers=tiers,
            categories=categories,
        )

    def page(
        self,
        name: str,
        *,
        after: str | None = None,
        limit: int = PAGE_SIZE,
        tier: Tier | None = None,
        undecided: bool = False,
    ) -> ClusterPage:
        """One page of the case's clusters in priority order, after the cursor."""
        with self.store.sessions() as session:
            case = case_named(session, name)
            query = _cards().where(CaseCluster.case_id == case.id)
            if after:
                query = query.where(tuple_(CaseCluster.sort_key, CaseCluster.id) > _cursor(after))
            if tier is not None:
                # A tier is a range of the order key: the index seeks to it.
                low, high = tier_keys(tier)
                query = query.where(CaseCluster.sort_key >= low, CaseCluster.sort_key < high)
            if undecided:
                query = query.where(CaseCluster.status != ClusterStatus.DECIDED)
            rows = session.execute(
                query.order_by(CaseCluster.sort_key, CaseCluster.id).limit(limit + 1)
            ).all()
            cards = [_card(case, row) for row in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more else None
        return ClusterPage(cards, f"{last.sort_key}.{last.id}" if last is not None else None)

    def cluster(self, name: str, cluster_id: int) -> ClusterDetail:
        with self.store.sessions() as session:
            case = case_named(session, name)
            row = session.execute(_cards().where(CaseCluster.id == cluster_id)).first()
            if row is None or row.case_id != case.id:
                raise CaseNotFound(f"case {name} has no cluster {cluster_id}")
            members = [
                _member(item)
                for item in session.execute(
                    select(CaseItem)
                    .where(CaseItem.cluster_id == cluster_id)
                    .order_by(CaseItem.number)
                    .limit(MEMBERS_SHOWN)
                ).scalars()
            ]
            return ClusterDetail(_card(case, row), members)


def _cards() -> Any:
    return select(
        CaseCluster.id,
        CaseCluster.case_id,
        CaseCluster.tier,
        CaseCluster.sort_key,
        CaseCluster.size,
        CaseCluster.reason,
        CaseCluster.status,
        CaseCluster.category,
        CaseCluster.bank_category,
        CaseCluster.first_item,
        User.name.label("claimed_by"),
    ).outerjoin(User, User.id == CaseCluster.claimed_by)


def _card(case: CaseRecord, row: Any) -> ClusterCard:
    category = row.category or row.bank_category
    return ClusterCard(
        id=row.id,
        tier=Tier(row.tier),
        size=row.size,
        reason=row.reason,
        status=row.status,
        category=category,
        category_title=case.scheme.title(category),
        claimed_by=row.claimed_by if row.status == ClusterStatus.CLAIMED else None,
        first_item=row.first_item,
    )


def _member(item: CaseItem) -> MemberLine:
    matches = json.loads(item.matches)
    return MemberLine(
        id=item.id,
        item_id=item.item_id,
        media_type=item.media_type,
        size=item.size,
        status=item.status,
        verdict=item.verdict,
        known=sorted({m["bank"] for m in matches if not m.get("suppressed")}),
        provenance=item.provenance,
        camera=item.camera,
        category=item.category,
        decision_id=item.decision_id,
    )


def _cursor(text: str) -> tuple[int, int]:
    try:
        key, _, cluster = text.partition(".")
        return int(key), int(cluster)
    except ValueError:
        raise CaseError(f"not a page cursor: {text[:40]!r}") from None
