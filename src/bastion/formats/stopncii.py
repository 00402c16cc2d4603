"""StopNCII hash records, as its FetchHashes API returns them.

``{"count": ..., "hashRecords": [{"signalType": "ImagePDQ", "hashValue": ...,
"hashStatus": "Active", ...}], "nextSetTimestamp": ...}`` - or a bare JSON
array of records.  ``Withdrawn`` and ``Deleted`` records are tombstones: the
person who submitted the hash asked for it to stop being used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from bastion.formats.jsonstream import iter_objects
from bastion.formats.records import (
    DocumentVersion,
    ExportEntry,
    ExportReport,
    ReadItem,
    Reject,
    make_record,
)

SIGNAL_TYPES = {"ImagePDQ": "pdq", "VideoMD5": "video_md5"}
WITHDRAWN_STATUSES = {"Withdrawn", "Deleted"}
_RECORD_PREFIXES = ("hashRecords.item", "item")


class StopNciiFormat:
    name = "stopncii"
    description = "StopNCII hash records (ImagePDQ, VideoMD5; Withdrawn/Deleted are tombstones)"

    def read(self, stream: BinaryIO) -> Iterator[ReadItem]:
        def select(prefix: str, event: str, _value: Any) -> bool:
            if prefix == "nextSetTimestamp":
                return event in ("number", "string")
            return event == "start_map" and prefix in _RECORD_PREFIXES

        position = -1
        for prefix, item in iter_objects(stream, select):
            if prefix == "nextSetTimestamp":
                yield DocumentVersion(f"nextSetTimestamp={item}")
                continue
            position += 1
            location = f"hashRecords[{position}]"
            signal_type = SIGNAL_TYPES.get(str(item.get("signalType")))
            if signal_type is None:
                reason = f"signalType {item.get('signalType')!r} is not supported by Bastion"
                yield Reject(location, reason)
                continue
            status = str(item.get("hashStatus") or "Active")
            yield make_record(
                location,
                signal_type,
                str(item.get("hashValue") or ""),
                withdrawn=status in WITHDRAWN_STATUSES,
            )

    def write(self, entries: Iterable[ExportEntry], out: BinaryIO) -> ExportReport:
        report = ExportReport()
        names = {signal: name for name, signal in SIGNAL_TYPES.items()}
        now = int(time.time())
        out.write(b'{"hashRecords": [')
        separator = b"\n"
        for entry in entries:
            name = names.get(entry.signal.type)
            if name is None:
                report.skip(f"{entry.signal.type} (StopNCII carries PDQ and video MD5 only)")
                continue
            record = {
                "signalType": name,
                "hashValue": entry.signal.value,
                "hashStatus": "Withdrawn" if entry.withdrawn else "Active",
                "lastModtimestamp": now,
            }
            out.write(separator + json.dumps(record).encode())
            separator = b",\n"
            report.written += 1
        out.write(f'\n], "count": {report.written}, "nextSetTimestamp": {now}}}\n'.encode())
        return report
