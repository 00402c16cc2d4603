"""The service's door into the pipeline: uploads in, the library's results out.

Every route that takes media - ours and the HMA-compatible ones - comes
through here, and from here into the same functions the CLI calls
(``hash_bytes``, ``scan_item``, ``match_outcome``), so an upload gets the
answer ``bastion scan`` would give for the same file.
"""

from __future__ import annotations

from fastapi import UploadFile

from bastion.banks.match import MatchOutcome, match_outcome
from bastion.fingerprint import Fingerprint
from bastion.hashing import hash_bytes
from bastion.pipeline import ScanResult, scan_item
from bastion.provenance import InspectOptions
from bastion.scan.items import ScanItem
from bastion.service.errors import ApiError
from bastion.service.fetch import fetch
from bastion.service.state import ServiceState


def read_upload(upload: UploadFile) -> tuple[bytes, str | None]:
    data = upload.file.read()
    if not data:
        raise ApiError(400, f"the uploaded file {upload.filename or '(unnamed)'} is empty")
    return data, upload.filename


def media_from(
    state: ServiceState, upload: UploadFile | None, url: str | None
) -> tuple[bytes, str | None]:
    """The bytes of an upload, or of ``url`` when fetching is allowed."""
    if upload is not None:
        return read_upload(upload)
    if url:
        return fetch(url, state.settings)
    raise ApiError(400, "send a file (multipart/form-data) or a url")


def fingerprint(state: ServiceState, data: bytes, name: str | None) -> Fingerprint:
    """Hashes of an upload; 422 with the reason when it is not usable media."""
    found = hash_bytes(data, name=name, settings=state.settings)
    if found.error is not None:
        raise ApiError(422, f"{found.error.code}: {found.error.message}")
    return found


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
