"""Media type from magic bytes, never from the file name.

Collections are full of renamed files (an archive called ``.jpg``, a video
called ``.dat``); trusting extensions would either crash decoders or skip
content that must be hashed.  ``sniff`` needs only the first bytes of a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

#: How many leading bytes ``sniff`` looks at (tar's magic sits at 257).
SNIFF_BYTES = 512


class MediaKind(StrEnum):
    """Broad class of content, which decides what Bastion does with it."""

    IMAGE = "image"
    VIDEO = "video"
    ARCHIVE = "archive"
    DOCUMENT = "document"
    TEXT = "text"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class MediaType:
    """A detected type: its MIME name and broad kind."""

    mime: str
    kind: MediaKind

    @property
    def pillow_format(self) -> str | None:
        """Pillow's name for the decoder of this image type, if any."""
        return _PILLOW_FORMATS.get(self.mime)


_PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/heif": "HEIF",
    "image/avif": "AVIF",
}


# ISO base media file format brands (the ``ftyp`` box at offset 4).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_QUICKTIME_BRANDS = {b"qt  "}

_SIGNATURES: tuple[tuple[bytes, int, str, MediaKind], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg", MediaKind.IMAGE),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", MediaKind.IMAGE),
    (b"GIF87a", 0, "image/gif", MediaKind.IMAGE),
    (b"GIF89a", 0, "image/gif", MediaKind.IMAGE),
    (b"BM", 0, "image/bmp", MediaKind.IMAGE),
    (b"II*\x00", 0, "image/tiff", MediaKind.IMAGE),
    (b"MM\x00*", 0, "image/tiff", MediaKind.IMAGE),
    (b"\x1a\x45\xdf\xa3", 0, "video/x-matroska", MediaKind.VIDEO),
    (b"PK\x03\x04", 0, "application/zip", MediaKind.ARCHIVE),
    (b"PK\x05\x06", 0, "application/zip", MediaKind.ARCHIVE),
    (b"\x1f\x8b", 0, "application/gzip", MediaKind.ARCHIVE),
    (b"BZh", 0, "application/x-bzip2", MediaKind.ARCHIVE),
    (b"\xfd7zXZ\x00", 0, "application/x-xz", MediaKind.ARCHIVE),
    (b"\x28\xb5\x2f\xfd", 0, "application/zstd", MediaKind.ARCHIVE),
    (b"7z\xbc\xaf\x27\x1c", 0, "application/x-7z-compressed", MediaKind.ARCHIVE),
    (b"Rar!\x1a\x07", 0, "application/vnd.rar", MediaKind.ARCHIVE),
    (b"ustar", 257, "application/x-tar", MediaKind.ARCHIVE),
    (b"%PDF-", 0, "application/pdf", MediaKind.DOCUMENT),
    (b"PAR1", 0, "application/vnd.apache.parquet", MediaKind.DOCUMENT),
)


def _riff(head: bytes) -> MediaType | None:
    if head[:4] != b"RIFF" or len(head) < 12:
        return None
    form = head[8:12]
    if form == b"WEBP":
        return MediaType("image/webp", MediaKind.IMAGE)
    if form == b"AVI ":
        return MediaType("video/x-msvideo", MediaKind.VIDEO)
    if form == b"WAVE":
        return MediaType("audio/wav", MediaKind.UNKNOWN)
    return None


def _iso_bmff(head: bytes) -> MediaType | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    # Compatible brands follow the minor version; HEIC files often declare
    # ``mif1`` as major brand and ``heic`` only as a compatible one.
    end = min(max(box_size, 16), len(head))
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    for brands in ({major}, compatible):
        if brands & _AVIF_BRANDS:
            return MediaType("image/avif", MediaKind.IMAGE)
        if brands & _HEIF_BRANDS:
            return MediaType("image/heif", MediaKind.IMAGE)
    if major in _QUICKTIME_BRANDS:
        return MediaType("video/quicktime", MediaKind.VIDEO)
    return MediaType("video/mp4", MediaKind.VIDEO)


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut off by the sniff window is still text.
        return exc.start >= len(head) - 3
    return True


def sniff(head: bytes) -> MediaType:
    """Detect the media type from the first bytes (``SNIFF_BYTES`` suffice)."""
    if not head:
        return MediaType("application/x-empty", MediaKind.EMPTY)
    for magic, offset, mime, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            if mime == "video/x-matroska" and b"\x42\x82\x84webm" in head[:64]:
                return MediaType("video/webm", kind)  # EBML DocType "webm"
            return MediaType(mime, kind)
    found = _riff(head) or _iso_bmff(head)
    if found is not None:
        return found
    if _looks_like_text(head):
        return MediaType("text/plain", MediaKind.TEXT)
    return MediaType("application/octet-stream", MediaKind.UNKNOWN)
