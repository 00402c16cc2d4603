"""What a queued item is: its states, the decisions on it, its record.

These are the values every part of the queue (and the service above it)
shares; the errors are those of any operation on an item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bastion.errors import BastionError
from bastion.store import as_utc
from bastion.store.models import ReviewItem


class Status(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    DECIDED = "decided"


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false-positive"
    NOT_ABUSIVE = "not-abusive"  #: "not abusive / other": nothing to report
    ESCALATED = "escalated"
    SKIPPED = "skipped"


#: Decisions that, on an item that matched a list, say the list is wrong about it.
DISPUTES = frozenset({Decision.FALSE_POSITIVE, Decision.NOT_ABUSIVE})


class Media(StrEnum):
    KEPT = "kept"
    NOT_KEPT = "not-kept"  #: no media key was configured when it was queued
    DELETED = "deleted"  #: its retention period ended

    @property
    def note(self) -> str:
        """What API answers say of the media (an operator reads why it is missing)."""
        return _MEDIA_NOTES[self]


_MEDIA_NOTES = {
    Media.KEPT: "kept (encrypted)",
    Media.NOT_KEPT: "not kept (BASTION_MEDIA_KEYS unset)",
    Media.DELETED: "deleted (retention period ended)",
}


class Reveal(StrEnum):
    """How much of an image a reviewer chose to see (the default is neither)."""

    COLOUR = "colour"
    SHARP = "sharp"
    FULL = "full"


class ReviewError(BastionError, ValueError):
    """A queue operation that cannot be done as asked."""

    code = "review-error"
    status = 400


class NotFound(ReviewError):
    code = "review-not-found"
    status = 404


class Forbidden(ReviewError):
    code = "forbidden"
    status = 403


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    created_at: datetime
    submitted_by: str
    name: str | None
    media_type: str
    size: int
    verdict: str
    tier: str
    priority: int
    status: str
    claimed_by: int | None
    decision: str | None
    category: str | None
    note: str | None
    decided_at: datetime | None
    retain_until: datetime | None
    legal_hold: bool
    media_state: str
    result: dict[str, Any]
    #: Uploads of the same file this item stands for.
    uploads: int
    #: A reviewer's false-positive call that waits for a second reviewer.
    proposed_by: int | None
    #: A dated hold (a finished CyberTipline report's preservation) and why.
    hold_until: datetime | None = None
    hold_reason: str | None = None

    @classmethod
    def from_row(cls, row: ReviewItem) -> Item:
        return cls(
            row.id,
            as_utc(row.created_at),
            row.submitted_by,
            row.name,
            row.media_type,
            row.size,
            row.verdict,
            row.tier,
            row.priority,
            row.status,
            row.claimed_by,
            row.decision,
            row.category,
            row.note,
            as_utc(row.decided_at) if row.decided_at else None,
            as_utc(row.retain_until) if row.retain_until else None,
            row.legal_hold,
            row.media_state,
            json.loads(row.result),
            row.uploads,
            row.proposed_by if row.status != Status.DECIDED.value else None,
            as_utc(row.hold_until) if row.hold_until else None,
            row.hold_reason,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "submitted_by": self.submitted_by,
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "verdict": self.verdict,
            "tier": self.tier,
            "priority": self.priority,
            "status": self.status,
            "decision": self.decision,
            "category": self.category,
            "note": self.note,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
            "legal_hold": self.legal_hold,
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "hold_reason": self.hold_reason,
            "media": Media(self.media_state).note,
            "media_state": self.media_state,
            "uploads": self.uploads,
            "awaiting_agreement": self.proposed_by is not None,
            "result": self.result,
        }


def unclaimed_status(row: ReviewItem) -> str:
    """Where a claimed item goes back to: escalated items stay escalated."""
    return Status.ESCALATED.value if row.decision == Decision.ESCALATED.value else Status.OPEN.value
