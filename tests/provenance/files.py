"""Benign test images carrying metadata, built in memory."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, PngImagePlugin

EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
SOFTWARE = 0x0131
MAKE, MODEL = 0x010F, 0x0110


def picture(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    """A gradient: plain, benign pixels."""
    image = Image.linear_gradient("L").resize(size)
    return image.convert(mode)


def png(texts: dict[str, str] | None = None, *, itxt: bool = False, mode: str = "RGB") -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in (texts or {}).items():
        if itxt:
            info.add_itxt(key, value)
        else:
            info.add_text(key, value)
    out = io.BytesIO()
    picture(mode).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_with_chunks(*chunks: bytes) -> bytes:
    """A PNG with raw chunks inserted right after IHDR (for malformed ones)."""
    data = png()
    ihdr_end = 8 + 12 + 13
    return data[:ihdr_end] + b"".join(chunks) + data[ihdr_end:]


def jpeg(*, exif: Image.Exif | None = None, xmp: bytes | None = None) -> bytes:
    out = io.BytesIO()
    extra: dict[str, object] = {}
    if exif is not None:
        extra["exif"] = exif.tobytes()
    if xmp is not None:
        extra["xmp"] = xmp
    picture().save(out, "JPEG", **extra)
    return out.getvalue()


def exif_with(
    *,
    user_comment: bytes | None = None,
    software: str | None = None,
    make: str | None = None,
    model: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    for tag, value in ((SOFTWARE, software), (MAKE, make), (MODEL, model)):
        if value is not None:
            exif[tag] = value
    if user_comment is not None:
        exif.get_ifd(EXIF_IFD)[USER_COMMENT] = user_comment
    return exif


def xmp_packet(inner: str, attributes: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'xmlns:xmp="http://ns.adobe.com/xap/1.0/" {attributes}>'
        f"{inner}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()
