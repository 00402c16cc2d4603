"""What each fuzz target checks: untrusted bytes in, a result or a documented error out.

A target raises (and the fuzzer reports a crash) only when a parser lets an
exception escape that a door would otherwise have to catch: the media
pipeline's catch-all ``internal`` error, anything from a provenance reader
or an archive walk, anything but ``FormatError`` from a list format.  The
same functions run the regression corpus in ``tests/fuzz`` under pytest.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from bastion.config import Settings
from bastion.errors import ItemErrorCode
from bastion.formats import FORMATS
from bastion.formats.records import FormatError
from bastion.hashing import hash_bytes
from bastion.media.sniff import SNIFF_BYTES, sniff
from bastion.provenance import InspectOptions, inspect_bytes
from bastion.scan.archives import iter_archive

#: Small limits, so one input costs milliseconds, not a video's worth of decoding.
SETTINGS = Settings(
    max_pixels=4_000_000,
    max_video_frames=8,
    max_video_seconds=8,
    video_time_budget=2,
    max_archive_bytes=8 << 20,
    max_metadata_bytes=1 << 20,
)


class Finding(AssertionError):
    """An input made a parser fail in a way no door expects."""


def media(data: bytes) -> None:
    """Sniffing, image and video decoding, hashing: problems only as item errors."""
    fingerprint = hash_bytes(data, name="input.jpg", settings=SETTINGS)
    if fingerprint.error is not None and fingerprint.error.code == ItemErrorCode.INTERNAL:
        raise Finding(f"decoding raised {fingerprint.error.message}")


def provenance(data: bytes) -> None:
    """C2PA, EXIF, XMP, generator metadata and watermark readers: evidence, never a raise."""
    mime = sniff(data[:SNIFF_BYTES]).mime
    inspect_bytes(data, mime, SETTINGS, InspectOptions(include_prompts=True, watermarks=True))


def archive(data: bytes) -> None:
    """Zip and tar walking: every problem is a row, none an unforeseen exception."""
    for item in iter_archive(io.BytesIO(data), "fuzz", "fuzz", SETTINGS):
        if item.error is not None and item.error.code == ItemErrorCode.INTERNAL:
            raise Finding(f"walking the archive raised {item.error.message}")


def _list_format(name: str) -> Callable[[bytes], None]:
    fmt = FORMATS[name]

    def read(data: bytes) -> None:
        try:
            for _ in fmt.read(io.BytesIO(data)):
                pass
        except FormatError:
            pass  # the documented way for a document to fail

    read.__doc__ = f"The {name} list reader: items, rejects or a FormatError."
    return read


TARGETS: dict[str, Callable[[bytes], None]] = {
    "media": media,
    "provenance": provenance,
    "archive": archive,
    **{f"format-{name}": _list_format(name) for name in sorted(FORMATS)},
}
