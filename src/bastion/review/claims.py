"""Claiming an item: one reviewer at a time, the most urgent first, and giving it back.

Every claim is a conditional UPDATE, so any number of service processes
over one database hand an item to exactly one reviewer: two claims of the
same item race on its status and claim time and only one changes a row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.review.access import ItemAccess
from bastion.review.items import Decision, Item, Status, unclaimed_status
from bastion.store.models import ReviewEvent, ReviewItem

#: Items a claim tries, most urgent first, before it says nothing is claimable.
_CANDIDATES = 25


class Claims(ItemAccess):
    def claim(self, who: Principal) -> Item | None:
        """The reviewer's current item, or the most urgent one nobody holds."""
        self._require(who, Permission.REVIEW)
        now = datetime.now(UTC)
        stale = now - timedelta(minutes=self.settings.claim_minutes)
        with self.store.sessions() as session:
            held = session.execute(
                select(ReviewItem)
                .where(
                    ReviewItem.status == Status.CLAIMED.value,
                    ReviewItem.claimed_by == who.id,
                    ReviewItem.claimed_at > stale,
                )
                .limit(1)
            ).scalar_one_or_none()
            if held is not None:
                return Item.from_row(held)
            statuses = [Status.OPEN.value]
            lapsed = and_(ReviewItem.status == Status.CLAIMED.value, ReviewItem.claimed_at <= stale)
            if who.may(Permission.HOLD):
                statuses.append(Status.ESCALATED.value)
            else:
                # A lapsed claim on an escalated item stays with curators and admins.
                lapsed = and_(lapsed, ~_escalated())
            claimable = or_(ReviewItem.status.in_(statuses), lapsed)
            skipped = exists().where(
                ReviewEvent.item_id == ReviewItem.id,
                ReviewEvent.user_id == who.id,
                ReviewEvent.action == Decision.SKIPPED.value,
            )
            # Whoever proposed a false positive is not the second reviewer of it.
            proposed = ReviewItem.proposed_by == who.id
            candidates = session.execute(
                select(ReviewItem.id, ReviewItem.status, ReviewItem.claimed_at)
                .where(claimable, ~skipped, or_(ReviewItem.proposed_by.is_(None), ~proposed))
                .order_by(ReviewItem.priority.desc(), ReviewItem.id)
                .limit(_CANDIDATES)
            ).all()
        for item_id, status, claimed_at in candidates:
            with self.store.transaction() as session:
                taken = session.execute(
                    update(ReviewItem)
                    .where(
                        ReviewItem.id == item_id,
                        ReviewItem.status == status,
                        ReviewItem.claimed_at.is_(None)
                        if claimed_at is None
                        else ReviewItem.claimed_at == claimed_at,
                    )
                    .values(status=Status.CLAIMED.value, claimed_by=who.id, claimed_at=now)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # someone else got it first
                self._event(session, item_id, who, "claim")
                audit.record(session, who.actor, "review.claim", f"item:{item_id}")
                row = session.get(ReviewItem, item_id)
                assert row is not None
                return Item.from_row(row)
        return None

    def release(self, item_id: int, who: Principal) -> None:
        """Give a claimed item back without deciding it."""
        with self.store.transaction() as session:
            row = self._held(session, item_id, who)
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id)
                .values(status=unclaimed_status(row), claimed_by=None, claimed_at=None)
            )
            self._event(session, item_id, who, "release")
            audit.record(session, who.actor, "review.release", f"item:{item_id}")


def _escalated() -> Any:
    return and_(ReviewItem.decision.is_not(None), ReviewItem.decision == Decision.ESCALATED.value)
