"""What analysts do in a case: claim a cluster, look, reveal, categorise, undo.

The review queue's protections, for clusters: one analyst holds a cluster
at a time (a conditional UPDATE, so any number of service processes hand a
cluster to exactly one analyst; a claim lapses after ``claim_minutes``);
images are shown blurred and grey unless a person reveals one, and every
reveal - of an image or of an item's metadata - is recorded before the
bytes or the details leave.  A category decided on a cluster is written on
every member, with the decision that set it; a decision can be undone, and
both are in the audit log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.cases.building import place_clusters
from bastion.cases.evidence import read_item
from bastion.cases.records import (
    CaseConflict,
    CaseForbidden,
    CaseNotFound,
    CaseRecord,
    ClusterStatus,
    case_named,
)
from bastion.config import Settings
from bastion.review.items import Reveal
from bastion.review.render import render_item
from bastion.review.viewing import count_reveal
from bastion.store import Store
from bastion.store.bulk import one_of
from bastion.store.models import CaseCluster, CaseDecision, CaseEvent, CaseItem

#: Clusters a claim of "the next one" tries before it says none is free.
_CANDIDATES = 25
#: GPS is shown to this many decimals (about 11 km) until the metadata is revealed.
COARSE_GPS_DECIMALS = 1


@dataclass(frozen=True, slots=True)
class Decided:
    decision_id: int
    cluster_id: int
    category: str
    members: int


class Analysts:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # --- claims -------------------------------------------------------------

    def claim(self, case_name: str, cluster_id: int, who: Principal) -> None:
        """Hold ``cluster_id`` for ``who``: refused while another analyst holds it."""
        _require(who)
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            case = case_named(session, case_name)
            row = _cluster(session, case, cluster_id)
            if row.status == ClusterStatus.CLAIMED and row.claimed_by == who.id:
                return
            taken = session.execute(
                update(CaseCluster)
                .where(CaseCluster.id == cluster_id, self._claimable(decided=True))
                .values(status=ClusterStatus.CLAIMED, claimed_by=who.id, claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise CaseConflict(f"cluster {cluster_id} is held by another analyst")
            _event(session, case, who, "claim", cluster_id=cluster_id)
            audit.record(session, who.actor, "case.claim", f"case:{case.name}/{cluster_id}")

    def claim_next(self, case_name: str, who: Principal) -> int | None:
        """Claim the first undecided cluster in priority order that nobody holds."""
        _require(who)
        with self.store.sessions() as session:
            case = case_named(session, case_name)
            held = session.execute(
                select(CaseCluster.id).where(
                    CaseCluster.case_id == case.id,
                    CaseCluster.status == ClusterStatus.CLAIMED,
                    CaseCluster.claimed_by == who.id,
                )
            ).scalar()
            if held is not None:
                return int(held)
            candidates = session.execute(
                select(CaseCluster.id)
                .where(CaseCluster.case_id == case.id, self._claimable())
                .order_by(CaseCluster.sort_key, CaseCluster.id)
                .limit(_CANDIDATES)
            ).scalars()
        for candidate in list(candidates):
            try:
                self.claim(case_name, candidate, who)
            except CaseConflict:
                continue  # someone else got it first
            return int(candidate)
        return None

    def release(self, case_name: str, cluster_id: int, who: Principal) -> None:
        with self.store.transaction() as session:
            case = case_named(session, case_name)
            self._held(session, case, cluster_id, who)
            session.execute(
                update(CaseCluster)
                .where(CaseCluster.id == cluster_id)
                .values(status=ClusterStatus.OPEN, claimed_by=None, claimed_at=None)
            )
            place_clusters(session, case, {cluster_id})  # decided again if it was
            _event(session, case, who, "release", cluster_id=cluster_id)
            audit.record(session, who.actor, "case.release", f"case:{case.name}/{cluster_id}")

    def _claimable(self, *, decided: bool = False) -> Any:
        """Clusters nobody holds (a claim lapses); decided ones only when asked
        for by id (an analyst changing a decision), never as "the next one"."""
        stale = datetime.now(UTC) - timedelta(minutes=self.settings.claim_minutes)
        lapsed = and_(CaseCluster.status == ClusterStatus.CLAIMED, CaseCluster.claimed_at <= stale)
        free = [ClusterStatus.OPEN.value] + ([ClusterStatus.DECIDED.value] if decided else [])
        return or_(CaseCluster.status.in_(free), lapsed)

    def _held(self, session: Session, case: CaseRecord, cluster_id: int, who: Principal) -> Any:
        _require(who)
        row = _cluster(session, case, cluster_id)
        stale = datetime.now(UTC) - timedelta(minutes=self.settings.claim_minutes)
        if (
            row.status != ClusterStatus.CLAIMED
            or row.claimed_by != who.id
            or _aware(row.claimed_at) <= stale
        ):
            raise CaseConflict(f"cluster {cluster_id} is not claimed by you; claim it first")
        return row

    # --- decisions ----------------------------------------------------------

    def decide(self, case_name: str, cluster_id: int, category: str, who: Principal) -> Decided:
        """Put ``category`` on the cluster and every member; the claim ends."""
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            case = case_named(session, case_name)
            row = self._held(session, case, cluster_id, who)
            chosen = case.scheme.category(category)
            members = session.execute(
                select(CaseItem.id, CaseItem.decision_id).where(CaseItem.cluster_id == cluster_id)
            ).all()
            # Members whose category came from another decision than the cluster's
            # last one (they joined with new evidence) are undone one by one.
            exceptions = {
                str(item): previous for item, previous in members if previous != row.decision_id
            }
            decision = CaseDecision(
                case_id=case.id,
                cluster_id=cluster_id,
                user_id=who.id,
                at=now,
                category=chosen.label,
                members=len(members),
                previous_id=row.decision_id,
                exceptions=json.dumps(exceptions),
            )
            session.add(decision)
            session.flush()
            session.execute(
                update(CaseItem)
                .where(CaseItem.cluster_id == cluster_id)
                .values(category=chosen.label, decision_id=decision.id)
            )
            session.execute(
                update(CaseCluster)
                .where(CaseCluster.id == cluster_id)
                .values(
                    status=ClusterStatus.DECIDED,
                    category=chosen.label,
                    decision_id=decision.id,
                    claimed_by=None,
                    claimed_at=None,
                )
            )
            place_clusters(session, case, {cluster_id})
            _event(session, case, who, "decide", cluster_id=cluster_id, detail=chosen.label)
            audit.record(
                session,
                who.actor,
                "case.decide",
                f"case:{case.name}/{cluster_id}",
                category=chosen.label,
                members=len(members),
                decision=decision.id,
            )
            return Decided(decision.id, cluster_id, chosen.label, len(members))

    def undo(self, case_name: str, cluster_id: int, who: Principal) -> Decided:
        """Take back the cluster's last decision: each member gets back what it had."""
        _require(who)
        now = datetime.now(UTC)
        with self.store.transaction() as session:
            case = case_named(session, case_name)
            row = _cluster(session, case, cluster_id)
            if row.decision_id is None:
                raise CaseConflict(f"cluster {cluster_id} has no decision to undo")
            if row.status == ClusterStatus.CLAIMED and row.claimed_by != who.id:
                raise CaseConflict(f"cluster {cluster_id} is held by another analyst")
            decision = session.get(CaseDecision, row.decision_id)
            assert decision is not None
            exceptions: dict[str, int | None] = json.loads(decision.exceptions)
            restored = {decision.previous_id, *exceptions.values()} - {None}
            categories = (
                {
                    d.id: d.category
                    for d in session.execute(
                        select(CaseDecision).where(
                            one_of(CaseDecision.id, sorted(restored), _dialect(session))
                        )
                    ).scalars()
                }
                if restored
                else {}
            )
            previous = decision.previous_id
            session.execute(
                update(CaseItem)
                .where(CaseItem.cluster_id == cluster_id, CaseItem.decision_id == decision.id)
                .values(decision_id=previous, category=categories.get(previous or -1))
            )
            for item, earlier in exceptions.items():
                session.execute(
                    update(CaseItem)
                    .where(CaseItem.id == int(item), CaseItem.decision_id == decision.id)
                    .values(decision_id=earlier, category=categories.get(earlier or -1))
                )
            decision.undone_at = now
            decision.undone_by = who.id
            session.execute(
                update(CaseCluster)
                .where(CaseCluster.id == cluster_id)
                .values(
                    decision_id=previous,
                    category=categories.get(previous or -1),
                    claimed_by=None,
                    claimed_at=None,
                    status=ClusterStatus.OPEN,
                )
            )
            place_clusters(session, case, {cluster_id})
            _event(session, case, who, "undo", cluster_id=cluster_id, detail=decision.category)
            audit.record(
                session,
                who.actor,
                "case.undo",
                f"case:{case.name}/{cluster_id}",
                decision=decision.id,
                category=decision.category,
            )
            return Decided(decision.id, cluster_id, decision.category, decision.members)

    # --- looking ------------------------------------------------------------

    def image(self, case_name: str, item_id: int, who: Principal, reveal: Reveal | None) -> bytes:
        """A JPEG of the item: blurred and grey, unless ``reveal`` (recorded first).

        The protected view is for anyone who works the case; a reveal needs the
        cluster claimed (or the permission to see every item)."""
        _require(who)
        # The protected view writes nothing: a grid's thumbnails never queue
        # behind each other for the store's write lock.
        opened = self.store.sessions() if reveal is None else self.store.transaction()
        with opened as session:
            case = case_named(session, case_name)
            item = _item(session, case, item_id)
            if reveal is not None:
                self._may_reveal(session, case, item, who)
                if not _revealed_before(session, item, who):
                    count_reveal(session, who)
                _event(session, case, who, "reveal", item.cluster_id, item.id, detail=reveal.value)
                audit.record(
                    session,
                    who.actor,
                    "case.reveal",
                    f"case:{case.name}/item:{item.id}",
                    mode=reveal.value,
                )
            path, media_type = item.item_id, item.media_type or ""
            result = {"matches": json.loads(item.matches)}
        data = read_item(path, self.settings)
        return render_item(data, media_type, result, reveal, self.settings)

    def metadata(
        self, case_name: str, item_id: int, who: Principal, *, reveal: bool
    ) -> dict[str, Any]:
        """The item's camera, capture, GPS, software and generator details.

        Without ``reveal`` nothing identifying is shown: which fields exist, and
        GPS rounded to about 11 km; a reveal is recorded before the details leave."""
        _require(who)
        with self.store.transaction() as session:
            case = case_named(session, case_name)
            item = _item(session, case, item_id)
            details: dict[str, Any] = json.loads(item.details)
            if not reveal:
                return {key: _withheld(key, value) for key, value in details.items()}
            self._may_reveal(session, case, item, who)
            _event(session, case, who, "reveal-metadata", item.cluster_id, item.id)
            audit.record(
                session, who.actor, "case.reveal-metadata", f"case:{case.name}/item:{item.id}"
            )
            return details

    def _may_reveal(
        self, session: Session, case: CaseRecord, item: CaseItem, who: Principal
    ) -> None:
        if who.may(Permission.HOLD):
            return
        assert item.cluster_id is not None
        self._held(session, case, item.cluster_id, who)


def _withheld(key: str, value: Any) -> Any:
    """What the metadata panel shows before a reveal."""
    if key == "gps" and isinstance(value, str) and "," in value:
        latitude, longitude = (float(part) for part in value.split(","))
        decimals = COARSE_GPS_DECIMALS
        return f"{latitude:.{decimals}f},{longitude:.{decimals}f} (approximate; reveal for exact)"
    if key in ("serial", "captured_at", "make", "model"):
        return "(reveal to see)"
    return value


def _revealed_before(session: Session, item: CaseItem, who: Principal) -> bool:
    return bool(
        session.execute(
            select(
                exists().where(
                    CaseEvent.item_id == item.id,
                    CaseEvent.user_id == who.id,
                    CaseEvent.action == "reveal",
                )
            )
        ).scalar_one()
    )


def _require(who: Principal) -> None:
    if not who.may(Permission.REVIEW):
        raise CaseForbidden(f"role {who.role} may not work on cases")
    if who.kind != "user":
        raise CaseForbidden("case work needs a person logged in, not an API key")


def _cluster(session: Session, case: CaseRecord, cluster_id: int) -> CaseCluster:
    row = session.get(CaseCluster, cluster_id)
    if row is None or row.case_id != case.id:
        raise CaseNotFound(f"case {case.name} has no cluster {cluster_id}")
    return row


def _item(session: Session, case: CaseRecord, item_id: int) -> CaseItem:
    row = session.get(CaseItem, item_id)
    if row is None or row.case_id != case.id:
        raise CaseNotFound(f"case {case.name} has no item {item_id}")
    return row


def _event(
    session: Session,
    case: CaseRecord,
    who: Principal,
    action: str,
    cluster_id: int | None = None,
    item_id: int | None = None,
    *,
    detail: str | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            cluster_id=cluster_id,
            item_id=item_id,
            user_id=who.id,
            at=datetime.now(UTC),
            action=action,
            detail=detail,
        )
    )


def _aware(moment: datetime | None) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC."""
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
