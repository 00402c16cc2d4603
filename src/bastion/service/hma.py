"""Routes that speak Meta's Hasher-Matcher-Actioner (HMA 2.0) API.

Platforms that run HMA can point their clients here unchanged, adding an
API key: the paths, parameters and JSON shapes are HMA's, errors are
``{"message": ...}``.  Underneath they call the same library functions as
``/v1`` and the CLI; a "bank content id" is the id of the first entry of an
item (entries of one item share an external id).

Three things behave better than HMA by design: ``/m/lookup`` applies
allowlist banks, no route ever answers an allowlist entry as a match, and
every route but ``/status`` needs credentials.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from bastion.accounts import Principal
from bastion.banks.bank import Bank, BankKind, BankNotFound, Banks
from bastion.banks.entries import content_entries, first_entry_id
from bastion.fingerprint import Fingerprint, Signal
from bastion.matching.match import match_signals
from bastion.service import doors
from bastion.service.errors import ApiError
from bastion.service.params import RowId
from bastion.service.security import BankReader, Curator, Fetching, Matcher, State
from bastion.service.state import ServiceState
from bastion.signals.pdq import hamming
from bastion.signals.types import SignalKind, normalize_signal, signal_type
from bastion.store.models import Entry

router = APIRouter(tags=["hma"])

Photo = Annotated[UploadFile | None, File(description="an image")]
Video = Annotated[UploadFile | None, File(description="a video")]
#: PDQ distance at which /m/compare calls two hashes a match (HMA's default).
COMPARE_THRESHOLD = 31


def hma_hashes(found: Fingerprint, types: list[str] | None = None) -> dict[str, str]:
    """Signal type -> hash, as HMA's /h/hash answers (videos: video_md5 and vpdq)."""
    if found.video is not None:
        out = {"video_md5": found.md5 or ""}
        if found.video.features:
            out["vpdq"] = found.video.signal_value
    else:
        out = {
            name: value for name in ("pdq", "md5", "sha1", "sha256") if (value := found.get(name))
        }
    if types:
        unknown = [t for t in types if t not in out]
        if unknown:
            raise ApiError(
                400, f"signal type(s) {', '.join(unknown)} not available for this content"
            )
        out = {t: out[t] for t in types}
    return out


def _types(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _upload(photo: UploadFile | None, video: UploadFile | None) -> UploadFile | None:
    return photo if photo is not None else video


# --- hashing ------------------------------------------------------------------


@router.get("/h/hash")
async def hash_url(
    _: Matcher,
    state: State,
    fetcher: Fetching,
    url: Annotated[str, Query(max_length=4096)],
    types: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, str]:
    found = await doors.media_fingerprint(state, fetcher, None, url)
    return hma_hashes(found, _types(types))


@router.post("/h/hash")
async def hash_post(
    _: Matcher,
    state: State,
    fetcher: Fetching,
    photo: Photo = None,
    video: Video = None,
    types: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, str]:
    found = await doors.media_fingerprint(state, fetcher, _upload(photo, video), None)
    return hma_hashes(found, _types(types))


# --- matching -------------------------------------------------------------------


def _signal(signal_type_name: str, value: str) -> Signal:
    return normalize_signal(signal_type(signal_type_name).name, value)


@router.get("/m/raw_lookup")
async def raw_lookup(
    _: Matcher,
    state: State,
    signal_type: Annotated[str, Query(max_length=32)],
    signal: Annotated[str, Query(max_length=2_000_000)],
    banks: Annotated[str | None, Query(max_length=4096)] = None,
    include_distance: bool = False,
) -> dict[str, list[Any]]:
    """Blocklist entries whose hash is within their bank's threshold.

    Raw: allowlists do not suppress here (``/m/lookup`` applies them), but
    an allowlist entry is never answered as a match either - a caller that
    acts on every id it gets back must not act on a known false positive.
    Served on the event loop: a lookup takes tens of microseconds, less than
    handing it to a thread would.
    """
    query = _signal(signal_type, signal)
    index = state.index
    wanted = set(_types(banks) or ())
    kinds = {bank.name: bank.kind for bank in index.banks.values()}
    if wanted - set(kinds):
        raise ApiError(400, f"no bank named {sorted(wanted - set(kinds))[0]!r}")
    allowlists = sorted(name for name in wanted if kinds[name] is BankKind.ALLOWLIST)
    if allowlists:
        raise ApiError(
            400, f"bank {allowlists[0]!r} is an allowlist: its entries are never matches"
        )
    found: dict[int, int] = {}
    for hit in index.lookup(query):
        bank = index.banks.get(hit.bank_id)
        if bank is None or bank.kind is BankKind.ALLOWLIST or (wanted and bank.name not in wanted):
            continue
        if hit.distance <= bank.pdq_threshold or hit.signal_type != "pdq":
            found[hit.entry_id] = min(hit.distance, found.get(hit.entry_id, hit.distance))
    if include_distance:
        return {"matches": [{"bank_content_id": i, "distance": str(d)} for i, d in found.items()]}
    return {"matches": list(found)}


def _by_bank(signals: list[Signal], state: ServiceState) -> dict[str, list[dict[str, int]]]:
    outcome = match_signals(signals, state.index)
    out: dict[str, list[dict[str, int]]] = defaultdict(list)
    for match in outcome.matches:
        out[match.bank].append({"bank_content_id": match.entry_id, "distance": match.distance})
    return dict(out)


@router.get("/m/lookup")
async def lookup(
    _: Matcher,
    state: State,
    fetcher: Fetching,
    signal_type: Annotated[str | None, Query(max_length=32)] = None,
    signal: Annotated[str | None, Query(max_length=2_000_000)] = None,
    url: Annotated[str | None, Query(max_length=4096)] = None,
) -> dict[str, Any]:
    """Matching banks and content ids, allowlists applied; by hash or by URL."""
    if url:
        found = await doors.media_fingerprint(state, fetcher, None, url)
        return await run_in_threadpool(_lookup_hashes, state, found)
    if not signal_type or not signal:
        raise ApiError(400, "give signal_type and signal, or url")
    return await run_in_threadpool(_by_bank, [_signal(signal_type, signal)], state)


@router.post("/m/lookup")
async def lookup_post(
    _: Matcher, state: State, fetcher: Fetching, photo: Photo = None, video: Video = None
) -> dict[str, Any]:
    found = await doors.media_fingerprint(state, fetcher, _upload(photo, video), None)
    return await run_in_threadpool(_lookup_hashes, state, found)


def _lookup_hashes(state: ServiceState, found: Fingerprint) -> dict[str, Any]:
    return {t: _by_bank([Signal(t, v)], state) for t, v in hma_hashes(found).items()}


@router.post("/m/compare")
def compare(_: Matcher, body: dict[str, list[str]]) -> dict[str, list[Any]]:
    """Whether two hashes of each type match, and (PDQ) their distance."""
    out: dict[str, list[Any]] = {}
    for name, values in body.items():
        if len(values) != 2:
            raise ApiError(400, f"{name}: give exactly two hashes, not {len(values)}")
        kind = signal_type(name)
        left, right = (normalize_signal(kind.name, v).value for v in values)
        if kind.kind is SignalKind.PDQ:
            distance = hamming(left, right)
            out[name] = [distance <= COMPARE_THRESHOLD, {"distance": distance}]
        else:
            out[name] = [left == right, {}]
    if not out:
        raise ApiError(400, 'give hashes to compare, e.g. {"pdq": ["<hex>", "<hex>"]}')
    return out


@router.get("/m/index/status")
def index_status(_: Matcher, state: State) -> dict[str, dict[str, Any]]:
    """Per signal type: whether an index is loaded, what it was built to, its size."""
    index = state.index
    with state.store.sessions() as session:
        sizes = dict(
            session.execute(
                select(Entry.signal_type, func.count())
                .where(Entry.withdrawn_at.is_(None), Entry.seq <= index.seq)
                .group_by(Entry.signal_type)
            ).all()
        )
    built_to = int(index.snapshot.stat().st_mtime) if index.snapshot.exists() else -1
    return {
        name: {"present": True, "built_to": built_to, "size": int(sizes.get(name, 0))}
        for name in ("pdq", "md5", "sha1", "sha256", "video_md5", "vpdq")
    }


# --- curation -------------------------------------------------------------------


class BankCreate(BaseModel):
    name: str = Field(max_length=64)
    enabled_ratio: float = Field(default=1.0, ge=0.0, le=1.0)


class BankUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)


class ContentUpdate(BaseModel):
    enabled: bool


def hma_bank(bank: Bank) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": 1.0, "kind": bank.kind.value}


def _fully_enabled(ratio: float | None) -> None:
    if ratio is not None and ratio != 1.0:
        raise ApiError(400, "Bastion matches a bank fully or not at all: enabled_ratio must be 1.0")


@router.get("/c/banks")
def banks(who: BankReader, state: State) -> list[dict[str, Any]]:
    return [hma_bank(bank) for bank in Banks(state.store, actor=who.actor).list()]


@router.post("/c/banks", status_code=201)
def bank_create(who: Curator, state: State, body: BankCreate) -> dict[str, Any]:
    _fully_enabled(body.enabled_ratio)
    if any(bank.name == body.name for bank in Banks(state.store, actor=who.actor).list()):
        raise ApiError(403, "Bank already exists")
    return hma_bank(Banks(state.store, actor=who.actor).create(body.name))


@router.get("/c/bank/{name}")
def bank_get(who: BankReader, state: State, name: str) -> dict[str, Any]:
    return hma_bank(Banks(state.store, actor=who.actor).get(name))


@router.put("/c/bank/{name}")
def bank_update(who: Curator, state: State, name: str, body: BankUpdate) -> dict[str, Any]:
    bank = Banks(state.store, actor=who.actor).get(name)
    if body.name is not None and body.name != name:
        raise ApiError(400, "renaming banks is not supported")
    _fully_enabled(body.enabled_ratio)
    return hma_bank(bank)


@router.delete("/c/bank/{name}")
def bank_delete(who: Curator, state: State, name: str) -> dict[str, str]:
    with contextlib.suppress(BankNotFound):  # HMA answers "Done" for a bank already gone
        Banks(state.store, actor=who.actor).delete(name)
    return {"message": "Done"}


def _add_content(
    state: ServiceState, who: Principal, bank: str, hashes: dict[str, str], metadata: Any
) -> dict[str, Any]:
    if not hashes:
        raise ApiError(400, "No signals given")
    if metadata is not None and not isinstance(metadata, dict):
        raise ApiError(400, "metadata should be a json object")
    unexpected = set(metadata or {}) - {"content_id", "content_uri", "json"}
    if unexpected:
        raise ApiError(400, f"metadata contains unexpected keys: {', '.join(sorted(unexpected))}")
    content_id = str((metadata or {}).get("content_id") or f"hma:{secrets.token_hex(8)}")
    Banks(state.store, actor=who.actor).get(bank)
    signals = [_signal(t, v) for t, v in hashes.items()]
    Banks(state.store, actor=who.actor).add_signals(
        bank, signals, source=who.actor, external_ids=[content_id] * len(signals)
    )
    state.refresh_now()
    return {
        "id": first_entry_id(state.store, bank, content_id),
        "signals": {s.type: s.value for s in signals},
    }


@router.post("/c/bank/{name}/signal")
def bank_add_signal(who: Curator, state: State, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Add hashes of one item: ``{"pdq": "<hex>", ...}`` (plus optional ``metadata``)."""
    metadata = body.pop("metadata", None)
    hashes = {k: v for k, v in body.items() if isinstance(v, str)}
    if len(hashes) != len(body):
        raise ApiError(400, "each signal must be a string")
    return _add_content(state, who, name, hashes, metadata)


@router.post("/c/bank/{name}/content")
async def bank_add_content(
    who: Curator,
    state: State,
    fetcher: Fetching,
    name: str,
    photo: Photo = None,
    video: Video = None,
    url: Annotated[str | None, Query(max_length=4096)] = None,
    metadata: Annotated[str | None, Query(max_length=100_000)] = None,
) -> dict[str, Any]:
    """Hash an upload (or ``url``) and add its hashes to the bank as one item."""
    parsed = None
    if metadata:
        try:
            parsed = json.loads(metadata)
        except json.JSONDecodeError:
            raise ApiError(400, "metadata should be a json object") from None
    await run_in_threadpool(Banks(state.store, actor=who.actor).get, name)
    found = await doors.media_fingerprint(state, fetcher, _upload(photo, video), url)
    return await run_in_threadpool(_add_content, state, who, name, hma_hashes(found), parsed)


def _content(state: ServiceState, bank: str, content_id: int) -> dict[str, Any]:
    entries = content_entries(state.store, bank, content_id)
    if not entries:
        raise ApiError(404, f"no content {content_id} in bank {bank!r}")
    return {
        "id": content_id,
        "bank": bank,
        "enabled": any(not entry.withdrawn for entry in entries),
        "signals": {entry.signal.type: entry.signal.value for entry in entries},
    }


@router.get("/c/bank/{name}/content/{content_id}")
def content_get(_: BankReader, state: State, name: str, content_id: RowId) -> dict[str, Any]:
    return _content(state, name, content_id)


@router.put("/c/bank/{name}/content/{content_id}")
def content_update(
    who: Curator, state: State, name: str, content_id: RowId, body: ContentUpdate
) -> dict[str, Any]:
    """``{"enabled": false}`` withdraws the item's hashes; ``true`` restores them."""
    entries = content_entries(state.store, name, content_id)
    if not entries:
        raise ApiError(404, f"no content {content_id} in bank {name!r}")
    signals = [entry.signal for entry in entries]
    banks = Banks(state.store, actor=who.actor)
    if body.enabled:
        external = [entry.external_id for entry in entries]
        banks.add_signals(name, signals, source=who.actor, external_ids=external)
    else:
        banks.withdraw_signals(name, signals)
    state.refresh_now()
    return _content(state, name, content_id)


@router.delete("/c/bank/{name}/content/{content_id}")
def content_delete(who: Curator, state: State, name: str, content_id: RowId) -> dict[str, int]:
    entries = content_entries(state.store, name, content_id)
    if not entries:
        raise ApiError(404, f"no content {content_id} in bank {name!r}")
    banks = Banks(state.store, actor=who.actor)
    deleted = banks.withdraw_signals(name, [entry.signal for entry in entries])
    state.refresh_now()
    return {"deleted": deleted}


# --- health -----------------------------------------------------------------------


@router.get("/status", response_class=PlainTextResponse)
def status(state: State) -> PlainTextResponse:
    """``I-AM-ALIVE`` when the index is loaded and current; 503 otherwise."""
    problem = state.readiness()
    if problem:
        return PlainTextResponse(problem, status_code=503)
    return PlainTextResponse("I-AM-ALIVE")
