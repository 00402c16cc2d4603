"""From review records to what a report says: the files, the uploader, the
annotations suggested and why.

Everything here is read from what Bastion recorded, never typed in again:
``fileViewedByEsp`` is true exactly when a person revealed the file (a
``reveal`` event), ``exifViewedByEsp`` when a person revealed its EXIF (an
``exif`` event, whose pairs then go in ``details``), the uploader and
addresses come from the upload's context, the classification from the
confirmed category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from bastion.provenance.evidence import Origin
from bastion.reports.errors import ReportError
from bastion.reports.tipline import (
    FILE_ANNOTATIONS,
    FILE_HASHES,
    GENERATIVE_AI,
    INDUSTRY_CLASSES,
    FileReport,
    ReportedUser,
)
from bastion.review.context import IpCapture, UploadContext
from bastion.review.items import Decision, Media
from bastion.review.vault import Sealed, Vault
from bastion.review.viewing import EXIF_EVENT
from bastion.store import as_utc
from bastion.store.models import ReviewEvent, ReviewItem, ReviewUpload

#: Provenance origins that make NCMEC's ``generativeAi`` annotation the default.
_GENERATED = frozenset({Origin.AI_GENERATED, Origin.AI_EDITED})
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/avif": ".avif",
    "image/tiff": ".tif",
    "image/bmp": ".bmp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the records say of one confirmed item, for its ``fileDetails``."""

    item: ReviewItem
    upload: ReviewUpload | None
    context: UploadContext
    viewed: bool
    exif_viewed: bool

    @property
    def uploader(self) -> str | None:
        return self.context.uploader_id

    @property
    def uploaded_at(self) -> datetime:
        moment = self.context.uploaded_at or (self.upload.at if self.upload else None)
        return as_utc(moment or self.item.created_at)


def item_facts(session: Session, vault: Vault, item_id: int) -> ItemFacts:
    """An item's facts, if it can be reported (confirmed, its media kept)."""
    row = session.get(ReviewItem, item_id)
    if row is None:
        raise ReportError(f"no review item {item_id}")
    if row.decision != Decision.CONFIRMED.value:
        raise ReportError(
            f"item {item_id} is {row.decision or row.status}, not confirmed: "
            "only a person's confirmation is reported"
        )
    if row.media_state != Media.KEPT.value:
        raise ReportError(f"item {item_id} has no media to send ({Media(row.media_state).note})")
    upload, context = _upload_context(session, vault, item_id)
    return ItemFacts(
        row,
        upload,
        context,
        viewed=_happened(session, item_id, "reveal"),
        exif_viewed=_happened(session, item_id, EXIF_EVENT),
    )


def suggested_annotations(item: ReviewItem) -> dict[str, str]:
    """Annotations preselected for an item, each with the reason a reviewer reads."""
    result = json.loads(item.result)
    if result.get("provenance_origin") in _GENERATED:
        level, summary = result.get("provenance"), result.get("provenance_summary")
        return {GENERATIVE_AI: f"provenance: {level}" + (f" ({summary})" if summary else "")}
    return {}


def checked_annotations(names: list[str]) -> tuple[str, ...]:
    unknown = [name for name in names if name not in FILE_ANNOTATIONS]
    if unknown:
        expected = ", ".join(FILE_ANNOTATIONS)
        raise ReportError(f"unknown file annotation {unknown[0]!r} (expected one of {expected})")
    return tuple(name for name in FILE_ANNOTATIONS if name in names)


def classification(category: str | None) -> str | None:
    """The industry classification (A1 ... B2) of an ``ncmec:`` category; other
    schemes have no faithful mapping, so none is sent."""
    if category and category.startswith("ncmec:"):
        code = category.split(":", 1)[1]
        return code if code in INDUSTRY_CLASSES else None
    return None


def file_report(
    facts: ItemFacts, annotations: tuple[str, ...], exif: tuple[tuple[str, str], ...]
) -> FileReport:
    item, context = facts.item, facts.context
    result = json.loads(item.result)
    uploads = [e for e in context.ip_events if e.event == "Upload"]
    return FileReport(
        item_id=item.id,
        file_name=f"item-{item.id}{_EXTENSIONS.get(item.media_type, '')}",
        original_file_name=(facts.upload.name if facts.upload else None) or item.name,
        uploaded_at=facts.uploaded_at,
        location=context.url,
        viewed=facts.viewed,
        exif_viewed=facts.exif_viewed,
        public=context.public,
        annotations=annotations,
        classification=classification(item.category),
        hashes=tuple(
            (kind, str(result[field])) for field, kind in FILE_HASHES if result.get(field)
        ),
        ip_event=uploads[0] if uploads else None,
        exif=exif if facts.exif_viewed else (),
    )


def reported_user(facts: list[ItemFacts], esp_service: str | None) -> ReportedUser | None:
    """The uploader the files share, with every address their uploads recorded."""
    contexts = [f.context for f in facts]
    uploaders = {c.uploader_id for c in contexts if c.uploader_id}
    if len(uploaders) > 1:
        raise ReportError(
            "the items were uploaded by different users "
            f"({', '.join(sorted(uploaders))}); report each uploader's items separately"
        )
    first = next((c for c in contexts if c.uploader_id or c.screen_name or c.email), None)
    if first is None:
        return None
    events: list[IpCapture] = []
    for context in contexts:
        events.extend(e for e in context.ip_events if e not in events)
    return ReportedUser(
        esp_identifier=first.uploader_id,
        screen_name=first.screen_name,
        emails=(first.email,) if first.email else (),
        ip_events=tuple(events),
        esp_service=esp_service,
    )


def context_of(vault: Vault, upload: ReviewUpload) -> UploadContext | None:
    if upload.context_blob is None or upload.context_key_id is None:
        return None
    sealed = Sealed(upload.context_key_id, upload.context_blob)
    document: Any = json.loads(vault.open(upload.id, sealed, purpose="context"))
    return UploadContext.from_mapping(document)


def _upload_context(
    session: Session, vault: Vault, item_id: int
) -> tuple[ReviewUpload | None, UploadContext]:
    """The newest upload of the item with context (else its first) and that context."""
    uploads = list(
        session.execute(
            select(ReviewUpload).where(ReviewUpload.item_id == item_id).order_by(ReviewUpload.id)
        ).scalars()
    )
    for upload in reversed(uploads):
        context = context_of(vault, upload)
        if context is not None:
            return upload, context
    return (uploads[0] if uploads else None), UploadContext()


def _happened(session: Session, item_id: int, action: str) -> bool:
    return bool(
        session.execute(
            select(exists().where(ReviewEvent.item_id == item_id, ReviewEvent.action == action))
        ).scalar_one()
    )
