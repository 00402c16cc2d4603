"""The service's door into the pipeline: uploads in, the library's results out.

Every route that takes media - ours and the HMA-compatible ones - comes
through here, and from here into the same functions the CLI calls
(:func:`bastion.scan.archives.expand`, :func:`bastion.pipeline.scan_item`),
so an upload gets the answer ``bastion scan`` would give for the same file:
an archive's members each get their own result.
"""

from __future__ import annotations

from fastapi import UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload

from bastion.errors import ItemErrorCode
from bastion.fingerprint import Fingerprint, ItemError
from bastion.pipeline import ScanItem, ScanResult, Status, scan_item
from bastion.provenance import InspectOptions
from bastion.scan.archives import expand
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
    result = scan_item(_item(data, name), None, state.settings)
    if result.error is not None or result.fingerprint is None:
        raise _unusable(result)
    return result.fingerprint


def _item(data: bytes, name: str | None) -> ScanItem:
    return ScanItem(item_id=name or "upload", source="upload", data=data, name=name)


def _unusable(result: ScanResult) -> ApiError:
    problem = result.error or ItemError(
        result.skip_reason or ItemErrorCode.INTERNAL, "not hashed: skipped"
    )
    return ApiError(422, f"{problem.code}: {problem.message}")


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


def scan_upload(
    state: ServiceState,
    data: bytes,
    name: str | None,
    *,
    provenance: bool = True,
    dihedral: bool = False,
) -> list[tuple[ScanItem, ScanResult]]:
    """What ``bastion scan`` says of this file - hashes, matches, provenance,
    verdict - or of each member when it is an archive.

    A single file that is not usable media is a 422 (there is nothing else
    to say of it), unless its digests matched; an archive's broken members
    are rows of their own, as in a scan.
    """
    options = InspectOptions() if provenance else None
    scanned = [
        (item, scan_item(item, state.index, state.settings, provenance=options, dihedral=dihedral))
        for item in expand(_item(data, name), state.settings)
    ]
    if len(scanned) == 1:
        only = scanned[0][1]
        if only.status is not Status.HASHED and not only.matches:
            raise _unusable(only)
    return scanned
