"""Uploads into the queue: a new item, or a further upload linked to the item
of the same file that already waits for a decision (one file, one decision)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bastion import audit
from bastion.pipeline import ScanResult
from bastion.review.access import ItemAccess
from bastion.review.context import UploadContext
from bastion.review.items import Item, Media, Status
from bastion.review.priority import Priority, priority
from bastion.store.models import ReviewItem, ReviewMedia, ReviewUpload


class Intake(ItemAccess):
    #: The tiers, most urgent first (``BASTION_REVIEW_PRIORITY``).
    order: tuple[str, ...]

    def enqueue(
        self,
        result: ScanResult,
        data: bytes,
        *,
        submitted_by: str,
        name: str | None,
        context: UploadContext | None = None,
        note: Mapping[str, Any] | None = None,
    ) -> Item:
        """Queue a scanned upload (its scan's result and, if a key is set, its bytes).

        An upload of a file that already waits for a decision (same SHA-256)
        is linked to that item, with its own record, instead of queued again:
        one file, one decision.  When first uploads of a file arrive at the
        same moment (in several processes), each finds nothing waiting; the
        unique index on waiting items' SHA-256 lets one of them create the
        item, and the others, refused, link to it in a fresh transaction.

        The upload's ``context`` (who uploaded it, from where) is kept with
        its upload record, encrypted like the media, and only if media is kept.
        A ``note`` (why a door queued it, e.g. a generation check's reasons)
        joins the item's record for the reviewer.
        """
        try:
            return self._enqueue(result, data, submitted_by, name, context, note)
        except IntegrityError:
            return self._enqueue(result, data, submitted_by, name, context, note)

    def _enqueue(
        self,
        result: ScanResult,
        data: bytes,
        submitted_by: str,
        name: str | None,
        context: UploadContext | None,
        note: Mapping[str, Any] | None,
    ) -> Item:
        rank = priority(result, self.order)
        now = datetime.now(UTC)
        fingerprint = result.fingerprint
        sha256 = fingerprint.sha256 if fingerprint else None
        with self.store.transaction() as session:
            waiting = self._waiting(session, sha256) if sha256 else None
            if waiting is not None:
                linked = self._link(session, waiting, result, rank, submitted_by, name, note)
                self._add_upload(session, linked.id, result, submitted_by, name, context)
                return linked
            item = ReviewItem(
                created_at=now,
                submitted_by=submitted_by,
                name=name,
                media_type=(fingerprint.media_type if fingerprint else None)
                or "application/octet-stream",
                size=len(data),
                sha256=sha256,
                pdq=fingerprint.pdq if fingerprint else None,
                uploads=1,
                result=_record(result, note),
                verdict=str(result.verdict),
                priority=rank.value,
                tier=rank.tier,
                status=Status.OPEN.value,
                legal_hold=False,
                media_state=Media.KEPT.value if self.vault.enabled else Media.NOT_KEPT.value,
            )
            session.add(item)
            session.flush()
            self._add_upload(session, item.id, result, submitted_by, name, context)
            if self.vault.enabled:
                sealed = self.vault.seal(item.id, data)
                session.add(ReviewMedia(item_id=item.id, key_id=sealed.key_id, blob=sealed.blob))
            audit.record(session, submitted_by, "review.enqueue", f"item:{item.id}", tier=rank.tier)
            return Item.from_row(item)

    @staticmethod
    def _link(
        session: Session,
        item: ReviewItem,
        result: ScanResult,
        rank: Priority,
        submitted_by: str,
        name: str | None,
        note: Mapping[str, Any] | None,
    ) -> Item:
        values: dict[str, Any] = {"uploads": ReviewItem.uploads + 1}
        if rank.value > item.priority:
            # The newer scan found more (a bank changed): the item says so and moves up.
            values.update(
                priority=rank.value,
                tier=rank.tier,
                verdict=str(result.verdict),
                result=_record(result, note),
            )
        session.execute(update(ReviewItem).where(ReviewItem.id == item.id).values(**values))
        audit.record(session, submitted_by, "review.link", f"item:{item.id}", name=name)
        session.refresh(item)
        return Item.from_row(item)

    def _add_upload(
        self,
        session: Session,
        item_id: int,
        result: ScanResult,
        submitted_by: str,
        name: str | None,
        context: UploadContext | None,
    ) -> None:
        upload = _upload(item_id, result, submitted_by, name, datetime.now(UTC))
        session.add(upload)
        if context is None or context.empty or not self.vault.enabled:
            return
        session.flush()
        sealed = self.vault.seal(upload.id, context.to_json().encode(), purpose="context")
        upload.context_key_id = sealed.key_id
        upload.context_blob = sealed.blob


def _record(result: ScanResult, note: Mapping[str, Any] | None) -> str:
    """What an item keeps of its scan: the row a results file would hold, the
    provenance's typed origin and strength (which code acts on, not the
    words of its level), and the queuing door's note."""
    row = {**result.to_row(), **(note or {})}
    assessment = result.provenance
    row["provenance_origin"] = str(assessment.origin) if assessment and assessment.origin else None
    row["provenance_strength"] = (
        str(assessment.strength) if assessment and assessment.strength else None
    )
    return json.dumps(row, default=str)


def _upload(
    item_id: int, result: ScanResult, submitted_by: str, name: str | None, at: datetime
) -> ReviewUpload:
    return ReviewUpload(
        item_id=item_id,
        at=at,
        submitted_by=submitted_by,
        name=name,
        verdict=str(result.verdict),
        matches=json.dumps([match.to_dict() for match in result.matches]),
    )
