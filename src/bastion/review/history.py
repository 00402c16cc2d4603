"""What is on record about items: the uploads and proposal behind one, earlier
decisions on the same or a near file, reviewers' list feedback, and the facts
a hotline report needs (hashes, decision, who saw the file)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from bastion.accounts import Permission, Principal
from bastion.banks.bank import DEFAULT_PDQ_THRESHOLD
from bastion.review.access import ItemAccess
from bastion.review.items import Decision, Item, NotFound, Status
from bastion.signals.pdq import hamming
from bastion.store.models import (
    ListFeedback,
    ReviewEvent,
    ReviewItem,
    ReviewUpload,
    User,
    as_utc,
)

#: The hashes a hotline report of an item carries.
_SIGNALS = ("md5", "sha1", "sha256", "pdq")


class History(ItemAccess):
    def context(self, item_id: int, who: Principal) -> dict[str, Any]:
        """Each upload the item stands for, a proposal waiting for agreement, and
        earlier decisions on the same file (SHA-256) or a near image (PDQ)."""
        with self.store.sessions() as session:
            row = self._visible(session, item_id, who)
            uploads = session.execute(
                select(ReviewUpload)
                .where(ReviewUpload.item_id == item_id)
                .order_by(ReviewUpload.id)
            ).scalars()
            upload_log = [
                {
                    "at": as_utc(upload.at).isoformat(),
                    "submitted_by": upload.submitted_by,
                    "name": upload.name,
                    "verdict": upload.verdict,
                    "matches": json.loads(upload.matches),
                }
                for upload in uploads
            ]
            proposals = []
            if row.proposed_by is not None and row.status != Status.DECIDED.value:
                proposer = session.get(User, row.proposed_by)
                proposals.append(
                    {
                        "user": proposer.name if proposer else None,
                        "at": as_utc(row.proposed_at).isoformat() if row.proposed_at else None,
                        "decision": Decision.FALSE_POSITIVE.value,
                    }
                )
            earlier = _earlier(session, row)
        return {"upload_log": upload_log, "proposals": proposals, "earlier": earlier}

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


def _earlier(session: Session, row: ReviewItem) -> list[dict[str, Any]]:
    """Decided items of the same file, or of an image within the PDQ threshold."""
    decided = and_(ReviewItem.status == Status.DECIDED.value, ReviewItem.id != row.id)
    same: dict[int, tuple[str, int]] = {}
    if row.sha256:
        for item_id in session.execute(
            select(ReviewItem.id).where(decided, ReviewItem.sha256 == row.sha256)
        ).scalars():
            same[item_id] = ("sha256", 0)
    if row.pdq:
        for item_id, pdq in session.execute(
            select(ReviewItem.id, ReviewItem.pdq).where(decided, ReviewItem.pdq.is_not(None))
        ).all():
            distance = hamming(row.pdq, str(pdq))
            if item_id not in same and distance <= DEFAULT_PDQ_THRESHOLD:
                same[item_id] = ("pdq", distance)
    if not same:
        return []
    rows = session.execute(
        select(ReviewItem, User.name)
        .outerjoin(User, User.id == ReviewItem.decided_by)
        .where(ReviewItem.id.in_(same))
        .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
    ).all()
    return [
        {
            "item": item.id,
            "same": same[item.id][0],
            "distance": same[item.id][1],
            "decision": item.decision,
            "category": item.category,
            "decided_at": as_utc(item.decided_at).isoformat() if item.decided_at else None,
            "decided_by": name,
        }
        for item, name in rows
    ]
