"""Fingerprint files and byte strings: the hashing step every door calls.

One pass over the bytes: a :class:`~bastion.media.reader.HashingReader` feeds
the crypto hasher while the image decoder reads what it needs; whatever the
decoder skips is hashed at the end.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from bastion.config import Settings
from bastion.errors import BastionError, ItemErrorCode
from bastion.fingerprint import Fingerprint, ItemError, Signal
from bastion.media.errors import FileTooLarge, MediaError, NotAnImage
from bastion.media.image import decode_for_pdq
from bastion.media.reader import HashingReader
from bastion.media.sniff import SNIFF_BYTES, MediaKind, MediaType, sniff
from bastion.media.video import VideoOptions
from bastion.signals.crypto import CryptoHasher
from bastion.signals.pdq import PdqHash, pdq_from_luma
from bastion.signals.vpdq import VideoHash
from bastion.video_hashing import hash_video

#: Extensions that promise an image; content that is not one is an error.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".dib"}
    | {".tif", ".tiff", ".heic", ".heif", ".avif"}
)
_READ_BUFFER = 1 << 20


@lru_cache(maxsize=1)
def default_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings.from_env()


class NotARegularFile(BastionError, OSError):
    """A path names a directory, FIFO, socket or device, not a file."""

    code = ItemErrorCode.NOT_A_FILE
    status = 422


def hash_file(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    dihedral: bool = False,
    video: VideoOptions | None = None,
) -> Fingerprint:
    """Fingerprint the file at ``path``.

    Raises ``OSError`` when the file cannot be opened or read at all (missing,
    permission denied, not a regular file); every problem with the *content*
    is reported in ``Fingerprint.error`` instead, with the crypto digests kept.
    """
    path = Path(path)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise NotARegularFile(f"not a regular file: {path}")
    with open(path, "rb", buffering=0) as raw:
        return hash_stream(
            raw, info.st_size, name=path.name, settings=settings, dihedral=dihedral, video=video
        )


def hash_bytes(
    data: bytes,
    *,
    name: str | None = None,
    settings: Settings | None = None,
    dihedral: bool = False,
    video: VideoOptions | None = None,
) -> Fingerprint:
    """Fingerprint an in-memory file; ``name`` (optional) is used like a path's."""
    return hash_stream(
        io.BytesIO(data), len(data), name=name, settings=settings, dihedral=dihedral, video=video
    )


def hash_stream(
    raw: BinaryIO,
    size: int,
    *,
    name: str | None = None,
    settings: Settings | None = None,
    dihedral: bool = False,
    video: VideoOptions | None = None,
) -> Fingerprint:
    """Fingerprint a seekable binary stream of ``size`` bytes, reading it once.

    ``name`` is only used to flag content that contradicts an image extension
    (a text file called ``.jpg``); the type always comes from the bytes.
    ``video`` says which frames of a video are hashed (default: one a second).
    """
    settings = settings or default_settings()
    hasher = CryptoHasher()
    reader = HashingReader(raw, hasher.update)
    buffered = io.BufferedReader(reader, _READ_BUFFER)
    media_type = sniff(buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES])
    is_video = media_type.kind is MediaKind.VIDEO
    limit, variable = (
        (settings.max_video_bytes, "BASTION_MAX_VIDEO_BYTES")
        if is_video
        else (settings.max_file_bytes, "BASTION_MAX_FILE_BYTES")
    )
    if size > limit:
        error: MediaError = FileTooLarge(
            f"{size:,} bytes is over the limit of {limit:,} ({variable}); not read"
        )
        return Fingerprint(media_type.mime, size, error=ItemError(error.code, error.message))

    try:
        image, video_hash = _decode(buffered, media_type, name, settings, dihedral, video)
    except Exception as exc:  # noqa: BLE001 - one item's failure must not stop the others
        # Whatever went wrong, the bytes can still be hashed (``finish``
        # raises OSError only when they cannot be read at all).
        image, video_hash = _Decoded(error=ItemError.internal(exc)), None
    reader.finish()
    digests = hasher.digests()
    crypto = (
        Signal("md5", digests.md5),
        Signal("sha1", digests.sha1),
        Signal("sha256", digests.sha256),
    )
    pdq = (Signal("pdq", image.pdq.hex),) if image.pdq else ()
    quality = image.pdq.quality if image.pdq else None
    return Fingerprint(
        media_type=media_type.mime,
        size=hasher.length,
        signals=crypto + pdq,
        pdq_quality=quality,
        low_quality=quality is not None and quality < settings.pdq_quality_threshold,
        width=image.width,
        height=image.height,
        pdq_dihedral=image.dihedral,
        video=video_hash,
        error=image.error,
    )


def _decode(
    stream: BinaryIO,
    media_type: MediaType,
    name: str | None,
    settings: Settings,
    dihedral: bool,
    video: VideoOptions | None,
) -> tuple[_Decoded, VideoHash | None]:
    """What decoding the content adds to its digests, by the sniffed type."""
    if media_type.kind is MediaKind.VIDEO:
        video_hash, problem = hash_video(stream, settings, video or VideoOptions())
        image = _Decoded()
        if video_hash is not None:
            image = _Decoded(width=video_hash.width, height=video_hash.height)
        if problem is not None:
            image = replace(image, error=ItemError(problem.code, problem.message))
        return image, video_hash
    if media_type.kind is MediaKind.IMAGE:
        return _hash_image(stream, media_type.pillow_format, settings, dihedral), None
    if media_type.kind is MediaKind.EMPTY:
        return _Decoded(error=ItemError(ItemErrorCode.EMPTY, "the file is empty (0 bytes)")), None
    if name and Path(name).suffix.lower() in IMAGE_EXTENSIONS:
        error = NotAnImage(f"named {Path(name).suffix} but the content is {media_type.mime}")
        return _Decoded(error=ItemError(error.code, error.message)), None
    return _Decoded(), None


@dataclass(frozen=True, slots=True)
class _Decoded:
    """What decoding adds to a fingerprint: an image's PDQ, a frame size, or why not."""

    pdq: PdqHash | None = None
    width: int | None = None
    height: int | None = None
    dihedral: tuple[str, ...] = ()
    error: ItemError | None = None


def _hash_image(
    stream: BinaryIO, pillow_format: str | None, settings: Settings, dihedral: bool
) -> _Decoded:
    try:
        decoded = decode_for_pdq(
            stream, max_pixels=settings.max_pixels, expected_format=pillow_format
        )
    except MediaError as exc:
        return _Decoded(error=ItemError(exc.code, exc.message))
    hashes = pdq_from_luma(decoded.luma, dihedral=dihedral)
    return _Decoded(
        pdq=hashes[0],
        width=decoded.width,
        height=decoded.height,
        dihedral=tuple(h.hex for h in hashes) if dihedral else (),
    )
