"""What is in the queue: the listing curators and admins see, and counts by state."""

from __future__ import annotations

from sqlalchemy import func, select

from bastion.accounts import Permission, Principal
from bastion.review.access import ItemAccess
from bastion.review.items import Item, Status
from bastion.store.models import ReviewItem


class Listing(ItemAccess):
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
