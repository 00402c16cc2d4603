"""Routes that speak Meta's Hasher-Matcher-Actioner (HMA 2.0) API.

Platforms that run HMA can point their clients here unchanged, adding an
API key: the paths, parameters and JSON shapes are HMA's, errors are
``{"message": ...}``.  Underneath they call the same library functions as
``/v1`` and the CLI; a "bank content id" is the id of the first entry of an
item (entries of one item share an external id).

Three things behave better than HMA by design: ``/m/lookup`` applies
allowlist banks, no route ever answers an allowlist entry as a match, and
every route but ``/status`` needs credentials.  The exchange routes
(``/c/exchanges...``) are in :mod:`.hma_exchanges`.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import secrets
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from bastion.accounts import Principal
from bastion.banks.bank import Bank, BankKind, BankNotFound, Banks
from bastion.banks.entries import (
    ContentDescription,
    ContentEntry,
    content_description,
    content_entries,
    content_ids,
    first_entry_id,
)
from bastion.fingerprint import Fingerprint, Signal
from bastion.matching.match import match_signals
from bastion.pipeline import ScanItem, scan_item
from bastion.service import doors, hma_exchanges
from bastion.service.errors import ApiError
from bastion.service.fetch import Fetcher
from bastion.service.params import RowId
from bastion.service.security import BankReader, Curator, Fetching, Matcher, State
from bastion.service.state import ServiceState
from bastion.signals.pdq import hamming
from bastion.signals.types import SignalKind, normalize_signal, signal_type
from bastion.store.models import Entry

router = APIRouter(tags=["hma"])
router.include_router(hma_exchanges.router)

Photo = Annotated[UploadFile | None, File(description="an image")]
Video = Annotated[UploadFile | None, File(description="a video")]
#: PDQ distance at which /m/compare calls two hashes a match (HMA's default).
COMPARE_THRESHOLD = 31
#: The signal types HMA's deployment hashes to: a photo gives pdq, a video
#: video_md5.  The others Bastion computes are reported when ``types=`` asks.
HMA_SIGNAL_TYPES = ("pdq", "video_md5")
#: HMA's limit on a content note.
NOTE_LENGTH = 255
#: HMA's bank names (its storage refuses any other).
_HMA_BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def hma_hashes(found: Fingerprint, types: list[str] | None = None) -> dict[str, str]:
    """Signal type -> hash, as HMA's /h/hash answers: the HMA type of the
    media, or every type ``types`` names."""
    if found.video is not None:
        available = {"video_md5": found.md5 or ""}
        if found.video.features:
            available["vpdq"] = found.video.signal_value
    else:
        available = {
            name: value for name in ("pdq", "md5", "sha1", "sha256") if (value := found.get(name))
        }
    if not types:
        return {t: v for t, v in available.items() if t in HMA_SIGNAL_TYPES}
    unknown = [t for t in types if t not in available]
    if unknown:
        raise ApiError(400, f"signal type(s) {', '.join(unknown)} not available for this content")
    return {t: available[t] for t in types}


def _types(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _upload(photo: UploadFile | None, video: UploadFile | None) -> UploadFile | None:
    return photo if photo is not None else video


def _scanned_bytes(state: ServiceState, data: bytes, name: str | None) -> Fingerprint:
    """Hashes through the library's one pipeline, as ``/v1/scan`` and the CLI get them."""
    item = ScanItem(item_id=name or "upload", source="upload", data=data, name=name)
    result = scan_item(item, state.index, state.settings)
    if result.fingerprint is None or result.fingerprint.error is not None:
        error = result.error or (result.fingerprint.error if result.fingerprint else None)
        reason = f"{error.code}: {error.message}" if error else "the content could not be hashed"
        raise ApiError(422, reason)
    return result.fingerprint


def _scanned_upload(state: ServiceState, upload: StarletteUpload) -> Fingerprint:
    return _scanned_bytes(state, *doors.read_upload(upload))


async def _media(
    state: ServiceState, fetcher: Fetcher, upload: StarletteUpload | None, url: str | None
) -> Fingerprint:
    """Hashes of an upload, or of the media at ``url`` (fetched under the fetch rules)."""
    if upload is not None:
        return await run_in_threadpool(_scanned_upload, state, upload)
    if url:
        async with fetcher.fetched(url) as (data, name):
            return await run_in_threadpool(_scanned_bytes, state, data, name)
    raise ApiError(400, "Neither `url` nor multipart file upload was received")


# --- hashing ------------------------------------------------------------------


@router.get("/h/hash")
async def hash_url(
    _: Matcher,
    state: State,
    fetcher: Fetching,
    url: Annotated[str, Query(max_length=4096)],
    types: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, str]:
    found = await _media(state, fetcher, None, url)
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
    found = await _media(state, fetcher, _upload(photo, video), None)
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
    if wanted - set(kinds):  # HMA: a bank it does not know matches nothing
        wanted &= set(kinds)
        if not wanted:
            return {"matches": []}
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
    if found and query.type not in _ITEM_FIRST_TYPES:
        found = await run_in_threadpool(_by_content, state, found)
    if include_distance:
        return {"matches": [{"bank_content_id": i, "distance": str(d)} for i, d in found.items()]}
    return {"matches": list(found)}


#: Signal types an HMA route stores first of an item, so that their entry id
#: is already the item's content id (see ``_add_content``).
_ITEM_FIRST_TYPES = frozenset({"pdq", "video_md5"})


def _by_content(state: ServiceState, found: dict[int, int]) -> dict[int, int]:
    """Entry id -> distance, as content id -> distance: one id per item."""
    ids = content_ids(state.store, list(found))
    out: dict[int, int] = {}
    for entry_id, distance in found.items():
        content_id = ids.get(entry_id, entry_id)
        out[content_id] = min(distance, out.get(content_id, distance))
    return out


def _by_bank(
    signals: list[Signal], state: ServiceState, banks: set[str] | None, seed: str | None
) -> dict[str, list[dict[str, Any]]]:
    """Matching banks and their content ids, allowlists applied.

    As HMA: ``banks`` limits the answer to those banks (an unknown name
    matches nothing), a bank answers when its ``matching_enabled_ratio`` is
    at least a coin flip seeded by ``seed``, distances are strings.
    """
    index = state.index
    outcome = match_signals(signals, index)
    ratios = {bank.name: bank.matching_enabled_ratio for bank in index.banks.values()}
    coinflip = random.Random(seed).random()
    found: dict[str, dict[int, int]] = defaultdict(dict)
    for match in outcome.matches:
        if (banks is not None and match.bank not in banks) or ratios.get(match.bank, 0) < coinflip:
            continue
        by_id = found[match.bank]
        by_id[match.entry_id] = min(match.distance, by_id.get(match.entry_id, match.distance))
    out: dict[str, list[dict[str, Any]]] = {}
    for bank, by_entry in found.items():
        by_content = _by_content(state, by_entry)
        out[bank] = [{"bank_content_id": i, "distance": str(d)} for i, d in by_content.items()]
    return out


@router.get("/m/lookup")
async def lookup(
    _: Matcher,
    state: State,
    fetcher: Fetching,
    signal_type: Annotated[str | None, Query(max_length=32)] = None,
    signal: Annotated[str | None, Query(max_length=2_000_000)] = None,
    url: Annotated[str | None, Query(max_length=4096)] = None,
    banks: Annotated[str | None, Query(max_length=4096)] = None,
    seed: Annotated[str | None, Query(max_length=256)] = None,
) -> dict[str, Any]:
    """Matching banks and content ids, allowlists applied; by hash or by URL."""
    wanted = _bank_names(banks)
    if url:
        found = await _media(state, fetcher, None, url)
        return await run_in_threadpool(_lookup_hashes, state, found, wanted, seed)
    if not signal_type or not signal:
        raise ApiError(400, "give signal_type and signal, or url")
    query = [_signal(signal_type, signal)]
    return await run_in_threadpool(_by_bank, query, state, wanted, seed)


@router.post("/m/lookup")
async def lookup_post(
    _: Matcher,
    state: State,
    fetcher: Fetching,
    photo: Photo = None,
    video: Video = None,
    banks: Annotated[str | None, Query(max_length=4096)] = None,
    seed: Annotated[str | None, Query(max_length=256)] = None,
) -> dict[str, Any]:
    found = await _media(state, fetcher, _upload(photo, video), None)
    return await run_in_threadpool(_lookup_hashes, state, found, _bank_names(banks), seed)


def _bank_names(banks: str | None) -> set[str] | None:
    names = _types(banks)
    return set(names) if names else None


def _lookup_hashes(
    state: ServiceState, found: Fingerprint, banks: set[str] | None, seed: str | None
) -> dict[str, Any]:
    return {t: _by_bank([Signal(t, v)], state, banks, seed) for t, v in hma_hashes(found).items()}


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
def index_status(
    _: Matcher, state: State, signal_type: Annotated[str | None, Query(max_length=32)] = None
) -> dict[str, dict[str, Any]]:
    """Per signal type: whether an index holds it, what it was built to, its size.

    HMA's types unless ``signal_type`` names another Bastion knows; a type
    with nothing indexed yet is ``present: false, built_to: -1``, as HMA
    says before its first build.
    """
    if signal_type is None:
        names: tuple[str, ...] = HMA_SIGNAL_TYPES
    else:
        names = (_known_type(signal_type),)
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
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        size = int(sizes.get(name, 0))
        present = size > 0 and built_to >= 0
        out[name] = {"present": present, "built_to": built_to if present else -1, "size": size}
    return out


def _known_type(name: str) -> str:
    try:
        return signal_type(name).name
    except ValueError:
        raise ApiError(400, f"No such signal type '{name}'") from None


# --- curation -------------------------------------------------------------------


class BankCreate(BaseModel):
    name: str = Field(max_length=64)
    enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    matching_enabled_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    enabled: bool | None = None


class BankUpdate(BankCreate):
    name: str | None = Field(default=None, max_length=64)  # type: ignore[assignment]


class ContentUpdate(BaseModel):
    """HMA's ``disable_until_ts`` (1 matches, 0 does not; Bastion's ``enabled``
    too) and ``note``; what is not given stays."""

    disable_until_ts: int | None = None
    enabled: bool | None = None
    note: str | None = Field(default=None, max_length=NOTE_LENGTH)

    def matches(self) -> bool | None:
        if self.disable_until_ts is not None:
            if self.disable_until_ts not in (0, 1):
                raise ApiError(400, "disable_until_ts must be 0 (disabled) or 1 (enabled)")
            return self.disable_until_ts == 1
        return self.enabled


def hma_bank(bank: Bank) -> dict[str, Any]:
    return {"name": bank.name, "matching_enabled_ratio": bank.matching_enabled_ratio}


def _ratio(body: BankCreate) -> float | None:
    """The share asked for, by any of HMA's spellings (a ratio wins over a switch)."""
    if body.enabled_ratio is not None:
        return body.enabled_ratio
    if body.matching_enabled_ratio is not None:
        return body.matching_enabled_ratio
    if body.enabled is not None:
        return 1.0 if body.enabled else 0.0
    return None


@router.get("/c/banks")
def banks(who: BankReader, state: State) -> list[dict[str, Any]]:
    return [hma_bank(bank) for bank in Banks(state.store, actor=who.actor).list()]


@router.post("/c/banks", status_code=201)
def bank_create(who: Curator, state: State, body: BankCreate) -> dict[str, Any]:
    if not _HMA_BANK_NAME.fullmatch(body.name):
        raise ApiError(400, "Bank names must be UPPER_WITH_UNDERSCORE")
    if any(bank.name == body.name for bank in Banks(state.store, actor=who.actor).list()):
        raise ApiError(403, "Bank already exists")
    ratio = _ratio(body)
    return hma_bank(
        Banks(state.store, actor=who.actor).create(
            body.name, matching_enabled_ratio=1.0 if ratio is None else ratio
        )
    )


@router.get("/c/bank/{name}")
def bank_get(who: BankReader, state: State, name: str) -> dict[str, Any]:
    return hma_bank(Banks(state.store, actor=who.actor).get(name))


@router.put("/c/bank/{name}")
def bank_update(who: Curator, state: State, name: str, body: BankUpdate) -> dict[str, Any]:
    """``enabled``, ``enabled_ratio`` or ``matching_enabled_ratio`` switch matching
    from the bank; a bank is never renamed (its name is in audit and exports)."""
    Banks(state.store, actor=who.actor).get(name)
    if body.name is not None and body.name != name:
        raise ApiError(400, "renaming banks is not supported")
    bank = Banks(state.store, actor=who.actor).update(name, matching_enabled_ratio=_ratio(body))
    state.refresh_now()
    return hma_bank(bank)


@router.delete("/c/bank/{name}")
def bank_delete(who: Curator, state: State, name: str) -> dict[str, str]:
    with contextlib.suppress(BankNotFound):  # HMA answers "Done" for a bank already gone
        Banks(state.store, actor=who.actor).delete(name)
    return {"message": "Done"}


#: HMA's BankedContentMetadata keys, all optional.
_METADATA_KEYS = frozenset({"content_id", "content_uri", "json"})


def _metadata(value: Any) -> str | None:
    """HMA's metadata, checked as HMA checks it, as JSON text to store."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ApiError(400, "metadata should be a json object") from None
    if not isinstance(value, dict):
        raise ApiError(400, "metadata should be a json object")
    unexpected = set(value) - _METADATA_KEYS
    if unexpected:
        raise ApiError(400, f"metadata contains unexpected keys: {', '.join(sorted(unexpected))}")
    return json.dumps(value)


def _note(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > NOTE_LENGTH:
        raise ApiError(400, f"note must be a string of at most {NOTE_LENGTH} characters")
    return value


def _add_content(
    state: ServiceState,
    who: Principal,
    bank: str,
    hashes: dict[str, str],
    description: ContentDescription,
) -> dict[str, Any]:
    if not hashes:
        raise ApiError(400, "No signals given")
    # Each item its own external id: two items with the same metadata
    # content_id are two items, as in HMA.
    content_id = f"hma:{secrets.token_hex(8)}"
    Banks(state.store, actor=who.actor).get(bank)
    # HMA's own type first: its entry id is then the item's content id,
    # which raw lookups of it answer without asking the store.
    signals = sorted(
        (_signal(t, v) for t, v in hashes.items()), key=lambda s: s.type not in _ITEM_FIRST_TYPES
    )
    banks = Banks(state.store, actor=who.actor)
    banks.add_signals(bank, signals, source=who.actor, external_ids=[content_id] * len(signals))
    if description != ContentDescription(None, None):
        banks.describe_content(bank, content_id, description.metadata, description.note)
    state.refresh_now()
    return {
        "id": first_entry_id(state.store, bank, content_id),
        "signals": {s.type: s.value for s in signals},
    }


@router.post("/c/bank/{name}/signal")
def bank_add_signal(who: Curator, state: State, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Add hashes of one item: ``{"pdq": "<hex>", ...}`` (plus optional
    ``metadata`` and ``note``)."""
    description = ContentDescription(
        _metadata(body.pop("metadata", None)), _note(body.pop("note", None))
    )
    hashes = {k: v for k, v in body.items() if isinstance(v, str)}
    if len(hashes) != len(body):
        raise ApiError(400, "each signal must be a string")
    return _add_content(state, who, name, hashes, description)


@router.post("/c/bank/{name}/content")
async def bank_add_content(
    who: Curator,
    state: State,
    fetcher: Fetching,
    request: Request,
    name: str,
    url: Annotated[str | None, Query(max_length=4096)] = None,
    metadata: Annotated[str | None, Query(max_length=100_000)] = None,
    note: Annotated[str | None, Query(max_length=NOTE_LENGTH)] = None,
) -> dict[str, Any]:
    """Hash an upload (field ``photo`` or ``video``) or ``url`` and bank it as one item.

    ``metadata`` and ``note`` come from the query, the form, or a JSON body
    (with ``url``), as HMA reads them.
    """
    fields: dict[str, Any] = {"metadata": metadata, "note": note}
    upload: StarletteUpload | None = None
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        if isinstance(body, dict):
            fields.update({k: body[k] for k in ("metadata", "note") if k in body})
    elif request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        fields.update({k: form[k] for k in ("metadata", "note") if k in form})
        media = form.get("photo") or form.get("video")
        upload = media if isinstance(media, StarletteUpload) else None
    description = ContentDescription(_metadata(fields["metadata"]), _note(fields["note"]))
    await run_in_threadpool(Banks(state.store, actor=who.actor).get, name)
    found = await _media(state, fetcher, upload, url)
    return await run_in_threadpool(_add_content, state, who, name, hma_hashes(found), description)


def _content(
    state: ServiceState, who: Principal, bank: str, content_id: int, *, include_signals: bool = True
) -> dict[str, Any]:
    """HMA's BankContentConfig of an item, with its metadata and note when set."""
    entries = content_entries(state.store, bank, content_id)
    if not entries:
        raise ApiError(404, f"no content {content_id} in bank {bank!r}")
    out: dict[str, Any] = {
        "id": content_id,
        # HMA's magic values: 1 matches, 0 does not.
        "disable_until_ts": 1 if any(not entry.withdrawn for entry in entries) else 0,
        "original_media_uri": None,
        "bank": hma_bank(Banks(state.store, actor=who.actor).get(bank)),
    }
    if include_signals:
        out["signals"] = {entry.signal.type: entry.signal.value for entry in entries}
    described = content_description(state.store, bank, _item_key(entries))
    if described.metadata is not None:
        out["metadata"] = json.loads(described.metadata)
    if described.note is not None:
        out["note"] = described.note
    return out


def _item_key(entries: list[ContentEntry]) -> str:
    """The item's external id (an entry without one is an item by itself)."""
    return entries[0].external_id or f"#{entries[0].entry_id}"


@router.get("/c/bank/{name}/content/{content_id}")
def content_get(
    who: BankReader, state: State, name: str, content_id: RowId, include_signals: bool = False
) -> dict[str, Any]:
    return _content(state, who, name, content_id, include_signals=include_signals)


@router.put("/c/bank/{name}/content/{content_id}")
def content_update(
    who: Curator, state: State, name: str, content_id: RowId, body: ContentUpdate
) -> dict[str, Any]:
    """``disable_until_ts`` 0 withdraws the item's hashes; 1 restores them."""
    entries = content_entries(state.store, name, content_id)
    if not entries:
        raise ApiError(404, f"no content {content_id} in bank {name!r}")
    signals = [entry.signal for entry in entries]
    banks = Banks(state.store, actor=who.actor)
    matches = body.matches()
    if matches:
        external = [entry.external_id for entry in entries]
        banks.add_signals(name, signals, source=who.actor, external_ids=external)
    elif matches is not None:
        banks.withdraw_signals(name, signals)
    if body.note is not None:
        key = _item_key(entries)
        metadata = content_description(state.store, name, key).metadata
        banks.describe_content(name, key, metadata, body.note)
    state.refresh_now()
    return _content(state, who, name, content_id)


@router.delete("/c/bank/{name}/content/{content_id}")
def content_delete(who: Curator, state: State, name: str, content_id: RowId) -> dict[str, int]:
    """``deleted`` counts items (1, or 0 when there is no such item), as HMA."""
    entries = content_entries(state.store, name, content_id)
    if not entries:
        return {"deleted": 0}
    banks = Banks(state.store, actor=who.actor)
    withdrawn = banks.withdraw_signals(name, [entry.signal for entry in entries])
    state.refresh_now()
    return {"deleted": 1 if withdrawn else 0}


# --- health -----------------------------------------------------------------------


@router.get("/status", response_class=PlainTextResponse)
def status(state: State) -> PlainTextResponse:
    """``I-AM-ALIVE`` when the index is loaded and current; else 503 with HMA's
    word for why (the reason in full is in the log and ``/v1/health``)."""
    problem = state.readiness()
    if problem is None:
        return PlainTextResponse("I-AM-ALIVE")
    word = "INDEX-STALE" if "stale" in problem else "INDEX-NOT-LOADED"
    return PlainTextResponse(word, status_code=503)


@router.get("/status/live", response_class=PlainTextResponse)
def live() -> PlainTextResponse:
    """The process answers (a liveness probe; ``/status`` is readiness)."""
    return PlainTextResponse("I-AM-ALIVE")
