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

Parquet ids from ``--id-column`` must name one row each: a repeated id is
turned into an error row (``duplicate-id``) as the parts are joined, where
every file's rows are seen in order.  The removal list holds one sample id
per line, escaped (see :func:`escape_id`) so that no id can split a line.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from itertools import count, takewhile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.errors import ItemErrorCode

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
        # PDQ quality under the threshold: not matched by PDQ (unless asked).
        ("low_quality", pa.bool_()),
        # Videos: frames hashed, declared duration (s), the vPDQ hash as a
        # bank would hold it, and why hashing stopped early if a limit did.
        ("video_frames", pa.int32()),
        ("video_duration", pa.float64()),
        ("vpdq", pa.string()),
        ("video_note", pa.string()),
        ("matched", pa.bool_()),
        ("matches", pa.list_(MATCH)),
        # Blocklist matches an allowlist entry suppressed.
        ("suppressed", pa.list_(MATCH)),
        # Assessment level, its summary, and the evidence as a JSON array.
        ("provenance", pa.string()),
        ("provenance_summary", pa.string()),
        ("provenance_evidence", pa.string()),
        # known / ai-generated / ai-edited / unknown / error / skipped.
        ("verdict", pa.string()),
        ("error_code", pa.string()),
        ("error", pa.string()),
        # What a loader drops when the item matches (``shard#key`` for every
        # member of a webdataset sample, else the item id), the shard or
        # Parquet file a dataset item is in, and a Parquet row's position.
        ("sample_id", pa.string()),
        ("container", pa.string()),
        ("position", pa.int64()),
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
    return committed_rows(out)


def committed_rows(out: Path) -> int:
    """Rows an unfinished scan in ``out`` has committed: what a resume keeps."""
    return sum(_row_count(part) for part in (out / PARTS).glob("u*.parquet"))


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
    ids = _IdCheck()
    with pq.ParquetWriter(temporary, SCHEMA) as writer:
        for part in parts:
            writer.write_table(ids.check(pq.read_table(part, schema=SCHEMA)))
    os.replace(temporary, results)
    if jsonl:
        with (out / "results.jsonl").open("w") as lines:
            for row in iter_rows(results):
                lines.write(json.dumps(row, separators=(",", ":")) + "\n")
    for leftover in (out / PARTS).iterdir():
        leftover.unlink()
    (out / PARTS).rmdir()
    return results


class _IdCheck:
    """Turns Parquet rows whose id an earlier row of the same file has into errors.

    A file's rows arrive together and in order, so only the current file's
    ids are held.
    """

    def __init__(self) -> None:
        self.container: str | None = None
        self.first: dict[str, int] = {}

    def check(self, table: pa.Table) -> pa.Table:
        if table.column("position").null_count == len(table):
            return table  # no Parquet rows (files, archives, shards): nothing to check
        repeated: dict[int, str] = {}
        containers = table.column("container").to_pylist()
        positions = table.column("position").to_pylist()
        samples = table.column("sample_id").to_pylist()
        for number, (container, position, sample) in enumerate(
            zip(containers, positions, samples, strict=True)
        ):
            if position is None:
                continue
            if container != self.container:
                self.container, self.first = container, {}
            earlier = self.first.setdefault(sample, position)
            if earlier != position:
                repeated[number] = f"id also names row {earlier}"
        if not repeated:
            return table
        rows = table.to_pylist()
        for number, reason in repeated.items():
            rows[number].update(status="error", error_code=ItemErrorCode.DUPLICATE_ID, error=reason)
            if rows[number]["verdict"] != "known":
                rows[number]["verdict"] = "error"
        return pa.Table.from_pylist(rows, schema=SCHEMA)


def escape_id(item_id: str) -> str:
    """An id as one removal-list line: backslash, line feed and carriage return
    become ``\\\\``, ``\\n`` and ``\\r``, so every line is exactly one id."""
    return item_id.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape_id(line: str) -> str:
    """The id a removal-list line holds (the trailing newline already stripped)."""
    return _ESCAPED.sub(lambda found: _UNESCAPE[found.group(0)], line)


_UNESCAPE = {"\\\\": "\\", "\\n": "\n", "\\r": "\r"}
_ESCAPED = re.compile(r"\\[\\nr]")


def summarize(results: Path, removal_list: Path, *, include_low_quality: bool) -> dict[str, Any]:
    """Counts for summary.json; the matched samples' ids stream into ``removal_list``.

    Items and matches are counted apart: one item may match several
    entries, by several signals.  ``unchecked`` counts the items that were
    not fully checked - an error, a skip, a PDQ hash too flat to match, a
    match an allowlist suppressed - each once.
    """
    statuses: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = {"error": Counter(), "skipped": Counter()}
    by_bank: Counter[str] = Counter()
    by_label: Counter[str] = Counter()
    by_signal: Counter[str] = Counter()
    by_provenance: Counter[str] = Counter()
    matched = low_quality = suppressed = suppressed_items = unchecked = removed = 0
    container: str | None = None
    written: set[str] = set()  # the current container's removed samples
    columns = [
        "status", "matched", "matches", "suppressed", "low_quality",
        "error_code", "provenance", "sample_id", "container",
    ]  # fmt: skip
    temporary = removal_list.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as removal:
        for row in iter_rows(results, columns):
            statuses[row["status"]] += 1
            if row["provenance"]:
                by_provenance[row["provenance"]] += 1
            if row["status"] in reasons:
                reasons[row["status"]][row["error_code"] or "unknown"] += 1
            flat = bool(row["low_quality"]) and not include_low_quality
            low_quality += flat
            suppressed += len(row["suppressed"])
            suppressed_items += bool(row["suppressed"])
            unchecked += row["status"] != "hashed" or flat or bool(row["suppressed"])
            if row["container"] != container:
                container, written = row["container"], set()
            if row["matched"]:
                matched += 1
                if row["sample_id"] not in written:
                    removal.write(escape_id(row["sample_id"]) + "\n")
                    removed += 1
                    if container is not None:
                        written.add(row["sample_id"])
                for found in row["matches"]:
                    by_bank[found["bank"]] += 1
                    by_signal[found["signal_type"]] += 1
                    by_label.update(found["labels"])
    os.replace(temporary, removal_list)
    return {
        "seen": sum(statuses.values()),
        "hashed": statuses["hashed"],
        "errored": statuses["error"],
        "skipped": statuses["skipped"],
        "matched": matched,
        "unchecked": unchecked,
        "low_quality": low_quality,
        "suppressed_items": suppressed_items,
        "removed_samples": removed,
        "matches": sum(by_bank.values()),
        "suppressed_matches": suppressed,
        "errors_by_reason": dict(reasons["error"].most_common()),
        "skipped_by_reason": dict(reasons["skipped"].most_common()),
        "matches_by_bank": dict(by_bank.most_common()),
        "matches_by_signal": dict(by_signal.most_common()),
        "matches_by_label": dict(by_label.most_common()),
        "provenance": dict(by_provenance.most_common()),
    }
