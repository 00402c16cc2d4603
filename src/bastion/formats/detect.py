"""Which list format a document is in, told from its first bytes.

``bastion bank import`` without ``--format`` looks at the start of the
document: the root element of XML (NCMEC's ``<queryResult>``), the keys of
JSON (VICS's ``value`` and OData context, StopNCII's ``hashRecords`` or
records with a ``signalType``), ``<type> <value>`` lines (ThreatExchange
text) or a CSV row starting with a signal type or the ``signal_type``
header.  A document that fits none of them is refused with the reason,
rather than imported as whatever rejects the fewest rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import ijson

from bastion.formats.records import FormatError
from bastion.signals.types import ALIASES, SIGNAL_TYPES

#: How much of a document is read to tell its format.
HEAD_BYTES = 64 * 1024

_HINT = "give --format"
_NCMEC_ROOT = "queryResult"
_VICS_KEYS = frozenset({"@odata.context", "odata.metadata", "value"})
_STOPNCII_KEYS = frozenset({"hashRecords", "nextSetTimestamp", "nextPageToken", "hasMoreRecords"})
_STOPNCII_RECORD_KEYS = frozenset({"signalType", "hashValue", "hashStatus"})


def detect_format(head: bytes) -> str:
    """The name of the format a document starting with ``head`` is in.

    Raises :class:`FormatError` naming what was seen when no format fits.
    """
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text:
        raise FormatError("the document is empty: nothing to import")
    if text.startswith("<"):
        return _xml_format(text)
    if text[0] in "{[":
        return _json_format(text.encode())
    return _text_format(text)


def _xml_format(text: str) -> str:
    rest = text
    while rest.startswith(("<?", "<!")):
        end = "?>" if rest.startswith("<?") else "-->" if rest.startswith("<!--") else ">"
        cut = rest.find(end)
        if cut < 0:
            raise FormatError(
                f"an XML document whose root element is not in its first bytes; {_HINT}"
            )
        rest = rest[cut + len(end) :].lstrip()
    name = rest[1:].split(None, 1)[0].split(">", 1)[0].split("/", 1)[0] if rest else ""
    if name.rsplit(":", 1)[-1] == _NCMEC_ROOT:
        return "ncmec"
    raise FormatError(
        f"an XML document with root element <{name[:40]}>, not a list format Bastion knows "
        f"(an NCMEC page has <{_NCMEC_ROOT}>); {_HINT}"
    )


def _json_keys(document: bytes) -> Iterator[tuple[str, str]]:
    """(container, key) for keys of the top-level object ("") or of the first
    item of a top-level array ("item"), as far as ``document`` goes."""
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(document)):
            if event == "map_key" and prefix in ("", "item"):
                yield prefix, str(value)
            elif event == "end_map" and prefix == "item":
                return
    except ijson.JSONError:
        return  # the head ends mid-document; what was seen is all there is


def _json_format(document: bytes) -> str:
    seen: list[str] = []
    for container, key in _json_keys(document):
        if container == "":
            if key in _STOPNCII_KEYS:
                return "stopncii"
            if key in _VICS_KEYS:
                return "vics"
        elif key in _STOPNCII_RECORD_KEYS:
            return "stopncii"
        seen.append(key)
    keys = ", ".join(repr(key) for key in seen[:8]) or "none"
    raise FormatError(
        f"JSON that is neither VICS (a 'value' list) nor StopNCII ('hashRecords' or records "
        f"with a 'signalType'): keys seen {keys}; {_HINT}"
    )


def _is_signal_type(word: str) -> bool:
    name = word.strip().strip('"').lower()
    return name in SIGNAL_TYPES or name in ALIASES


def _text_format(text: str) -> str:
    lines = (line.strip() for line in text.splitlines())
    first = next((line for line in lines if line and not line.startswith("#")), "")
    cells = first.split(",")
    words = first.split()
    if cells[0].strip().strip('"').lower() == "signal_type":
        return "csv"
    if len(words) >= 2 and "," not in words[0] and _is_signal_type(words[0]):
        return "te"
    if len(cells) >= 2 and _is_signal_type(cells[0]):
        return "csv"
    raise FormatError(
        f"cannot tell the list format from its first row {first[:60]!r}: expected NCMEC XML, "
        "VICS or StopNCII JSON, '<signal type> <value>' lines (te) or CSV rows starting with "
        f"a signal type or a 'signal_type' header; {_HINT}"
    )
