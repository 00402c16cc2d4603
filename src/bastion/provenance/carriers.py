"""Find the metadata a file carries without decoding its pixels.

Most files carry no provenance, so this walks only container headers — PNG
chunks, JPEG segments up to the image data, WebP chunks — and collects what
the readers need: PNG text chunks, the EXIF block and XMP packets.  Other
formats (TIFF, HEIF, AVIF, GIF) are searched for an XMP packet and their
EXIF block is taken from Pillow.  Each value is capped at
``max_metadata_bytes``; anything too large or malformed is recorded as a
problem for the reader that would have used it, never raised.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_JPEG_EXTENDED = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_JPEG = b"Exif\x00\x00"
_XMP_START = b"<x:xmpmeta"
_XMP_END = b"</x:xmpmeta>"


@dataclass(frozen=True, slots=True)
class TextChunk:
    """A PNG text chunk (or a text field that serves the same purpose)."""

    keyword: str
    #: Decoded text, or None when the chunk could not be decoded (see ``problem``).
    text: str | None
    problem: str | None = None


@dataclass(slots=True)
class Carriers:
    texts: list[TextChunk] = field(default_factory=list)
    exif: bytes | None = None
    xmp: list[bytes] = field(default_factory=list)
    #: True when the image has an alpha channel (where NovelAI hides metadata).
    has_alpha: bool = False
    #: What could not be read, by reader: ``{"xmp": ["packet of 10 MB ..."]}``.
    problems: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, reader: str, text: str) -> None:
        self.problems.setdefault(reader, []).append(text)

    @property
    def has_metadata(self) -> bool:
        return bool(self.texts or self.exif or self.xmp or self.problems)


def find_carriers(data: bytes, limit: int) -> Carriers:
    """The metadata in ``data``, each value at most ``limit`` bytes."""
    found = Carriers()
    try:
        if data.startswith(PNG_SIGNATURE):
            _png(data, limit, found)
        elif data.startswith(b"\xff\xd8"):
            _jpeg(data, limit, found)
        elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            _webp(data, limit, found)
        else:
            _other(data, limit, found)
    except (struct.error, IndexError, ValueError) as exc:
        found.problem("container", f"malformed container: {exc}")
    return found


def _too_large(what: str, size: int, limit: int) -> str:
    return f"{what} of {size:,} bytes exceeds the {limit:,}-byte metadata limit"


def _add_xmp(packet: bytes, limit: int, found: Carriers) -> None:
    if len(packet) > limit:
        found.problem("xmp", _too_large("XMP packet", len(packet), limit))
    else:
        found.xmp.append(packet)


def _add_exif(block: bytes, limit: int, found: Carriers) -> None:
    if len(block) > limit:
        found.problem("exif", _too_large("EXIF block", len(block), limit))
    elif found.exif is None:
        found.exif = block


def _png(data: bytes, limit: int, found: Carriers) -> None:
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR" and len(body) >= 10:
            found.has_alpha = body[9] in (4, 6)
        elif kind == b"tRNS":
            found.has_alpha = True
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            chunk = _png_text(kind, body, limit)
            if chunk.keyword == "XML:com.adobe.xmp":
                if chunk.text is None:
                    found.problem("xmp", chunk.problem or "XMP chunk does not decode")
                else:
                    _add_xmp(chunk.text.encode(), limit, found)
            else:
                found.texts.append(chunk)
        elif kind == b"eXIf":
            _add_exif(body, limit, found)
        elif kind == b"IEND":
            break


def _png_text(kind: bytes, body: bytes, limit: int) -> TextChunk:
    raw_keyword, _, rest = body.partition(b"\x00")
    keyword = raw_keyword.decode("latin-1")
    where = f"{kind.decode()} chunk {keyword!r}"
    try:
        if kind == b"tEXt":
            return TextChunk(keyword, _text(rest, limit, where, strict=False))
        if kind == b"zTXt":
            return TextChunk(keyword, _text(_inflate(rest[1:], limit, where), limit, where, False))
        compressed = rest[:1] == b"\x01"
        _language, _, rest = rest[2:].partition(b"\x00")
        _translated, _, text = rest.partition(b"\x00")
        if compressed:
            text = _inflate(text, limit, where)
        return TextChunk(keyword, _text(text, limit, where, strict=True))
    except ValueError as exc:
        return TextChunk(keyword, None, str(exc))


def _text(raw: bytes, limit: int, where: str, strict: bool) -> str:
    """Chunk text: UTF-8 (iTXt must be; tEXt may be, or else is Latin-1)."""
    if len(raw) > limit:
        raise ValueError(_too_large(where, len(raw), limit))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if strict:
            raise ValueError(f"{where} is not valid UTF-8 (byte {exc.start})") from None
        return raw.decode("latin-1")


def _inflate(raw: bytes, limit: int, where: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"{where} does not decompress: {exc}") from None
    if len(text) > limit:
        raise ValueError(f"{where} decompresses beyond the {limit:,}-byte metadata limit")
    return text


def _jpeg(data: bytes, limit: int, found: Carriers) -> None:
    offset = 2
    extended: dict[bytes, bytearray] = {}
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        if marker in (0xDA, 0xD9):  # image data follows: no more metadata segments
            break
        (length,) = struct.unpack_from(">H", data, offset + 2)
        body = data[offset + 4 : offset + 2 + length]
        offset += 2 + length
        if marker == 0xE1 and body.startswith(EXIF_JPEG):
            _add_exif(body[len(EXIF_JPEG) :], limit, found)
        elif marker == 0xE1 and body.startswith(XMP_JPEG):
            _add_xmp(body[len(XMP_JPEG) :], limit, found)
        elif marker == 0xE1 and body.startswith(XMP_JPEG_EXTENDED):
            # GUID (32), full length (4), offset (4), then this portion.
            part = body[len(XMP_JPEG_EXTENDED) :]
            extended.setdefault(part[:32], bytearray()).extend(part[40:])
        elif marker == 0xFE:
            found.texts.append(TextChunk("Comment", _text(body, limit, "JPEG comment", False)))
    for packet in extended.values():
        _add_xmp(bytes(packet), limit, found)


def _webp(data: bytes, limit: int, found: Carriers) -> None:
    offset = 12
    while offset + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, offset)
        body = data[offset + 8 : offset + 8 + length]
        offset += 8 + length + (length & 1)
        if kind == b"VP8X" and body:
            found.has_alpha = bool(body[0] & 0x10)
        elif kind == b"ALPH":
            found.has_alpha = True
        elif kind == b"EXIF":
            _add_exif(body.removeprefix(EXIF_JPEG), limit, found)
        elif kind == b"XMP ":
            _add_xmp(body, limit, found)


def _other(data: bytes, limit: int, found: Carriers) -> None:
    """TIFF, HEIF, AVIF, GIF...: a byte search for XMP, Pillow for EXIF."""
    start = data.find(_XMP_START)
    if start >= 0:
        end = data.find(_XMP_END, start)
        if end < 0:
            found.problem("xmp", "XMP packet is not terminated")
        else:
            _add_xmp(data[start : end + len(_XMP_END)], limit, found)
    if data[:4] in (b"II*\x00", b"MM\x00*") or data[4:8] == b"ftyp":
        try:
            with Image.open(io.BytesIO(data)) as image:
                exif = image.getexif().tobytes()
        except Exception:  # noqa: BLE001 - the hashing path reports undecodable images
            return
        if len(exif) > 8:
            _add_exif(exif, limit, found)
