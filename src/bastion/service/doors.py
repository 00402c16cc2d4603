"""The service's door into the pipeline: uploads in, the library's results out.

Every route that takes media - ours and the HMA-compatible ones - comes
through here, and from here into the same functions the CLI calls
(``hash_bytes``, ``scan_item``, ``match_outcome``), so an upload gets the
answer ``bastion scan`` would give for the same file.
"""

from __future__ import annotations

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from bastion.fingerprint import Fingerprint
from bastion.hashing import hash_bytes
from bastion.matching.match import MatchOutcome, match_outcome
from bastion.pipeline import ScanItem, ScanResult, scan_item
from bastion.provenance import InspectOptions
from bastion.service.errors import ApiError
from bastion.service.fetch import Fetcher
from bastion.service.state import ServiceState


def read_upload(upload: StarletteUpload) -> tuple[bytes, str | None]:
    data = upload.file.read()
    if not data:
        raise ApiError(400, f"the uploaded file {upload.filename or '(unnamed)'} is empty")
    return data, upload.filename


def fingerprint(state: ServiceState, data: bytes, name: str | None) -> Fingerprint:
    """Hashes of an upload; 422 with the reason when it is not usable media."""
    found = hash_bytes(data, name=name, settings=state.settings)
    if found.error is not None:
        raise ApiError(422, f"{found.error.code}: {found.error.message}")
    return found


def _upload_fingerprint(state: ServiceState, upload: UploadFile) -> Fingerprint:
    return fingerprint(state, *read_upload(upload))


async def media_fingerprint(
    state: ServiceState, fetcher: Fetcher, upload: UploadFile | None, url: str | None
) -> Fingerprint:
    """Hashes of an upload, or of the media at ``url`` when fetching is allowed.

    Hashing runs in a worker thread; a fetch waits on the event loop and
    keeps its fetch slot until its body is hashed (see :mod:`.fetch`).
    """
    if upload is not None:
        return await run_in_threadpool(_upload_fingerprint, state, upload)
    if url:
        async with fetcher.fetched(url) as (data, name):
            return await run_in_threadpool(fingerprint, state, data, name)
    raise ApiError(400, "send a file (multipart/form-data) or a url")


def match_upload(
    state: ServiceState, data: bytes, name: str | None
) -> tuple[Fingerprint, MatchOutcome]:
    found = fingerprint(state, data, name)
    return found, match_outcome(found, state.index)


def scan_upload(
    state: ServiceState, data: bytes, name: str | None, *, provenance: bool
) -> ScanResult:
    """What ``bastion scan`` says of this file: hashes, matches, provenance, verdict."""
    item = ScanItem(item_id=name or "upload", source="upload", data=data, name=name)
    options = InspectOptions() if provenance else None
    result = scan_item(item, state.index, state.settings, provenance=options)
    if result.error is not None and not result.matches:
        raise ApiError(422, f"{result.error.code}: {result.error.message}")
    return result
