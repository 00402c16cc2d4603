"""How long an item's media is kept: deleted when retention ends, unless on hold.

Decided items keep their encrypted media for the retention period of their
decision (``retain_until``); a legal hold keeps it for as long as the hold
lasts.  The record of the item and of who saw it is never deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.review.access import ItemAccess
from bastion.review.items import Item, Media, NotFound, Status
from bastion.store.models import ReviewItem, ReviewMedia


class Retention(ItemAccess):
    def set_hold(self, item_id: int, who: Principal, on: bool) -> Item:
        """Put an item on legal hold (its media is never deleted) or lift the hold."""
        self._require(who, Permission.HOLD, person=False)
        with self.store.transaction() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            row.legal_hold = on
            audit.record(
                session, who.actor, "review.hold" if on else "review.unhold", f"item:{item_id}"
            )
            return Item.from_row(row)

    def purge(self, now: datetime | None = None) -> list[int]:
        """Delete the media of decided items past retention (not on hold)."""
        moment = now or datetime.now(UTC)
        with self.store.transaction() as session:
            due = list(
                session.execute(
                    select(ReviewItem.id).where(
                        ReviewItem.status == Status.DECIDED.value,
                        ReviewItem.retain_until <= moment,
                        ReviewItem.legal_hold.is_(False),
                        ReviewItem.media_state == Media.KEPT.value,
                    )
                ).scalars()
            )
            if not due:
                return []
            session.execute(delete(ReviewMedia).where(ReviewMedia.item_id.in_(due)))
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id.in_(due))
                .values(media_state=Media.DELETED.value)
            )
            audit.record(session, "system:retention", "review.purge", "media", items=due)
        return due
