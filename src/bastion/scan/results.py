"""Scan output: Parquet parts written as the scan goes, then the final files.

Each unit of work (a shard, a Parquet row group, a few hundred files) is
written by whichever worker scans it, as ``DIR/parts/u<unit>-<part>.parquet``
of up to ``BATCH_ROWS`` rows, each renamed into place only when complete,
and then marked done with ``u<unit>.done``.  The committed parts *are* the
checkpoint: a resumed scan skips finished units, and inside an unfinished
one exactly the items its parts hold.  Part names sort in item order, so at
the end they concatenate into ``results.parquet`` (and ``results.jsonl``
when asked); ``summary.json`` and ``removal-list.txt`` are derived from it,
and the parts are removed.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from itertools import count, takewhile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MATCH = pa.struct(
    [
        ("bank", pa.string()),
        ("entry_id", pa.int64()),
        ("signal_type", pa.string()),
        ("distance", pa.int16()),
        ("labels", pa.list_(pa.string())),
    ]
)
SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("source", pa.string()),
        ("status", pa.string()),
        ("size", pa.int64()),
        ("media_type", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("md5", pa.string()),
        ("sha1", pa.string()),
        ("sha256", pa.string()),
        ("pdq", pa.string()),
        ("pdq_quality", pa.int16()),
        # Videos: frames hashed, declared duration (s), the vPDQ hash as a
        # bank would hold it, and why hashing stopped early if a limit did.
        ("video_frames", pa.int32()),
        ("video_duration", pa.float64()),
        ("vpdq", pa.string()),
        ("video_note", pa.string()),
        ("matched", pa.bool_()),
        ("matches", pa.list_(MATCH)),
        # Assessment level, its summary, and the evidence as a JSON array.
        ("provenance", pa.string()),
        ("provenance_summary", pa.string()),
        ("provenance_evidence", pa.string()),
        # known / ai-generated / ai-edited / unknown / error / skipped.
        ("verdict", pa.string()),
        ("error_code", pa.string()),
        ("error", pa.string()),
    ]
)
RESULTS = "results.parquet"
PARTS = "parts"


class UnitParts:
    """The committed parts of one unit, and the writer of its next ones.

    Parts are numbered from 0 without gaps (each is committed before the
    next is started), so they are found by probing their names: listing the
    parts folder, which holds every unit's parts, would cost each unit time
    proportional to the whole scan.
    """

    def __init__(self, out: Path, unit: int) -> None:
        self.folder = out / PARTS
        self.prefix = f"u{unit:09d}"
        self.marker = self.folder / f"{self.prefix}.done"
        self.committed = list(takewhile(Path.exists, map(self._part, count())))

    def _part(self, number: int) -> Path:
        return self.folder / f"{self.prefix}-{number:06d}.parquet"

    def finished(self) -> bool:
        return self.marker.exists()

    def rows_committed(self) -> int:
        return sum(_row_count(part) for part in self.committed)

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        final = self._part(len(self.committed))
        temporary = final.with_suffix(".tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), temporary)
        os.replace(temporary, final)
        self.committed.append(final)

    def mark_finished(self) -> None:
        self.marker.touch()


def prepare_parts(out: Path) -> int:
    """Create the parts folder, drop what a killed run left half-written; rows kept."""
    folder = out / PARTS
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob("*.tmp"):
        leftover.unlink()
    return sum(_row_count(part) for part in folder.glob("u*.parquet"))


def _row_count(part: Path) -> int:
    return int(pq.ParquetFile(part).metadata.num_rows)


def iter_rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096, columns=columns):
        yield from batch.to_pylist()


def finish(out: Path, *, jsonl: bool) -> Path:
    """Merge the parts into results.parquet (and results.jsonl), then remove them."""
    parts = sorted((out / PARTS).glob("u*.parquet"))
    results = out / RESULTS
    temporary = results.with_suffix(".tmp")
    with pq.ParquetWriter(temporary, SCHEMA) as writer:
        for part in parts:
            writer.write_table(pq.read_table(part, schema=SCHEMA))
    os.replace(temporary, results)
    if jsonl:
        with (out / "results.jsonl").open("w") as lines:
            for row in iter_rows(results):
                lines.write(json.dumps(row, separators=(",", ":")) + "\n")
    for leftover in (out / PARTS).iterdir():
        leftover.unlink()
    (out / PARTS).rmdir()
    return results


def summarize(results: Path, removal_list: Path) -> dict[str, Any]:
    """Counts for summary.json; the ids of matched items stream into ``removal_list``."""
    statuses: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {"error": Counter(), "skipped": Counter()}
    by_bank: Counter[str] = Counter()
    by_label: Counter[str] = Counter()
    by_provenance: Counter[str] = Counter()
    matched = 0
    columns = ["item_id", "status", "matched", "matches", "error_code", "provenance"]
    temporary = removal_list.with_suffix(".tmp")
    with temporary.open("w") as removal:
        for row in iter_rows(results, columns):
            statuses[row["status"]] += 1
            if row["provenance"]:
                by_provenance[row["provenance"]] += 1
            if row["status"] in reasons:
                reasons[row["status"]][row["error_code"] or "unknown"] += 1
            if row["matched"]:
                matched += 1
                removal.write(row["item_id"] + "\n")
                for found in row["matches"]:
                    by_bank[found["bank"]] += 1
                    by_label.update(found["labels"])
    os.replace(temporary, removal_list)
    return {
        "seen": sum(statuses.values()),
        "hashed": statuses["hashed"],
        "errored": statuses["error"],
        "skipped": statuses["skipped"],
        "matched": matched,
        "errors_by_reason": dict(reasons["error"].most_common()),
        "skipped_by_reason": dict(reasons["skipped"].most_common()),
        "matches_by_bank": dict(by_bank.most_common()),
        "matches_by_label": dict(by_label.most_common()),
        "provenance": dict(by_provenance.most_common()),
    }
