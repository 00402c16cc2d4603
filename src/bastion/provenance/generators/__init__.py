"""Metadata that image-generation front-ends write into their output.

Which front-end wrote a file is told by the text fields it carries (PNG
text chunks, NovelAI's alpha-channel copy of them, the EXIF UserComment);
each has a parser in this package that fills a :class:`Generation`.  A
file that only names a known generator in ``Software`` / ``CreatorTool``
is reported too, with less detail.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from PIL import Image

from bastion.provenance.carriers import Carriers, TextChunk
from bastion.provenance.evidence import Evidence, Origin, Strength
from bastion.provenance.exif import ExifFields
from bastion.provenance.generators.a1111 import (
    NotParameters,
    looks_like_parameters,
    parse_parameters,
)
from bastion.provenance.generators.comfyui import parse_comfyui
from bastion.provenance.generators.invokeai import parse_dream, parse_invokeai, parse_sd_metadata
from bastion.provenance.generators.novelai import is_novelai, parse_novelai, read_stealth
from bastion.provenance.generators.others import (
    is_swarmui,
    midjourney_job,
    parse_fooocus,
    parse_midjourney,
    parse_swarmui,
)
from bastion.provenance.generators.record import (
    READER,
    Generation,
    ModelRef,
    Unreadable,
    json_object,
    to_evidence,
)
from bastion.provenance.xmp import XmpFields

__all__ = ["Generation", "ModelRef", "read_generators", "read_stealth_generators"]

#: Text fields a parser reads; a broken one of these is reported as unreadable.
KEYWORDS = frozenset(
    {
        "parameters",
        "prompt",
        "workflow",
        "invokeai_metadata",
        "sd-metadata",
        "Dream",
        "Software",
        "Source",
        "Comment",
        "Description",
        "fooocus_scheme",
    }
)
#: Generators recognised by name alone in Software / CreatorTool fields.
_KNOWN_NAMES = re.compile(
    r"\b(Stable Diffusion|NovelAI|Midjourney|DALL[·-]?E|Adobe Firefly|Imagen|ComfyUI|"
    r"InvokeAI|Fooocus|SwarmUI|Leonardo\.Ai|Ideogram|FLUX)\b",
    re.IGNORECASE,
)


def read_generators(
    carriers: Carriers, exif: ExifFields, xmp: XmpFields, *, include_prompts: bool
) -> list[Evidence]:
    found: list[Evidence] = []
    for parse in _parsers(_by_keyword(carriers.texts), "PNG text"):
        found.append(_run(parse, include_prompts))
    comment = exif.get("user_comment")
    if comment:
        parsed = _from_user_comment(comment)
        if parsed is not None:
            found.append(_run(parsed, include_prompts))
    if not any(e.strength is Strength.DECLARED for e in found):
        found.extend(_named_generator(carriers, exif, xmp))
    return found


def read_stealth_generators(
    image: Image.Image, limit: int, *, include_prompts: bool
) -> list[Evidence]:
    """Evidence from NovelAI-style metadata in the alpha channel (decodes pixels)."""
    try:
        texts = read_stealth(image, limit)
    except Unreadable as exc:
        return [Evidence(READER, Strength.UNREADABLE, f"unreadable: {exc}")]
    if texts is None:
        return []
    parsers = _parsers(_by_keyword(texts), "alpha-channel metadata")
    return [_run(parse, include_prompts) for parse in parsers]


def _by_keyword(texts: list[TextChunk]) -> dict[str, TextChunk]:
    found: dict[str, TextChunk] = {}
    for chunk in texts:
        found.setdefault(chunk.keyword, chunk)
    return found


Parse = Callable[[], Generation]
#: Front-ends whose whole record is one text field, by its keyword.
_SINGLE_FIELD: dict[str, Callable[[str], Generation]] = {
    "invokeai_metadata": parse_invokeai,
    "sd-metadata": parse_sd_metadata,
    "Dream": parse_dream,
}


def _parsers(texts: dict[str, TextChunk], where: str) -> list[Parse]:
    """What to parse, by which parser, from one set of text fields."""
    broken = [c for k, c in texts.items() if k in KEYWORDS and c.text is None]
    parsers: list[Parse] = [_fails(c.problem or "unreadable text") for c in broken]

    def text(keyword: str) -> str | None:
        chunk = texts.get(keyword)
        return chunk.text if chunk is not None else None

    parameters = text("parameters")
    if is_novelai(texts):
        parsers.append(lambda: parse_novelai(texts, where))
    if parameters is not None:
        parsers.append(lambda: _parse_parameters(parameters, text("fooocus_scheme"), where))
    if text("prompt") is not None or text("workflow") is not None:
        parsers.append(lambda: parse_comfyui(text("prompt"), text("workflow")))
    for keyword, parser in _SINGLE_FIELD.items():
        value = text(keyword)
        if value is not None:
            parsers.append(functools.partial(parser, value))
    description = text("Description")
    if description and not is_novelai(texts) and midjourney_job(description):
        parsers.append(lambda: parse_midjourney(description))
    return parsers


def _fails(reason: str) -> Parse:
    def parse() -> Generation:
        raise Unreadable(reason)

    return parse


def _parse_parameters(text: str, scheme: str | None, where: str) -> Generation:
    source = f"{where} 'parameters'"
    if scheme == "fooocus":
        return parse_fooocus(text)
    if text.lstrip().startswith("{"):
        meta = json_object(text, source)
        if is_swarmui(meta):
            return parse_swarmui(meta, source)
        raise Unreadable(f"{source} is JSON of no known generator")
    return parse_parameters(text, source)


def _from_user_comment(comment: str) -> Parse | None:
    where = "EXIF UserComment"
    if comment.lstrip().startswith("{") and "sui_image_params" in comment:
        return lambda: parse_swarmui(json_object(comment, where), where)
    if looks_like_parameters(comment):
        return lambda: parse_parameters(comment, where)
    return None


def _run(parse: Parse, include_prompts: bool) -> Evidence:
    try:
        generation = parse()
    except Unreadable as exc:
        return Evidence(READER, Strength.UNREADABLE, f"unreadable: {exc}")
    except NotParameters as exc:
        return Evidence(READER, Strength.NOTE, str(exc))
    return to_evidence(generation, include_prompts=include_prompts)


def _named_generator(carriers: Carriers, exif: ExifFields, xmp: XmpFields) -> list[Evidence]:
    software = _by_keyword(carriers.texts).get("Software")
    candidates = {
        "EXIF Software": exif.get("software"),
        "XMP CreatorTool": xmp.first("creator_tool"),
        "PNG text 'Software'": software.text if software is not None else None,
    }
    for where, value in candidates.items():
        named = _KNOWN_NAMES.search(value or "")
        if value and named:
            summary = f"{where} names the generator {value.strip()!r}"
            detail = {"generator": named.group(1), "source": where, "value": value.strip()}
            return [Evidence(READER, Strength.DECLARED, summary, Origin.AI_GENERATED, detail)]
    return []
