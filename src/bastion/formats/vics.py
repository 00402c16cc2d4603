"""Project VIC VICS JSON (data model 1.3 and 2.0).

Two shapes occur: a hash set, ``{"@odata.context": ..., "value": [Media...]}``
(2.0; 1.3 says ``odata.metadata``), and a case file whose ``value`` holds
cases with their ``Media`` nested.  Each Media item carries ``MD5``,
``SHA1`` and ``PhotoDNA`` (directly or in ``MediaFiles``), a ``Category``
on Project VIC's 0-4 scale, ``VictimIdentified``, ``Series`` and ``Tags``.
Fields Bastion does not use are ignored, so newer exports still import.

Bastion writes both shapes: a bank as a hash set (:meth:`VicsFormat.write`)
and an investigator's case as a case file (:func:`write_case_media`), which
also says where each item sits in the evidence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import groupby
from typing import Any, BinaryIO

from bastion.about import __version__
from bastion.fingerprint import Signal
from bastion.formats.jsonstream import iter_objects
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
from bastion.labels import SCHEMES, InvalidLabel, normalize_label
from bastion.signals.types import InvalidSignal, normalize_signal

CONTEXT_2_0 = (
    "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
)
#: VICS field -> Bastion signal type.
HASH_FIELDS = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "PhotoDNA": "photodna"}
VICTIM_IDENTIFIED = "victim-identified"
SERIES_PREFIX = "series:"

_MEDIA_PREFIXES = ("value.item", "value.item.Media.item")
_VERSION_KEYS = ("@odata.context", "odata.metadata")


def _labels(media: dict[str, Any]) -> list[str]:
    labels: list[str] = []
    category = media.get("Category")
    if category is not None and category != "":
        labels.append(f"projectvic:{category}")
    if media.get("VictimIdentified") is True:
        labels.append(VICTIM_IDENTIFIED)
    series = media.get("Series")
    if isinstance(series, str) and series.strip():
        labels.append(SERIES_PREFIX + series.strip())
    tags = media.get("Tags") or []
    if isinstance(tags, str):
        tags = tags.split(",")
    labels.extend(str(tag) for tag in tags if isinstance(tag, str | int))
    return labels


def _misshapen_field(media: dict[str, Any]) -> str | None:
    """Why a Media item's list fields cannot be read, if they cannot."""
    if not isinstance(media.get("MediaFiles") or [], list):
        return "MediaFiles must be a list of objects"
    if not isinstance(media.get("Tags") or [], list | str):
        return "Tags must be a list or a comma-separated string"
    return None


def _media_items(document: BinaryIO) -> Iterator[tuple[str, Any]]:
    """Media objects in either shape (and version strings), with their location."""
    position = {"case": -1, "media": -1}

    def select(prefix: str, event: str, value: Any) -> bool:
        if prefix in _VERSION_KEYS:
            return event == "string"
        if event != "start_map":
            return False
        if prefix == "value.item":
            position["case"] += 1
            position["media"] = -1
            return True
        if prefix == "value.item.Media.item":
            position["media"] += 1
            return True
        return False

    def is_case(prefix: str, event: str, value: Any) -> bool:
        # A "Media" key at the top of a value[] item makes it a case file:
        # stop building the case and build its media one by one instead.
        return prefix == "value.item" and event == "map_key" and value == "Media"

    for prefix, item in iter_objects(document, select, abandon=is_case):
        if prefix in _VERSION_KEYS:
            yield prefix, item
        elif prefix == "value.item":
            yield f"value[{position['case']}]", item
        else:
            yield f"value[{position['case']}].Media[{position['media']}]", item


class VicsFormat:
    name = "vics"
    description = "Project VIC VICS JSON 1.3/2.0 (hash sets and case files)"

    def read(self, stream: BinaryIO) -> Iterator[ReadItem]:
        for location, media in _media_items(stream):
            if location in _VERSION_KEYS:
                yield DocumentVersion(str(media))
                continue
            if not isinstance(media, dict):
                yield Reject(location, "a Media item must be a JSON object")
                continue
            misshapen = _misshapen_field(media)
            if misshapen is not None:
                yield Reject(location, misshapen)
                continue
            media_id = media.get("MediaID")
            external_id = None if media_id is None else str(media_id)
            hashes = [(field, media.get(field)) for field in HASH_FIELDS]
            for extra in media.get("MediaFiles") or []:
                if isinstance(extra, dict):
                    hashes.extend((field, extra.get(field)) for field in HASH_FIELDS)
            found = [(field, value) for field, value in hashes if value]
            if not found:
                yield Reject(location, "Media item has no MD5, SHA1 or PhotoDNA")
                continue
            labels = _labels(media)
            seen: set[Signal | None] = set()
            for field, value in found:
                record = make_record(
                    f"{location}.{field}",
                    HASH_FIELDS[field],
                    str(value),
                    labels,
                    external_id=external_id,
                )
                if isinstance(record, Record):
                    if record.signal in seen:
                        continue  # a case's MediaFiles repeat their Media's MD5
                    seen.add(record.signal)
                yield record
                if isinstance(record, Reject) and "category" in record.reason:
                    break  # one bad Category rejects the item once, not per hash

    def write(self, entries: Iterable[ExportEntry], out: BinaryIO) -> ExportReport:
        """A VICS 2.0 hash set; entries sharing an external id form one Media item."""
        report = ExportReport()
        out.write(b'{"@odata.context": ' + json.dumps(CONTEXT_2_0).encode() + b', "value": [')
        separator = b"\n"
        for position, (key, group) in enumerate(groupby(entries, key=item_key), start=1):
            hashes: dict[str, str] = {}
            labels: tuple[str, ...] = ()
            for entry, field in report.carried(group, _FIELD_FOR, "VICS field"):
                value = entry.signal.value
                hashes[field] = value if field == "PhotoDNA" else value.upper()
                labels = entry.labels
            if hashes:
                media = {"MediaID": _media_id(key, position), **hashes, **_media_labels(labels)}
                out.write(separator + json.dumps(media).encode())
                separator = b",\n"
        out.write(b"\n]}\n")
        return report


_FIELD_FOR = {signal: field for field, signal in HASH_FIELDS.items()}


def _media_id(key: str, position: int) -> int | str:
    if key.isdigit():
        return int(key)
    return key if ":" not in key else position


def _media_labels(labels: tuple[str, ...]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    tags = []
    for label in labels:
        if label.startswith("projectvic:"):
            fields["Category"] = int(label.split(":", 1)[1])
        elif label == VICTIM_IDENTIFIED:
            fields["VictimIdentified"] = True
        elif label.startswith(SERIES_PREFIX):
            fields["Series"] = label[len(SERIES_PREFIX) :]
        else:
            tags.append(label)
    if tags:
        fields["Tags"] = tags
    return fields


# A case file: one case whose Media are an investigator's items.

CASES_CONTEXT_2_0 = CONTEXT_2_0.removesuffix("#Media") + "#Cases"
SOURCE_APPLICATION = "Bastion"
#: Project VIC's categories: 0 Uncategorized, 1 CSAM, 2 Child Exploitive,
#: 3 CGI/Animation, 4 Comparison.
PROJECT_VIC_CATEGORIES = frozenset(int(code) for code in SCHEMES["projectvic"].codes)
#: VICS holds an item's Tags in one string, separated by commas (the reader
#: splits them there), so a tag cannot contain one.
TAG_SEPARATOR = ","


@dataclass(frozen=True, slots=True)
class CaseMedia:
    """One item of a case, as a VICS 2.0 ``Media`` of a case file.

    Checked when made (:class:`FormatError` naming the item): what VICS
    cannot express - a tag with a comma, a category off Project VIC's scale,
    a path that is not text - fails where the item is built instead of coming
    back altered, or rejected, when Griffeye or Bastion reads the export.
    """

    media_id: int
    md5: str | None
    sha1: str | None
    #: Project VIC 0-4; None when nobody has categorised the item (see
    #: :func:`write_case_media` for why that is not written as 0).
    category: int | None
    media_size: int | None
    #: The item's path inside the evidence.
    relative_file_path: str
    file_name: str
    is_distributed: bool | None
    #: Free tags; the category, victim identification and series have fields of their own.
    tags: tuple[str, ...] = ()
    victim_identified: bool | None = None
    series: str | None = None
    #: True when the category came from a list the item matched, not from an analyst.
    is_precategorized: bool | None = None
    comments: str | None = None

    def __post_init__(self) -> None:
        problem = _case_media_problem(self)
        if problem is not None:
            raise FormatError(f"case item {self.media_id} cannot be written as VICS: {problem}")


def _case_media_problem(media: CaseMedia) -> str | None:
    """Why ``media`` cannot be written as VICS and read back unchanged, if so."""
    if media.md5 is None and media.sha1 is None:
        return "it has neither an MD5 nor a SHA1, and VICS identifies media by them"
    try:
        for signal_type, value in (("md5", media.md5), ("sha1", media.sha1)):
            if value is not None:
                normalize_signal(signal_type, value)
    except InvalidSignal as exc:
        return str(exc)
    if media.category is not None and media.category not in PROJECT_VIC_CATEGORIES:
        return f"category {media.category} is not on Project VIC's scale (0-4)"
    if media.media_size is not None and media.media_size < 0:
        return f"media size {media.media_size} is negative"
    for tag in media.tags:
        problem = _tag_problem(tag)
        if problem is not None:
            return problem
    if media.series is not None:
        try:
            normalize_label(SERIES_PREFIX + media.series)
        except InvalidLabel as exc:
            return f"series: {exc}"
    texts = (media.relative_file_path, media.file_name, media.series, media.comments, *media.tags)
    for text in texts:
        if text is not None and not _is_unicode(text):
            return f"{text!r} holds undecodable bytes (lone surrogates), and VICS is UTF-8 text"
    return None


def _tag_problem(tag: str) -> str | None:
    try:
        label = normalize_label(tag)
    except InvalidLabel as exc:
        return str(exc)
    if TAG_SEPARATOR in label:
        return f"tag {label!r} contains a comma, which separates tags in VICS"
    if label == VICTIM_IDENTIFIED or label.startswith(("projectvic:", SERIES_PREFIX)):
        return f"tag {label!r} is a VICS field of its own (category, victim_identified, series)"
    return None


def _is_unicode(text: str) -> bool:
    """False for strings carrying lone surrogates (undecodable bytes of a file name)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _case_media_object(media: CaseMedia) -> dict[str, Any]:
    """The VICS 2.0 Media object of one case item; fields the case does not know are left out."""
    fields: dict[str, Any] = {
        "MediaID": media.media_id,
        "Category": media.category,
        "MD5": media.md5 and media.md5.strip().upper(),
        "SHA1": media.sha1 and media.sha1.strip().upper(),
        "MediaSize": media.media_size,
        "RelativeFilePath": media.relative_file_path,
        "IsDistributed": media.is_distributed,
        "VictimIdentified": media.victim_identified,
        "Series": media.series,
        "IsPrecategorized": media.is_precategorized,
        "Tags": TAG_SEPARATOR.join(media.tags) or None,
        "Comments": media.comments,
    }
    item = {key: value for key, value in fields.items() if value is not None}
    copy = {
        "MD5": item.get("MD5"),
        "FileName": media.file_name,
        "FilePath": media.relative_file_path,
    }
    item["MediaFiles"] = [{key: value for key, value in copy.items() if value is not None}]
    return item


def write_case_media(
    media: Iterable[CaseMedia], out: BinaryIO, *, case_name: str | None = None
) -> int:
    """A case's items as a VICS 2.0 case file; returns how many Media were written.

    The document is one case, ``{"@odata.context": ...#Cases, "value": [{case
    fields..., "Media": [...]}]}``: the shape VICS gives a case (a bare
    ``value`` of Media is a hash set, and has nowhere to name the case or say
    where an item was found).  It is streamed item by item - a case can hold
    a million - so memory does not grow with the case.

    An item without a category is written without ``Category``: 0 is itself
    a Project VIC verdict ("Uncategorized", which hash sets hand out and
    Bastion reads back as ``projectvic:0``), so writing it would turn "nobody
    has looked" into a decision on re-import; exporters leave the field out
    (or null) for items without a verdict.
    """
    if case_name is not None and not _is_unicode(case_name):
        raise FormatError(f"case name {case_name!r} holds undecodable bytes")
    case: dict[str, Any] = {"CaseNumber": case_name} if case_name is not None else {}
    case |= {"SourceApplicationName": SOURCE_APPLICATION, "SourceApplicationVersion": __version__}
    head = {"@odata.context": CASES_CONTEXT_2_0, "value": [case]}
    # The head without its closing "}]}": the case stays open for its Media, which come last.
    opening = json.dumps(head, ensure_ascii=False)[: -len("}]}")]
    out.write(opening.encode() + b', "Media": [')
    written = 0
    separator = b"\n"
    for item in media:
        out.write(separator + json.dumps(_case_media_object(item), ensure_ascii=False).encode())
        separator = b",\n"
        written += 1
    out.write(b"\n]}]}\n")
    return written
