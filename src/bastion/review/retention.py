"""How long an item's media is kept: deleted when retention ends, unless on hold.

Decided items keep their encrypted media for the retention period of their
decision (``retain_until``); a legal hold keeps it for as long as the hold
lasts: an open-ended one (``legal_hold``) until a person lifts it, a dated
one (``hold_until``, placed when a CyberTipline report is finished) until
its end, which a person may move later but never earlier.  An upload's
context (who uploaded it, from where) is kept and deleted with the media.
The record of the item and of who saw it is never deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bastion import audit
from bastion.accounts import Permission, Principal
from bastion.review.access import ItemAccess
from bastion.review.items import Item, Media, NotFound, ReviewError, Status
from bastion.store import as_utc
from bastion.store.models import ReviewItem, ReviewMedia, ReviewUpload


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

    def extend_hold(self, item_id: int, who: Principal | str, until: datetime, reason: str) -> Item:
        """Keep an item's media until ``until`` (a dated hold may only grow);
        ``who`` is a principal, or the CLI's operator (``cli:<user>``)."""
        if isinstance(who, Principal):
            self._require(who, Permission.HOLD, person=False)
        actor = who.actor if isinstance(who, Principal) else who
        if until.tzinfo is None:
            raise ReviewError("a hold's end needs a UTC offset")
        if not reason.strip():
            raise ReviewError("a hold needs a reason")
        with self.store.transaction() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            if row.hold_until is not None and as_utc(row.hold_until) > until:
                raise ReviewError(
                    f"item {item_id} is held until {as_utc(row.hold_until).isoformat()}; "
                    "a hold is never shortened"
                )
            row.hold_until, row.hold_reason = until, reason.strip()[:2000]
            audit.record(
                session,
                actor,
                "review.hold-until",
                f"item:{item_id}",
                until=until.isoformat(),
                reason=row.hold_reason,
            )
            return Item.from_row(row)

    def purge(self, now: datetime | None = None) -> list[int]:
        """Delete the media (and uploads' context) of decided items past
        retention that no hold keeps."""
        moment = now or datetime.now(UTC)
        with self.store.transaction() as session:
            due = list(
                session.execute(
                    select(ReviewItem.id).where(
                        ReviewItem.status == Status.DECIDED.value,
                        ReviewItem.retain_until <= moment,
                        ReviewItem.legal_hold.is_(False),
                        or_(ReviewItem.hold_until.is_(None), ReviewItem.hold_until <= moment),
                        ReviewItem.media_state == Media.KEPT.value,
                    )
                ).scalars()
            )
            if not due:
                return []
            session.execute(delete(ReviewMedia).where(ReviewMedia.item_id.in_(due)))
            session.execute(
                update(ReviewUpload)
                .where(ReviewUpload.item_id.in_(due))
                .values(context_key_id=None, context_blob=None)
            )
            session.execute(
                update(ReviewItem)
                .where(ReviewItem.id.in_(due))
                .values(media_state=Media.DELETED.value)
            )
            audit.record(session, "system:retention", "review.purge", "media", items=due)
        return due


def place_hold(
    session: Session, item_ids: list[int], until: datetime, reason: str, actor: str
) -> None:
    """Hold items' media until ``until`` in the caller's transaction; a later
    end already set is kept (holds only grow)."""
    for row in session.execute(select(ReviewItem).where(ReviewItem.id.in_(item_ids))).scalars():
        if row.hold_until is None or as_utc(row.hold_until) < until:
            row.hold_until, row.hold_reason = until, reason
    audit.record(
        session,
        actor,
        "review.hold-until",
        "items",
        items=item_ids,
        until=until.isoformat(),
        reason=reason,
    )
