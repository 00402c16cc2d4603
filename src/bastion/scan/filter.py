"""Cleaning a scanned dataset: its shards and Parquet files without the removed samples.

``bastion filter SCAN_DIR --out CLEAN_DIR`` reads the scan's results in
order and writes a copy of every webdataset shard and Parquet file the scan
read, keeping a sample only when the scan positively checked it: every row
of it hashed and none matched.  So a matched sample goes, and so does one
that errored, was skipped or that the scan never reached (a damaged shard's
tail); ``keep_unchecked`` keeps those, and says so.  Parquet rows are kept or
dropped by position, so missing or repeated ids cannot mislead it.

Files are handled one at a time, streaming (a shard's keys or a file's row
positions are the most held in memory), and each copy is checked against
the scan: the samples read are the samples scanned, and the written copy,
read back, holds exactly the kept ones (kept + removed = read).
"""

from __future__ import annotations

import json
import os
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.scan.results import RESULTS, escape_id, iter_rows
from bastion.scan.webdataset import split_key

REPORT = "filter-report.json"
REMOVED = "removed.txt"
_COLUMNS = ["status", "matched", "low_quality", "sample_id", "container", "position"]


class FilterError(ValueError):
    """The scan folder or the output folder cannot be used: nothing was written."""


@dataclass
class FilterReport:
    """What ``filter_scan`` read, kept and removed, and what did not add up."""

    scan: str
    out: str
    files: int = 0
    samples_read: int = 0
    kept: int = 0
    removed: Counter[str] = field(default_factory=Counter)
    #: Kept although not fully checked (``keep_unchecked``).
    kept_unchecked: int = 0
    #: Kept, checked by digest but with a PDQ hash too flat to match.
    kept_low_quality: int = 0
    #: Result rows of plain files and archive members: nothing to filter.
    not_dataset_rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Everything read was checked and every count adds up."""
        return not (self.problems or self.kept_unchecked or self.not_dataset_rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "scan": self.scan,
            "out": self.out,
            "files": self.files,
            "samples_read": self.samples_read,
            "kept": self.kept,
            "removed": sum(self.removed.values()),
            "removed_by_reason": dict(self.removed.most_common()),
            "kept_unchecked": self.kept_unchecked,
            "kept_low_quality": self.kept_low_quality,
            "not_dataset_rows": self.not_dataset_rows,
            "problems": self.problems,
            "complete": self.complete,
        }


@dataclass
class _Decisions:
    """For one file: each sample's verdict (why it goes; None: it stays)."""

    verdicts: dict[Any, str | None] = field(default_factory=dict)
    #: Samples with a row that was not checked, and with a too flat PDQ hash.
    unchecked: set[Any] = field(default_factory=set)
    low_quality: set[Any] = field(default_factory=set)

    def add(self, sample: Any, row: dict[str, Any], keep_unchecked: bool) -> None:
        reason: str | None = None
        if row["matched"]:
            reason = "matched"
        elif row["status"] != "hashed":
            self.unchecked.add(sample)
            reason = None if keep_unchecked else f"unchecked-{row['status']}"
        if row["low_quality"]:
            self.low_quality.add(sample)
        previous = self.verdicts.get(sample)
        self.verdicts[sample] = previous if previous == "matched" else (reason or previous)


def filter_scan(scan_dir: Path, out: Path, *, keep_unchecked: bool = False) -> FilterReport:
    """Write the cleaned copy of the scan's dataset files into ``out``; report what happened."""
    results = scan_dir / RESULTS
    if not (scan_dir / "summary.json").exists() or not results.exists():
        raise FilterError(f"{scan_dir} holds no finished scan (summary.json, {RESULTS})")
    if out.exists() and any(out.iterdir()):
        raise FilterError(f"{out} is not empty; give a new folder for the cleaned dataset")
    containers = _containers(results)
    if not containers:
        raise FilterError(f"the scan in {scan_dir} read no webdataset shards or Parquet files")
    root = Path(os.path.commonpath([str(Path(c).parent) for c in containers]))
    out.mkdir(parents=True, exist_ok=True)
    report = FilterReport(str(scan_dir), str(out))
    done: set[str] = set()
    with (out / REMOVED).open("w", encoding="utf-8") as removed_list:
        groups = groupby(iter_rows(results, _COLUMNS), key=lambda row: row["container"])
        for container, rows in groups:
            if container is None:
                report.not_dataset_rows += sum(1 for _ in rows)
                continue
            if container in done:
                report.problems.append(f"{container} appears twice in the scan; copied once")
                continue
            done.add(container)
            target = out / Path(container).relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            copy = _copy_table if containers[container] else _copy_shard
            copy(Path(container), target, list(rows), keep_unchecked, report, removed_list)
            report.files += 1
    (out / REPORT).write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def _containers(results: Path) -> dict[str, bool]:
    """Every shard and Parquet file in the results: True for Parquet (rows by position)."""
    found: dict[str, bool] = {}
    for row in iter_rows(results, ["container", "position"]):
        if row["container"] is not None:
            found.setdefault(row["container"], row["position"] is not None)
    return found


def _copy_shard(
    shard: Path,
    target: Path,
    rows: list[dict[str, Any]],
    keep_unchecked: bool,
    report: FilterReport,
    removed_list: TextIO,
) -> None:
    decisions = _Decisions()
    prefix = len(str(shard)) + 1
    for row in rows:
        decisions.add(row["sample_id"][prefix:], row, keep_unchecked)
    read: set[str] = set()
    temporary = target.with_name(target.name + ".tmp")
    try:
        with tarfile.open(shard, mode="r|*") as source, tarfile.open(temporary, "w") as copy:
            for info in source:
                key = split_key(info.name)[0]
                read.add(key)
                if key in decisions.verdicts and decisions.verdicts[key] is None:
                    copy.addfile(info, source.extractfile(info) if info.isfile() else None)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        report.problems.append(f"{shard}: damaged, copied up to the damage ({exc})")
    os.replace(temporary, target)
    written = len({split_key(info.name)[0] for info in _members(target)})
    _account(str(shard), read, decisions, written, report, removed_list)


def _members(shard: Path) -> Iterator[tarfile.TarInfo]:
    with tarfile.open(shard, mode="r|*") as archive:
        yield from archive


def _copy_table(
    file: Path,
    target: Path,
    rows: list[dict[str, Any]],
    keep_unchecked: bool,
    report: FilterReport,
    removed_list: TextIO,
) -> None:
    decisions = _Decisions()
    ids: dict[int, str] = {}
    for row in rows:
        if row["position"] is not None:
            decisions.add(row["position"], row, keep_unchecked)
            ids[row["position"]] = row["sample_id"]
    temporary = target.with_name(target.name + ".tmp")
    position = 0
    try:
        parquet = pq.ParquetFile(file)
        with pq.ParquetWriter(temporary, parquet.schema_arrow) as writer:
            for batch in parquet.iter_batches(batch_size=1024):
                keep = [
                    position + n in decisions.verdicts and decisions.verdicts[position + n] is None
                    for n in range(batch.num_rows)
                ]
                position += batch.num_rows
                writer.write_table(pa.Table.from_batches([batch]).filter(pa.array(keep)))
    except (pa.ArrowException, OSError) as exc:
        report.problems.append(f"{file}: damaged, copied up to row {position} ({exc})")
    os.replace(temporary, target)
    written = pq.ParquetFile(target).metadata.num_rows
    _account(str(file), set(range(position)), decisions, written, report, removed_list, ids)


def _account(
    name: str,
    read: set[Any],
    decisions: _Decisions,
    written: int,
    report: FilterReport,
    removed_list: TextIO,
    ids: dict[int, str] | None = None,
) -> None:
    """Count one file's samples, list the removed ones, and check that it adds up."""
    kept = {s for s in read if s in decisions.verdicts and decisions.verdicts[s] is None}
    unscanned = read - decisions.verdicts.keys()
    for sample in sorted(read - kept, key=str):
        reason = decisions.verdicts.get(sample) or "not-in-scan"
        report.removed[reason] += 1
        label = ids[sample] if ids is not None else f"{name}#{sample}"
        removed_list.write(f"{reason}\t{escape_id(label)}\n")
    report.samples_read += len(read)
    report.kept += len(kept)
    report.kept_low_quality += len(kept & decisions.low_quality)
    report.kept_unchecked += len(kept & decisions.unchecked)
    if unscanned:
        report.problems.append(
            f"{name}: {len(unscanned)} samples the scan has no rows for (changed since?)"
        )
    if missing := decisions.verdicts.keys() - read:
        report.problems.append(f"{name}: {len(missing)} scanned samples not found in the file")
    if written != len(kept):
        report.problems.append(
            f"{name}: the copy holds {written} samples, {len(kept)} were to be kept"
        )
