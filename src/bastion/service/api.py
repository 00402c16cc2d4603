"""The ``/v1`` API: hashing, matching, scanning, banks, the review queue, admin.

Routes are thin: they check who is asking (``require``), call the library
and shape its answer as JSON.  Handlers are plain functions, so FastAPI runs
them in its thread pool and hashing never blocks the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from bastion import audit
from bastion.accounts import Permission, Principal, Role
from bastion.banks.bank import DEFAULT_PDQ_THRESHOLD, Bank, BankKind, Banks
from bastion.banks.entries import add_signals, export_entries, withdraw_signals
from bastion.fingerprint import Signal
from bastion.matching.match import MatchOutcome, match_signals
from bastion.pipeline import Verdict
from bastion.review.items import DISPUTES, Decision, Media, Reveal
from bastion.review.render import render_item
from bastion.service import doors
from bastion.service.errors import ApiError
from bastion.service.params import RowId
from bastion.service.security import Admin, BankReader, Curator, Matcher, Reviewer, State
from bastion.service.state import ServiceState

router = APIRouter(prefix="/v1")

Upload = Annotated[UploadFile, File(description="the image or video")]

#: Verdicts that ``enqueue=true`` sends to the review queue.
HITS = frozenset({Verdict.KNOWN, Verdict.AI_GENERATED, Verdict.AI_EDITED})


class SignalIn(BaseModel):
    type: str = Field(max_length=32, examples=["pdq"])
    value: str = Field(max_length=2_000_000)


class MatchRequest(BaseModel):
    signals: list[SignalIn] = Field(min_length=1, max_length=1000)


class BankIn(BaseModel):
    name: str = Field(max_length=64)
    kind: BankKind = BankKind.BLOCKLIST
    description: str = Field(default="", max_length=10_000)
    pdq_threshold: int = Field(default=DEFAULT_PDQ_THRESHOLD, ge=0, le=63)


class BankPatch(BaseModel):
    description: str | None = Field(default=None, max_length=10_000)
    pdq_threshold: int | None = Field(default=None, ge=0, le=63)


class EntriesIn(BaseModel):
    signals: list[SignalIn] = Field(min_length=1, max_length=100_000)
    labels: list[str] = Field(default_factory=list, max_length=100)


class WithdrawIn(BaseModel):
    signals: list[SignalIn] = Field(min_length=1, max_length=100_000)


class DecisionIn(BaseModel):
    decision: Decision
    category: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class UserIn(BaseModel):
    name: str = Field(max_length=64)
    role: Role
    password: str = Field(min_length=12, max_length=1024)


class KeyIn(BaseModel):
    name: str = Field(max_length=64)
    role: Role = Role.CLIENT


def _signals(items: list[SignalIn]) -> list[Signal]:
    return [Signal(item.type, item.value) for item in items]


def bank_dict(bank: Bank) -> dict[str, Any]:
    return bank.to_dict()


def outcome_dict(outcome: MatchOutcome) -> dict[str, Any]:
    return {
        "matched": bool(outcome.matches),
        "matches": [m.to_dict() for m in outcome.matches],
        "suppressed": [m.to_dict() for m in outcome.suppressed],
        "allowlisted": [m.to_dict() for m in outcome.allowlisted],
    }


# --- health -----------------------------------------------------------------


@router.get("/health", tags=["health"])
def health() -> dict[str, str]:
    """Liveness: the process answers (no credentials needed)."""
    return {"status": "ok"}


@router.get("/ready", tags=["health"])
def ready(state: State) -> JSONResponse:
    """Readiness: the match index is loaded and current (503 otherwise)."""
    problem = state.readiness()
    if problem:
        return JSONResponse({"status": "not ready", "message": problem}, status_code=503)
    return JSONResponse({"status": "ready", "index_seq": state.index.seq})


# --- hashing, matching, scanning -------------------------------------------


@router.post("/hash", tags=["media"])
def hash_upload(_: Matcher, state: State, file: Upload) -> dict[str, Any]:
    """MD5, SHA-1, SHA-256 and PDQ of an image; vPDQ of a video."""
    data, name = doors.read_upload(file)
    return doors.fingerprint(state, data, name).to_dict()


@router.post("/match", tags=["media"])
def match_hashes(_: Matcher, state: State, body: MatchRequest) -> dict[str, Any]:
    """Matches of hashes computed elsewhere (one item's signals), allowlists applied."""
    return outcome_dict(match_signals(_signals(body.signals), state.index))


@router.post("/match/upload", tags=["media"])
def match_upload(_: Matcher, state: State, file: Upload) -> dict[str, Any]:
    """Hash an upload and match it, allowlists applied."""
    data, name = doors.read_upload(file)
    found, outcome = doors.match_upload(state, data, name)
    return {"hashes": found.to_dict(), **outcome_dict(outcome)}


@router.post("/scan", tags=["media"])
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
    item = state.queue.enqueue(result, data, submitted_by=who.actor, name=name)
    return {
        "verdict": result.verdict,
        "queued": item.id,
        # An upload of a file already waiting for review is linked to its item.
        "uploads": item.uploads,
        "media": Media(item.media_state).note,
        "result": row,
    }


# --- banks --------------------------------------------------------------------


@router.get("/banks", tags=["banks"])
def list_banks(_: BankReader, state: State) -> list[dict[str, Any]]:
    return [bank_dict(bank) for bank in Banks(state.store).list()]


@router.post("/banks", tags=["banks"], status_code=201)
def create_bank(who: Curator, state: State, body: BankIn) -> dict[str, Any]:
    bank = Banks(state.store).create(
        body.name, kind=body.kind, description=body.description, pdq_threshold=body.pdq_threshold
    )
    _audit(state, who, "bank.create", f"bank:{bank.name}", kind=bank.kind.value)
    return bank_dict(bank)


@router.get("/banks/{name}", tags=["banks"])
def get_bank(_: BankReader, state: State, name: str) -> dict[str, Any]:
    stats = Banks(state.store).stats(name)
    return {
        **bank_dict(stats.bank),
        "active": stats.active,
        "withdrawn": stats.withdrawn,
        "by_signal_type": stats.by_signal_type,
        "by_label": stats.by_label,
    }


@router.patch("/banks/{name}", tags=["banks"])
def update_bank(who: Curator, state: State, name: str, body: BankPatch) -> dict[str, Any]:
    bank = Banks(state.store).update(
        name, description=body.description, pdq_threshold=body.pdq_threshold
    )
    _audit(state, who, "bank.update", f"bank:{name}", **body.model_dump(exclude_none=True))
    return bank_dict(bank)


@router.delete("/banks/{name}", tags=["banks"])
def delete_bank(who: Curator, state: State, name: str) -> dict[str, Any]:
    removed = Banks(state.store).delete(name)
    _audit(state, who, "bank.delete", f"bank:{name}", entries=removed)
    return {"deleted": name, "entries": removed}


@router.post("/banks/{name}/entries", tags=["banks"])
def add_entries(who: Curator, state: State, name: str, body: EntriesIn) -> dict[str, Any]:
    report = add_signals(state.store, name, _signals(body.signals), body.labels, source=who.actor)
    _audit(state, who, "bank.add", f"bank:{name}", added=report.added, signals=len(body.signals))
    state.refresh_now()
    return report.to_dict()


@router.post("/banks/{name}/entries/withdraw", tags=["banks"])
def withdraw_entries(who: Curator, state: State, name: str, body: WithdrawIn) -> dict[str, Any]:
    withdrawn = withdraw_signals(state.store, name, _signals(body.signals))
    _audit(state, who, "bank.withdraw", f"bank:{name}", withdrawn=withdrawn)
    state.refresh_now()
    return {"withdrawn": withdrawn}


@router.get("/banks/{name}/entries", tags=["banks"])
def export_bank(_: BankReader, state: State, name: str) -> StreamingResponse:
    """Every active entry, one JSON object a line (streamed: any bank size)."""
    Banks(state.store).get(name)  # 404 before the stream starts

    def lines() -> Iterator[bytes]:
        for entry in export_entries(state.store, name):
            record = {
                "signal_type": entry.signal.type,
                "value": entry.signal.value,
                "labels": list(entry.labels),
                "external_id": entry.external_id,
            }
            yield (json.dumps(record) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


# --- the review queue -----------------------------------------------------------


@router.post("/review/claim", tags=["review"])
def claim(who: Reviewer, state: State) -> JSONResponse:
    """The reviewer's next item (204 when the queue is empty)."""
    item = state.queue.claim(who)
    if item is None:
        return JSONResponse(None, status_code=204)
    return JSONResponse(item.to_dict())


@router.get("/review/counts", tags=["review"])
def review_counts(_: Reviewer, state: State) -> dict[str, int]:
    return state.queue.counts()


@router.get("/review/items", tags=["review"])
def review_items(
    who: Reviewer,
    state: State,
    status: Annotated[Literal["open", "claimed", "escalated", "decided"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    return [item.to_dict() for item in state.queue.items(who, status=status, limit=limit)]


@router.get("/review/items/{item_id}", tags=["review"])
def review_item(who: Reviewer, state: State, item_id: RowId) -> dict[str, Any]:
    """The item, each upload it stands for, a false-positive call waiting for a
    second reviewer, and earlier decisions on the same file or a near image."""
    item = state.queue.get(item_id, who)
    return {**item.to_dict(), **state.queue.context(item_id, who)}


@router.get("/review/items/{item_id}/media", tags=["review"])
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


@router.post("/review/items/{item_id}/decision", tags=["review"])
def decide(who: Reviewer, state: State, item_id: RowId, body: DecisionIn) -> dict[str, Any]:
    """Decide a claimed item; a false positive never takes an exact hit off a list
    (see docs/service.md); the decision may be undone for a moment."""
    item = state.queue.decide(item_id, who, body.decision, category=body.category, note=body.note)
    if body.decision in DISPUTES:
        state.refresh_now()
    return item.to_dict()


@router.post("/review/items/{item_id}/undo", tags=["review"])
def undo(who: Reviewer, state: State, item_id: RowId) -> dict[str, Any]:
    """Take back one's own decision within a few seconds; the item is claimed again."""
    item = state.queue.undo(item_id, who)
    state.refresh_now()
    return item.to_dict()


@router.post("/review/items/{item_id}/release", tags=["review"])
def release(who: Reviewer, state: State, item_id: RowId) -> dict[str, str]:
    state.queue.release(item_id, who)
    return {"released": str(item_id)}


@router.put("/review/items/{item_id}/hold", tags=["review"])
def hold(who: Curator, state: State, item_id: RowId) -> dict[str, Any]:
    """Legal hold: the item's media is kept whatever its retention period."""
    return state.queue.set_hold(item_id, who, True).to_dict()


@router.delete("/review/items/{item_id}/hold", tags=["review"])
def unhold(who: Curator, state: State, item_id: RowId) -> dict[str, Any]:
    return state.queue.set_hold(item_id, who, False).to_dict()


@router.get("/review/feedback", tags=["review"])
def list_feedback(
    who: Curator,
    state: State,
    bank: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Reviewers' false positives on list entries, newest first: for the list's curator."""
    return state.queue.feedback(who, bank=bank, limit=limit)


@router.get("/review/items/{item_id}/report", tags=["review"])
def report(who: Curator, state: State, item_id: RowId) -> dict[str, Any]:
    """Hashes, decision and who viewed the file (``fileViewedByEsp``) for a hotline report."""
    return state.queue.report(item_id, who)


# --- administration -------------------------------------------------------------


@router.get("/users", tags=["admin"])
def users(_: Admin, state: State) -> list[dict[str, Any]]:
    return [
        {
            "name": u.name,
            "role": u.role.value,
            "created_at": u.created_at.isoformat(),
            "disabled": u.disabled,
        }
        for u in state.accounts.users()
    ]


@router.post("/users", tags=["admin"], status_code=201)
def add_user(who: Admin, state: State, body: UserIn) -> dict[str, Any]:
    user = state.accounts.add_user(body.name, body.role, body.password, actor=who.actor)
    return {"name": user.name, "role": user.role.value}


@router.delete("/users/{name}", tags=["admin"])
def disable_user(who: Admin, state: State, name: str) -> dict[str, str]:
    state.accounts.disable_user(name, actor=who.actor)
    return {"disabled": name}


@router.get("/apikeys", tags=["admin"])
def api_keys(_: Admin, state: State) -> list[dict[str, Any]]:
    return [
        {
            "prefix": k.prefix,
            "name": k.name,
            "role": k.role.value,
            "created_at": k.created_at.isoformat(),
            "revoked": k.revoked,
        }
        for k in state.accounts.api_keys()
    ]


@router.post("/apikeys", tags=["admin"], status_code=201)
def create_key(who: Admin, state: State, body: KeyIn) -> dict[str, str]:
    """A new key; the secret is in this answer only."""
    secret, info = state.accounts.create_key(body.name, body.role, actor=who.actor)
    return {"key": secret, "prefix": info.prefix, "name": info.name, "role": info.role.value}


@router.delete("/apikeys/{prefix}", tags=["admin"])
def revoke_key(who: Admin, state: State, prefix: str) -> dict[str, str]:
    state.accounts.revoke_key(prefix, actor=who.actor)
    return {"revoked": prefix}


@router.get("/audit", tags=["admin"])
def audit_log(
    _: Admin, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return [
        {
            "seq": r.seq,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "detail": r.detail,
            "digest": r.digest,
        }
        for r in audit.recent(state.store, limit)
    ]


@router.get("/audit/verify", tags=["admin"])
def audit_verify(_: Admin, state: State) -> dict[str, Any]:
    result = audit.verify(state.store)
    return {
        "ok": result.ok,
        "records": result.records,
        "head_seq": result.head_seq,
        "head_digest": result.head_digest,
        "problems": [{"seq": p.seq, "message": p.message} for p in result.problems],
    }


def _audit(state: ServiceState, who: Principal, action: str, target: str, **detail: Any) -> None:
    with state.store.transaction() as session:
        audit.record(session, who.actor, action, target, **detail)
