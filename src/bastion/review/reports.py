"""What a hotline report of an item needs: its hashes, the decision and who saw the file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bastion.accounts import Permission, Principal
from bastion.review.access import ItemAccess
from bastion.review.items import Item, NotFound
from bastion.store import as_utc
from bastion.store.models import ReviewEvent, ReviewItem, User

#: The hashes a hotline report of an item carries.
_SIGNALS = ("md5", "sha1", "sha256", "pdq")


class Reports(ItemAccess):
    def report(self, item_id: int, who: Principal) -> dict[str, Any]:
        """What a hotline report needs: hashes, decision and who saw the file."""
        self._require(who, Permission.HOLD, person=False)
        with self.store.sessions() as session:
            row = session.get(ReviewItem, item_id)
            if row is None:
                raise NotFound(f"no review item {item_id}")
            events = session.execute(
                select(ReviewEvent.at, ReviewEvent.action, ReviewEvent.detail, User.name)
                .join(User, User.id == ReviewEvent.user_id)
                .where(ReviewEvent.item_id == item_id)
                .order_by(ReviewEvent.id)
            ).all()
        item = Item.from_row(row)
        reveals = [e for e in events if e.action == "reveal"]
        return {
            "item": item.id,
            "hashes": {name: item.result.get(name) for name in _SIGNALS},
            "media_type": item.media_type,
            "decision": item.decision,
            "category": item.category,
            "decided_at": item.decided_at.isoformat() if item.decided_at else None,
            # CyberTipline: whether a person at the provider viewed the file.
            "fileViewedByEsp": bool(reveals),
            "events": [
                {"at": as_utc(at).isoformat(), "user": user, "action": action, "detail": detail}
                for at, action, detail, user in events
            ],
        }
