"""NovelAI: ``Software``/``Source``/``Comment`` text, and its alpha-channel copy.

NovelAI also hides the same fields in the least significant bits of the
alpha channel ("stealth" metadata), read column by column: the magic
``stealth_pngcomp`` (gzip) or ``stealth_pnginfo`` (plain), a 32-bit length
in bits, then the payload — JSON of the text fields for NovelAI, the
``parameters`` text for the AUTOMATIC1111 extension that copied the idea.
It survives tools that strip text chunks, which is why it is read.
"""

from __future__ import annotations

import gzip
import json
import zlib

import numpy as np
from PIL import Image

from bastion.provenance.carriers import TextChunk
from bastion.provenance.generators.record import Generation, Unreadable, json_object, pick, text_of

_MAGICS = {b"stealth_pngcomp": True, b"stealth_pnginfo": False}
_MAGIC_BYTES = 15
_SETTINGS = ("steps", "scale", "seed", "sampler", "width", "height", "noise_schedule", "strength")


def is_novelai(texts: dict[str, TextChunk]) -> bool:
    software = texts.get("Software")
    return software is not None and (software.text or "").strip().startswith("NovelAI")


def parse_novelai(texts: dict[str, TextChunk], where: str) -> Generation:
    source = texts.get("Source")
    source_text = (source.text or "").strip() if source else ""
    generation = Generation("NovelAI", where)
    if source_text:
        name, _, hash_value = source_text.rpartition(" ")
        generation.add_model("checkpoint", name or source_text, hash_value if name else None)
    comment = texts.get("Comment")
    if comment is not None and comment.text:
        settings = json_object(comment.text, f"{where} 'Comment'")
        generation.settings = pick(settings, *_SETTINGS)
        generation.prompt = text_of(settings.get("prompt"))
        generation.negative_prompt = text_of(settings.get("uc"))
    description = texts.get("Description")
    if generation.prompt is None and description is not None:
        generation.prompt = description.text
    return generation


def read_stealth(image: Image.Image, limit: int) -> list[TextChunk] | None:
    """Text fields hidden in the alpha channel, or None when there are none."""
    if "A" not in image.getbands():
        return None
    alpha = np.asarray(image.getchannel("A"))
    # Column by column: transpose so the flat order walks down each column.
    bits = (alpha.T & 1).ravel()
    header_bits = (_MAGIC_BYTES + 4) * 8
    if bits.size < header_bits:
        return None
    header = np.packbits(bits[:header_bits]).tobytes()
    compressed = _MAGICS.get(header[:_MAGIC_BYTES])
    if compressed is None:
        return None
    length_bits = int.from_bytes(header[_MAGIC_BYTES:], "big")
    if length_bits // 8 > limit or header_bits + length_bits > bits.size:
        raise Unreadable(f"alpha-channel metadata claims {length_bits // 8:,} bytes; too long")
    payload = np.packbits(bits[header_bits : header_bits + length_bits]).tobytes()
    if compressed:
        payload = _gunzip(payload, limit)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("alpha-channel metadata is not valid UTF-8") from None
    try:
        fields = json.loads(text)
    except json.JSONDecodeError:
        return [TextChunk("parameters", text)]
    if not isinstance(fields, dict):
        raise Unreadable("alpha-channel metadata is JSON but not an object")
    return [
        TextChunk(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in fields.items()
    ]


def _gunzip(payload: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(payload, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise Unreadable(f"alpha-channel metadata does not decompress ({exc})") from None
    if len(data) > limit:
        raise Unreadable("alpha-channel metadata decompresses beyond the metadata limit")
    return data
