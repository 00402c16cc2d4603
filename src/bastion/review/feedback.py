"""Reviewers' disagreements with list entries, for the lists' curators.

A decision that disputes a match (``decisions``) records feedback; this is
where curators read it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bastion.accounts import Permission, Principal
from bastion.review.access import ItemAccess
from bastion.store import as_utc
from bastion.store.models import ListFeedback, User


class Feedback(ItemAccess):
    def feedback(
        self, who: Principal, *, bank: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Reviewers' disagreements with list entries, newest first, for curators."""
        self._require(who, Permission.HOLD, person=False)
        statement = (
            select(ListFeedback, User.name)
            .join(User, User.id == ListFeedback.user_id)
            .order_by(ListFeedback.id.desc())
            .limit(limit)
        )
        if bank is not None:
            statement = statement.where(ListFeedback.bank == bank)
        with self.store.sessions() as session:
            return [
                {
                    "id": record.id,
                    "at": as_utc(record.at).isoformat(),
                    "item": record.item_id,
                    "bank": record.bank,
                    "entry_id": record.entry_id,
                    "signal_type": record.signal_type,
                    "decision": record.decision,
                    "note": record.note,
                    "user": name,
                }
                for record, name in session.execute(statement).all()
            ]
