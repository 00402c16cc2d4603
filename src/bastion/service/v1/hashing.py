"""Hashing, matching and scanning uploads or hashes computed elsewhere."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from bastion.accounts import Permission
from bastion.matching.match import MatchOutcome, match_signals
from bastion.pipeline import Verdict
from bastion.review.items import Media
from bastion.service import doors
from bastion.service.errors import ApiError
from bastion.service.security import Matcher, State
from bastion.service.v1.signals import SIGNAL_EXAMPLE, SignalIn, to_signals

router = APIRouter()

Upload = Annotated[UploadFile, File(description="the image or video")]

#: Verdicts that ``enqueue=true`` sends to the review queue.
HITS = frozenset({Verdict.KNOWN, Verdict.AI_GENERATED, Verdict.AI_EDITED})


def upload_example(**fields: bool) -> dict[str, Any]:
    """``openapi_extra`` giving an upload route's request body an example."""
    example = {"file": "photo.jpg", **fields}
    return {"requestBody": {"content": {"multipart/form-data": {"example": example}}}}


class MatchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"signals": [SIGNAL_EXAMPLE]}]})

    signals: list[SignalIn] = Field(min_length=1, max_length=1000)


def outcome_dict(outcome: MatchOutcome) -> dict[str, Any]:
    return {
        "matched": bool(outcome.matches),
        "matches": [m.to_dict() for m in outcome.matches],
        "suppressed": [m.to_dict() for m in outcome.suppressed],
        "allowlisted": [m.to_dict() for m in outcome.allowlisted],
    }


@router.post("/hash", tags=["media"], summary="Hash an upload", openapi_extra=upload_example())
def hash_upload(_: Matcher, state: State, file: Upload) -> dict[str, Any]:
    """MD5, SHA-1, SHA-256 and PDQ of an image; vPDQ of a video."""
    data, name = doors.read_upload(file)
    return doors.fingerprint(state, data, name).to_dict()


@router.post("/match", tags=["media"], summary="Match hashes computed elsewhere")
def match_hashes(_: Matcher, state: State, body: MatchRequest) -> dict[str, Any]:
    """Matches of hashes computed elsewhere (one item's signals), allowlists applied."""
    return outcome_dict(match_signals(to_signals(body.signals), state.index))


@router.post(
    "/match/upload",
    tags=["media"],
    summary="Hash and match an upload",
    openapi_extra=upload_example(),
)
def match_upload(_: Matcher, state: State, file: Upload) -> dict[str, Any]:
    """Hash an upload and match it, allowlists applied."""
    data, name = doors.read_upload(file)
    found, outcome = doors.match_upload(state, data, name)
    return {"hashes": found.to_dict(), **outcome_dict(outcome)}


@router.post(
    "/scan",
    tags=["media"],
    summary="Scan an upload (hashes, matches, provenance, verdict)",
    openapi_extra=upload_example(enqueue=True),
)
def scan(
    who: Matcher,
    state: State,
    file: Upload,
    enqueue: Annotated[bool, Form(description="queue the item for review if it is a hit")] = False,
    enqueue_all: Annotated[bool, Form(description="queue the item whatever it is")] = False,
    provenance: Annotated[bool, Form(description="read provenance evidence")] = True,
) -> dict[str, Any]:
    """Hashes, matches, provenance assessment and verdict of one upload.

    With ``enqueue`` a known-bank hit or an AI-provenance hit goes to the
    review queue (its media encrypted, if a key is configured).
    """
    data, name = doors.read_upload(file)
    result = doors.scan_upload(state, data, name, provenance=provenance)
    row = result.to_row()
    if not (enqueue_all or (enqueue and result.verdict in HITS)):
        return {"verdict": result.verdict, "queued": None, "result": row}
    if not who.may(Permission.QUEUE):
        raise ApiError(403, f"role {who.role} may not queue items for review")
    item = state.queue.enqueue(row, data, submitted_by=who.actor, name=name)
    return {
        "verdict": result.verdict,
        "queued": item.id,
        # An upload of a file already waiting for review is linked to its item.
        "uploads": item.uploads,
        "media": Media(item.media_state).note,
        "result": row,
    }
