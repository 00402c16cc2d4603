"""XMP packets: IPTC digital source type and the IPTC 2025 AI properties.

Tools write ``Iptc4xmpExt:DigitalSourceType`` as an element, as an
attribute of ``rdf:Description`` or as an ``rdf:resource``; all three are
read.  ``AISystemUsed`` / ``AISystemVersionUsed`` name the generator;
``AIPromptInformation`` and ``AIPromptWriterName`` are kept only when the
user asks for prompts.  Packets are parsed with defusedxml (no entities, no
DTDs) after the size cap in :mod:`carriers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bastion.provenance.carriers import Carriers
from bastion.provenance.evidence import Evidence, Origin, Strength
from bastion.provenance.source_types import origin_of, strongest, term

READER = "xmp"
IPTC_EXT = "{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
XMP_BASIC = "{http://ns.adobe.com/xap/1.0/}"
TIFF = "{http://ns.adobe.com/tiff/1.0/}"

#: Properties reported as found, by what this module calls them.
_NAMED = {
    f"{IPTC_EXT}DigitalSourceType": "digital_source_type",
    f"{IPTC_EXT}AISystemUsed": "ai_system",
    f"{IPTC_EXT}AISystemVersionUsed": "ai_system_version",
    f"{IPTC_EXT}AIPromptInformation": "ai_prompt",
    f"{IPTC_EXT}AIPromptWriterName": "ai_prompt_writer",
    f"{XMP_BASIC}CreatorTool": "creator_tool",
    f"{TIFF}Software": "software",
    f"{TIFF}Make": "make",
    f"{TIFF}Model": "model",
}
#: Properties that can hold a prompt or a person's name: only on request.
PRIVATE = frozenset({"ai_prompt", "ai_prompt_writer"})


@dataclass(slots=True)
class XmpFields:
    """Every value of the properties in ``_NAMED``, across all packets."""

    values: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def first(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None


def parse_xmp(carriers: Carriers) -> XmpFields:
    fields = XmpFields(problems=list(carriers.problems.get("xmp", [])))
    for packet in carriers.xmp:
        try:
            root = fromstring(packet.strip(b"\x00 \t\r\n"))
        except (ParseError, DefusedXmlException, ValueError) as exc:
            fields.problems.append(f"XMP packet does not parse: {exc}")
            continue
        for element in root.iter():
            _collect(element, fields.values)
    return fields


def _collect(element: Element, values: dict[str, list[str]]) -> None:
    for attribute, value in element.attrib.items():
        if attribute in _NAMED:
            values.setdefault(_NAMED[attribute], []).append(value.strip())
    name = _NAMED.get(element.tag)
    if name is None:
        return
    resource = element.get(f"{RDF}resource")
    texts = [resource] if resource else [t.strip() for t in element.itertext() if t.strip()]
    values.setdefault(name, []).extend(texts)


def read_xmp(fields: XmpFields, *, include_prompts: bool) -> list[Evidence]:
    found = [Evidence(READER, Strength.UNREADABLE, f"unreadable: {p}") for p in fields.problems]
    if not fields.values:
        return found
    detail: dict[str, Any] = {
        name: values if name != "digital_source_type" else [term(v) for v in values]
        for name, values in fields.values.items()
        if include_prompts or name not in PRIVATE
    }
    if not include_prompts:
        withheld = sorted(PRIVATE & fields.values.keys())
        if withheld:
            detail["withheld"] = withheld
    source_types = fields.values.get("digital_source_type", [])
    origin = strongest(source_types)
    system = fields.first("ai_system")
    if origin is None and system:
        origin = Origin.AI_GENERATED
    if origin is None:
        if source_types:
            summary = f"XMP declares digital source type {term(source_types[0])}"
            found.append(Evidence(READER, Strength.NOTE, summary, detail=detail))
        return found
    declared = [term(v) for v in source_types if origin_of(v) is origin]
    parts = [f"digital source type {declared[0]}"] if declared else []
    if system:
        version = fields.first("ai_system_version")
        parts.append(f"AI system {system}" + (f" {version}" if version else ""))
    summary = f"unsigned XMP declares {' and '.join(parts)}"
    found.append(Evidence(READER, Strength.DECLARED, summary, origin, detail))
    return found
