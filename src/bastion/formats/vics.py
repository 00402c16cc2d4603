"""Project VIC VICS JSON (data model 1.3 and 2.0).

Two shapes occur: a hash set, ``{"@odata.context": ..., "value": [Media...]}``
(2.0; 1.3 says ``odata.metadata``), and a case file whose ``value`` holds
cases with their ``Media`` nested.  Each Media item carries ``MD5``,
``SHA1`` and ``PhotoDNA`` (directly or in ``MediaFiles``), a ``Category``
on Project VIC's 0-4 scale, ``VictimIdentified``, ``Series`` and ``Tags``.
Fields Bastion does not use are ignored, so newer exports still import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import Any, BinaryIO

from bastion.formats.jsonstream import iter_objects
from bastion.formats.records import (
    DocumentVersion,
    ExportEntry,
    ExportReport,
    ReadItem,
    Reject,
    item_key,
    make_record,
)

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
            for field, value in found:
                record = make_record(
                    f"{location}.{field}",
                    HASH_FIELDS[field],
                    str(value),
                    labels,
                    external_id=external_id,
                )
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
