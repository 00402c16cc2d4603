"""The review queue over the API: claim, look, decide, undo, holds, feedback, reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from bastion.review.items import DISPUTES, Decision, Reveal
from bastion.review.render import render_item
from bastion.service.params import RowId
from bastion.service.security import Curator, Reviewer, State

router = APIRouter()


class ItemOut(BaseModel):
    """A review item as the API answers it (``Item.to_dict``)."""

    id: int
    created_at: str
    submitted_by: str
    name: str | None
    media_type: str
    size: int
    verdict: str
    tier: str
    priority: int
    status: str
    decision: str | None
    category: str | None
    note: str | None
    decided_at: str | None
    retain_until: str | None
    legal_hold: bool
    hold_until: str | None = None
    hold_reason: str | None = None
    media: str
    media_state: str
    uploads: int
    awaiting_agreement: bool
    result: dict[str, Any]


#: Answers that are one item, documented by its model.
ITEM: dict[int | str, dict[str, Any]] = {200: {"model": ItemOut}}


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"decision": "false-positive", "note": "a different picture of the same landmark"}
            ]
        }
    )

    decision: Decision
    category: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


@router.post(
    "/review/claim",
    tags=["review"],
    summary="Claim the next item to review",
    responses={**ITEM, 204: {"description": "the queue is empty"}},
)
def claim(who: Reviewer, state: State) -> JSONResponse:
    """The reviewer's next item (204 when the queue is empty)."""
    item = state.queue.claim(who)
    if item is None:
        return JSONResponse(None, status_code=204)
    return JSONResponse(item.to_dict())


@router.get("/review/counts", tags=["review"], summary="Count items by status")
def review_counts(_: Reviewer, state: State) -> dict[str, int]:
    return state.queue.counts()


@router.get("/review/items", tags=["review"], summary="List review items")
def review_items(
    who: Reviewer,
    state: State,
    status: Annotated[Literal["open", "claimed", "escalated", "decided"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    return [item.to_dict() for item in state.queue.items(who, status=status, limit=limit)]


@router.get(
    "/review/items/{item_id}",
    tags=["review"],
    summary="Show an item with its uploads and earlier decisions",
)
def review_item(who: Reviewer, state: State, item_id: RowId) -> dict[str, Any]:
    """The item, each upload it stands for, a false-positive call waiting for a
    second reviewer, and earlier decisions on the same file or a near image."""
    item = state.queue.get(item_id, who)
    return {**item.to_dict(), **state.queue.context(item_id, who)}


@router.get(
    "/review/items/{item_id}/media",
    tags=["review"],
    summary="An item's image, protected unless revealed",
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}
    },
    response_class=Response,
)
def review_media(
    who: Reviewer,
    state: State,
    item_id: RowId,
    reveal: Annotated[
        Reveal | None, Query(description="colour, sharp or full; none: protected")
    ] = None,
) -> Response:
    """The item's image (a video: its contact sheet) for display: blurred and
    greyscale unless revealed (recorded)."""
    item = state.queue.get(item_id, who)
    data, count = state.queue.media(item_id, who, reveal)
    image = render_item(data, item.media_type, item.result, reveal, state.settings)
    headers = {"Cache-Control": "no-store", "X-Bastion-Reveals": str(count)}
    return Response(image, media_type="image/jpeg", headers=headers)


@router.post(
    "/review/items/{item_id}/decision",
    tags=["review"],
    summary="Decide a claimed item",
    responses=ITEM,
)
def decide(who: Reviewer, state: State, item_id: RowId, body: DecisionIn) -> dict[str, Any]:
    """Decide a claimed item; a false positive never takes an exact hit off a list
    (see docs/service.md); the decision may be undone for a moment."""
    item = state.queue.decide(item_id, who, body.decision, category=body.category, note=body.note)
    if body.decision in DISPUTES:
        state.refresh_now()
    return item.to_dict()


@router.post(
    "/review/items/{item_id}/undo",
    tags=["review"],
    summary="Undo one's own decision",
    responses=ITEM,
)
def undo(who: Reviewer, state: State, item_id: RowId) -> dict[str, Any]:
    """Take back one's own decision within a few seconds; the item is claimed again."""
    item = state.queue.undo(item_id, who)
    state.refresh_now()
    return item.to_dict()


@router.post("/review/items/{item_id}/release", tags=["review"], summary="Release a claimed item")
def release(who: Reviewer, state: State, item_id: RowId) -> dict[str, str]:
    state.queue.release(item_id, who)
    return {"released": str(item_id)}


@router.put(
    "/review/items/{item_id}/hold",
    tags=["review"],
    summary="Put an item on legal hold",
    responses=ITEM,
)
def hold(who: Curator, state: State, item_id: RowId) -> dict[str, Any]:
    """Legal hold: the item's media is kept whatever its retention period."""
    return state.queue.set_hold(item_id, who, True).to_dict()


class HoldIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"until": "2028-12-31T00:00:00+00:00", "reason": "preservation request 2026-118"}
            ]
        }
    )

    until: datetime
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/review/items/{item_id}/hold-until",
    tags=["review"],
    summary="Extend an item's dated hold",
    responses=ITEM,
)
def hold_until(who: Curator, state: State, item_id: RowId, body: HoldIn) -> dict[str, Any]:
    """Keep the item's media and context until ``until`` (a hold is never shortened)."""
    return state.queue.extend_hold(item_id, who, body.until, body.reason).to_dict()


@router.post("/review/items/{item_id}/exif", tags=["review"], summary="Reveal an item's EXIF")
def review_exif(who: Reviewer, state: State, item_id: RowId) -> dict[str, str]:
    """The EXIF fields of the item's media: a recorded reveal of its own, which a
    CyberTipline report then states (``exifViewedByEsp``, with the fields)."""
    return state.queue.exif(item_id, who)


@router.delete(
    "/review/items/{item_id}/hold", tags=["review"], summary="Lift a legal hold", responses=ITEM
)
def unhold(who: Curator, state: State, item_id: RowId) -> dict[str, Any]:
    return state.queue.set_hold(item_id, who, False).to_dict()


@router.get("/review/feedback", tags=["review"], summary="List feedback on list entries")
def list_feedback(
    who: Curator,
    state: State,
    bank: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Reviewers' false positives on list entries, newest first: for the list's curator."""
    return state.queue.feedback(who, bank=bank, limit=limit)


@router.get("/review/items/{item_id}/report", tags=["review"], summary="Hotline report of an item")
def report(who: Curator, state: State, item_id: RowId) -> dict[str, Any]:
    """Hashes, decision and who viewed the file (``fileViewedByEsp``) for a hotline report."""
    return state.queue.report(item_id, who)
