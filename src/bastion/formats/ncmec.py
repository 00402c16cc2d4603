"""NCMEC hash-sharing XML: the entry pages of the v2 API.

``<queryResult>`` holds ``<images>`` and ``<videos>``; each ``<image>`` or
``<video>`` has an ``<id>``, a ``<classification>`` (A1, A2, B1, B2) and
``<fingerprints>`` (md5, sha1, pdq, pdna ...).  ``<deletedImage>`` and
``<deletedVideo>`` name an id whose entry was withdrawn.  Pages are parsed
as a stream with defusedxml (no DTDs, no entity expansion), so a page of any
size needs constant memory and a hostile document cannot blow up.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import IO, Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from bastion.formats.records import (
    DocumentVersion,
    ExportEntry,
    ExportReport,
    FormatError,
    ReadItem,
    Record,
    Reject,
    item_key,
    make_record,
)

NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
#: NCMEC fingerprint element -> Bastion signal type (videos: md5 -> video_md5).
FINGERPRINTS = {"md5": "md5", "sha1": "sha1", "pdq": "pdq", "pdna": "photodna"}
_ENTRY_TAGS = {"image", "video", "deletedImage", "deletedVideo"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: Element, name: str) -> Element | None:
    return next((child for child in element if _local(child.tag) == name), None)


def _child_text(element: Element, name: str) -> str | None:
    child = _child(element, name)
    return None if child is None else (child.text or "").strip() or None


def entry_key(member: str | None, entry_id: str) -> str:
    """The list's id for an entry: NCMEC's ids are unique only per member,
    so the member's id is part of it (``"42/abc"``)."""
    return f"{member}/{entry_id}" if member else entry_id


@dataclass(frozen=True, slots=True)
class NcmecEntry:
    """One ``<image>``, ``<video>``, ``<deletedImage>`` or ``<deletedVideo>``.

    ``items`` are its records (a tombstone when deleted) and the rows that
    could not be used; ``links`` the fingerprint types sent only as links
    (``<tmk-pdqf href=...>``), which are not fetched.
    """

    location: str
    key: str | None
    timestamp: str | None
    deleted: bool
    items: tuple[Record | Reject, ...]
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NextPage:
    """A page's ``<paging><next>``: the next page's path, relative to the base URL."""

    path: str


def _entry(element: Element, location: str) -> NcmecEntry:
    tag = _local(element.tag)
    entry_id = _child_text(element, "id")
    member_element = _child(element, "member")
    member = None if member_element is None else member_element.get("id")
    timestamp = _child_text(element, "timestamp")
    if entry_id is None:
        reject = Reject(location, f"<{tag}> without an <id>")
        return NcmecEntry(location, None, timestamp, tag.startswith("deleted"), (reject,))
    key = entry_key(member, entry_id)
    if tag.startswith("deleted"):
        tombstone = Record(location, None, external_id=key, withdrawn=True)
        return NcmecEntry(location, key, timestamp, True, (tombstone,))
    classification = _child_text(element, "classification")
    labels = [f"ncmec:{classification}"] if classification else []
    fingerprints = _child(element, "fingerprints")
    items: list[Record | Reject] = []
    links: list[str] = []
    for fingerprint in () if fingerprints is None else fingerprints:
        name = _local(fingerprint.tag)
        if fingerprint.get("href") is not None:
            links.append(name)
            continue
        here = f"{location} {name}"
        signal_type = FINGERPRINTS.get(name.lower())
        if signal_type is None:
            items.append(Reject(here, f"fingerprint type {name!r} is not supported by Bastion"))
            continue
        if tag == "video" and signal_type == "md5":
            signal_type = "video_md5"
        value = (fingerprint.text or "").strip()
        record = make_record(here, signal_type, value, labels, external_id=key)
        items.append(record)
        if isinstance(record, Reject) and "category" in record.reason:
            break
    if not items and not links:
        items.append(Reject(location, f"<{tag}> has no fingerprints"))
    return NcmecEntry(location, key, timestamp, False, tuple(items), tuple(links))


def _events(stream: BinaryIO) -> Iterator[tuple[str, Element]]:
    """``start`` and ``end`` events of the document; a broken one is a FormatError."""
    try:
        yield from iterparse(stream, events=("start", "end"), forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise FormatError(f"not a well-formed NCMEC XML document: {exc}") from None
    except (LookupError, ValueError) as exc:
        # expat knows single-byte encodings and UTF-8/16 only; a declaration
        # naming another (or none that exists) is refused before any element.
        raise FormatError(f"NCMEC XML in an encoding that cannot be read: {exc}") from None


def read_page(stream: BinaryIO) -> Iterator[NcmecEntry | DocumentVersion | NextPage]:
    """The entries of one page of ``/v2/entries`` (or a saved one), in document order.

    Then its newest ``maxTimestamp`` (a ``DocumentVersion``) and its ``next``
    link, if any.  An element inside ``<images>``/``<videos>`` that is not
    an entry is a rejected row, named, never silently passed over.
    """
    counts: dict[str, int] = {}
    newest = ""
    next_path: str | None = None
    root_seen = False
    #: Open elements, outermost first: an entry is dropped from its parent
    #: once read, which keeps memory flat on huge pages.
    open_elements: list[Element] = []
    for event, element in _events(stream):
        tag = _local(element.tag)
        if event == "start":
            if not root_seen:
                root_seen = True
                if tag != "queryResult":
                    raise FormatError(f"not an NCMEC entries page: the root is <{tag}>")
            open_elements.append(element)
            if tag in ("images", "videos"):
                newest = max(newest, element.get("maxTimestamp") or "")
            continue
        open_elements.pop()
        parent = _local(open_elements[-1].tag) if open_elements else None
        if tag == "next" and parent == "paging":
            next_path = (element.text or "").strip() or None
            continue
        # Entries are read wherever they are nested; an element of a list
        # that is left holding something unread is named, not passed over.
        unknown = parent in ("images", "videos") and tag not in _ENTRY_TAGS and len(element)
        if tag not in _ENTRY_TAGS and not unknown:
            continue
        counts[tag] = counts.get(tag, 0) + 1
        entry_id = _child_text(element, "id") or "?"
        location = f"{tag}[{counts[tag] - 1}] id={entry_id}"
        if unknown:
            reject = Reject(location, f"unknown element <{tag}> in <{parent}>")
            yield NcmecEntry(location, None, None, False, (reject,))
        else:
            yield _entry(element, location)
        if open_elements:
            open_elements[-1].remove(element)
    if newest:
        yield DocumentVersion(f"maxTimestamp={newest}")
    if next_path:
        yield NextPage(next_path)


class NcmecFormat:
    name = "ncmec"
    description = "NCMEC hash-sharing XML entry pages (images/videos, deleted entries)"

    def read(self, stream: BinaryIO) -> Iterator[ReadItem]:
        for item in read_page(stream):
            if isinstance(item, NcmecEntry):
                yield from item.items
                for name in item.links:
                    yield Reject(item.location, f"fingerprint {name!r} sent only as a link")
            elif isinstance(item, DocumentVersion):
                yield item

    def write(self, entries: Iterable[ExportEntry], out: BinaryIO) -> ExportReport:
        """Images first, then videos (spooled aside so the export still streams)."""
        report = ExportReport()
        out.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
        out.write(f'<queryResult xmlns="{NAMESPACE}">\n  <images>\n'.encode())
        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as videos:
            for position, (key, group) in enumerate(groupby(entries, key=item_key)):
                items = list(group)
                is_video = any(e.signal.type == "video_md5" for e in items)
                _write_entry(videos if is_video else out, key, position, items, is_video, report)
            out.write(b"  </images>\n  <videos>\n")
            videos.seek(0)
            shutil.copyfileobj(videos, out)
        out.write(b"  </videos>\n</queryResult>\n")
        return report


_ELEMENT_FOR = {signal: element for element, signal in FINGERPRINTS.items()}
_ELEMENT_FOR["video_md5"] = "md5"


def _write_entry(
    out: IO[bytes],
    key: str,
    position: int,
    items: list[ExportEntry],
    is_video: bool,
    report: ExportReport,
) -> None:
    tag = "video" if is_video else "image"
    entry_id = escape(key if ":" not in key else f"bastion-{position}")
    if all(item.withdrawn for item in items):
        if items[0].external_id is None:
            report.skip("withdrawn without an entry id")
            return
        out.write(
            f"    <deleted{tag.title()}><id>{entry_id}</id></deleted{tag.title()}>\n".encode()
        )
        report.written += len(items)
        return
    lines: list[str] = []
    classification = ""
    for item, element in report.carried(items, _ELEMENT_FOR, "NCMEC fingerprint"):
        lines.append(f"        <{element}>{escape(item.signal.value)}</{element}>")
        codes = [label.split(":", 1)[1] for label in item.labels if label.startswith("ncmec:")]
        classification = classification or (codes[0] if codes else "")
    if not lines:
        return
    parts: list[Any] = [f"    <{tag}>", f"      <id>{entry_id}</id>"]
    if classification:
        parts.append(f"      <classification>{classification}</classification>")
    parts += ["      <fingerprints>", *lines, "      </fingerprints>", f"    </{tag}>"]
    out.write(("\n".join(parts) + "\n").encode())
