"""Hashing, matching and scanning uploads or hashes computed elsewhere."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from bastion.accounts import Permission, Principal
from bastion.matching.match import Match, MatchOutcome, match_signals
from bastion.pipeline import ScanItem, ScanResult, Verdict, most_urgent
from bastion.review.context import UploadContext
from bastion.review.items import Media
from bastion.service import doors
from bastion.service.errors import ApiError
from bastion.service.security import Matcher, State
from bastion.service.state import ServiceState
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


DihedralForm = Annotated[bool, Form(description="also match rotated and flipped copies")]


@router.post(
    "/match/upload",
    tags=["media"],
    summary="Hash and match an upload (each member of an archive)",
    openapi_extra=upload_example(),
)
def match_upload(
    _: Matcher, state: State, file: Upload, dihedral: DihedralForm = False
) -> dict[str, Any]:
    """Hash an upload and match it, allowlists applied; an archive's members
    are each matched (``items``), as ``bastion match`` does.  ``unchecked``
    counts the items not fully checked (an unreadable or skipped member, a
    PDQ too flat to match, a suppressed match): "not matched" is only a
    clean answer when it is 0."""
    data, name = doors.read_upload(file)
    scanned = doors.scan_upload(state, data, name, dihedral=dihedral)
    items = [_match_dict(result) for _, result in scanned]
    found = {key: [m for item in items for m in item[key]] for key in _MATCH_KEYS}
    single = {"hashes": items[0]["hashes"]} if len(items) == 1 else {}
    unchecked = sum(not result.fully_checked() for _, result in scanned)
    return {
        **single,
        "matched": bool(found["matches"]),
        **found,
        "unchecked": unchecked,
        "items": items,
    }


_MATCH_KEYS = ("matches", "suppressed", "allowlisted")


def _match_dict(result: ScanResult) -> dict[str, Any]:
    """One item's hashes and matches; each match names the item it is of."""

    def listed(matches: tuple[Match, ...]) -> list[dict[str, Any]]:
        return [{**m.to_dict(), "item_id": result.item_id} for m in matches]

    problem = result.error
    return {
        "item_id": result.item_id,
        "status": str(result.status),
        "hashes": result.fingerprint.to_dict() if result.fingerprint else None,
        "matched": bool(result.matches),
        "matches": listed(result.matches),
        "suppressed": listed(result.suppressed),
        "allowlisted": listed(result.allowlisted),
        "error_code": problem.code if problem else result.skip_reason,
        "error": problem.message if problem else None,
    }


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
    dihedral: DihedralForm = False,
    context: Annotated[
        str | None,
        Form(
            max_length=65536,
            description=(
                "what the platform knows of the upload, as JSON (all optional): "
                '{"uploader": {"id", "screen_name", "email"}, "ip_events": [{"address", '
                '"event": Login|Registration|Purchase|Upload|Other|Unknown, "at", "port"}], '
                '"uploaded_at", "url", "public"}; kept encrypted with a queued item\'s media '
                "for a CyberTipline report"
            ),
        ),
    ] = None,
) -> dict[str, Any]:
    """Hashes, matches, provenance assessment and verdict of one upload, or
    of each member of an archive (``results``; ``verdict`` is then the most
    urgent of theirs).

    With ``enqueue`` a known-bank hit or an AI-provenance hit goes to the
    review queue (its media encrypted, if a key is configured).
    """
    upload_context = UploadContext.from_json(context) if context else None
    data, name = doors.read_upload(file)
    scanned = doors.scan_upload(state, data, name, provenance=provenance, dihedral=dihedral)
    wanted = [enqueue_all or (enqueue and result.verdict in HITS) for _, result in scanned]
    if any(wanted) and not who.may(Permission.QUEUE):
        raise ApiError(403, f"role {who.role} may not queue items for review")
    results = [
        _scanned_dict(state, who, item, result, queue=queue, context=upload_context)
        for (item, result), queue in zip(scanned, wanted, strict=True)
    ]
    single = results[0] if len(results) == 1 else {}
    verdict = most_urgent([result.verdict for _, result in scanned])
    return {**single, "verdict": verdict, "results": results}


def _scanned_dict(
    state: ServiceState,
    who: Principal,
    item: ScanItem,
    result: ScanResult,
    *,
    queue: bool,
    context: UploadContext | None,
) -> dict[str, Any]:
    row = result.to_row()
    if not queue:
        return {"verdict": result.verdict, "queued": None, "result": row}
    queued = state.queue.enqueue(
        result, item.data or b"", submitted_by=who.actor, name=item.name, context=context
    )
    return {
        "verdict": result.verdict,
        "queued": queued.id,
        # An upload of a file already waiting for review is linked to its item.
        "uploads": queued.uploads,
        "media": Media(queued.media_state).note,
        # The context is kept under the media's keys, or not at all.
        "context": None if context is None else Media(queued.media_state).note,
        "result": row,
    }
