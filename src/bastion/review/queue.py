"""The review queue: uploads wait here, most urgent first, for one reviewer each.

Every state change is a conditional UPDATE, so any number of service
processes over one database hand an item to exactly one reviewer: two
claims of the same item race on ``WHERE status = 'open'`` and only one of
them changes a row.  Everything a person does to an item is written to
``review_events`` (who, what, when) and to the audit log in the same
transaction.

``ReviewQueue`` is the one handle the service and CLI use; what a reviewer
sees, decides, and what is on record and kept live in the parts it is made of
(``viewing``, ``decisions``, ``history``, ``retention``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.config import Settings
from bastion.review.decisions import Decisions
from bastion.review.history import History
from bastion.review.items import Decision, Item, Media, Status, unclaimed_status
from bastion.review.priority import priority, tier_order
from bastion.review.retention import Retention
from bastion.review.vault import Vault
from bastion.review.viewing import Viewing
from bastion.store import Store
from bastion.store.models import ReviewEvent, ReviewItem, ReviewMedia, ReviewUpload

_CANDIDATES = 25


class ReviewQueue(Viewing, Decisions, History, Retention):
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.vault = Vault.from_setting(settings.media_keys)
        self.order = tier_order(settings.review_priority)

    # --- in ----------------------------------------------------------------

    def enqueue(
        self, row: dict[str, Any], data: bytes, *, submitted_by: str, name: str | None
    ) -> Item:
        """Queue a scanned upload (its result row and, if a key is set, its bytes).

        An upload of a file that already waits for a decision (same SHA-256)
        is linked to that item, with its own record, instead of queued again:
        one file, one decision.  When first uploads of a file arrive at the
        same moment (in several processes), each finds nothing waiting; the
        unique index on waiting items' SHA-256 lets one of them create the
        item, and the others, refused, link to it in a fresh transaction.
        """
        try:
            return self._enqueue(row, data, submitted_by, name)
        except IntegrityError:
            return self._enqueue(row, data, submitted_by, name)

    def _enqueue(
        self, row: dict[str, Any], data: bytes, submitted_by: str, name: str | None
    ) -> Item:
        rank = priority(row, self.order)
        now = datetime.now(UTC)
        sha256 = row.get("sha256")
        with self.store.transaction() as session:
            waiting = self._waiting(session, sha256) if sha256 else None
            if waiting is not None:
                return self._link(session, waiting, row, rank.value, rank.tier, submitted_by, name)
            item = ReviewItem(
                created_at=now,
                submitted_by=submitted_by,
                name=name,
                media_type=str(row.get("media_type") or "application/octet-stream"),
                size=len(data),
                sha256=sha256,
                pdq=row.get("pdq"),
                uploads=1,
                result=json.dumps(row, default=str),
                verdict=str(row.get("verdict") or "unknown"),
                priority=rank.value,
                tier=rank.tier,
                status=Status.OPEN.value,
                legal_hold=False,
                media_state=Media.KEPT.value if self.vault.enabled else Media.NOT_KEPT.value,
            )
            session.add(item)
            session.flush()
            session.add(_upload(item.id, row, submitted_by, name, now))
            if self.vault.enabled:
                sealed = self.vault.seal(item.id, data)
                session.add(ReviewMedia(item_id=item.id, key_id=sealed.key_id, blob=sealed.blob))
            audit.record(session, submitted_by, "review.enqueue", f"item:{item.id}", tier=rank.tier)
            return Item.from_row(item)

    @staticmethod
    def _link(
        session: Session,
        item: ReviewItem,
        row: dict[str, Any],
        rank: int,
        tier: str,
        submitted_by: str,
        name: str | None,
    ) -> Item:
        values: dict[str, Any] = {"uploads": ReviewItem.uploads + 1}
        if rank > item.priority:
            # The newer scan found more (a bank changed): the item says so and moves up.
            values.update(
                priority=rank,
                tier=tier,
                verdict=str(row.get("verdict") or "unknown"),
                result=json.dumps(row, default=str),
            )
        session.execute(update(ReviewItem).where(ReviewItem.id == item.id).values(**values))
        session.add(_upload(item.id, row, submitted_by, name, datetime.now(UTC)))
        audit.record(session, submitted_by, "review.link", f"item:{item.id}", name=name)
        session.refresh(item)
        return Item.from_row(item)

    # --- claiming ----------------------------------------------------------

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

    # --- listing -----------------------------------------------------------

    def items(self, who: Principal, *, status: str | None = None, limit: int = 50) -> list[Item]:
        """Queue listing for curators and admins, most urgent first."""
        self._require(who, Permission.HOLD, person=False)
        statement = (
            select(ReviewItem).order_by(ReviewItem.priority.desc(), ReviewItem.id).limit(limit)
        )
        if status is not None:
            statement = statement.where(ReviewItem.status == Status(status).value)
        with self.store.sessions() as session:
            return [Item.from_row(row) for row in session.execute(statement).scalars()]

    def counts(self) -> dict[str, int]:
        """How many items are in each state."""
        with self.store.sessions() as session:
            found = dict(
                session.execute(
                    select(ReviewItem.status, func.count()).group_by(ReviewItem.status)
                ).all()
            )
        return {status.value: int(found.get(status.value, 0)) for status in Status}


def _escalated() -> Any:
    return and_(ReviewItem.decision.is_not(None), ReviewItem.decision == Decision.ESCALATED.value)


def _upload(
    item_id: int, row: dict[str, Any], submitted_by: str, name: str | None, at: datetime
) -> ReviewUpload:
    return ReviewUpload(
        item_id=item_id,
        at=at,
        submitted_by=submitted_by,
        name=name,
        verdict=str(row.get("verdict") or "unknown"),
        matches=json.dumps(row.get("matches") or [], default=str),
    )
