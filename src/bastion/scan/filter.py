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

A shard img2dataset wrote (``00000.tar``) has its metadata beside it:
``00000.parquet``, one row per attempted download keyed by ``key`` (the
shard's member keys; failed downloads have a row and no member), and
``00000_stats.json``.  Both are copied too, or a loader that reads them
would list samples the shard no longer holds: the removed samples' rows are
dropped and the stats' ``count``, ``successes`` and ``status_dict.success``
are lowered by the removed samples, so the stats keep describing the copy
beside them (every other field, timings included, is kept).  Metadata that
cannot be filtered is not copied at all, and that is a problem.
"""

from __future__ import annotations

import json
import os
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bastion.errors import BastionError
from bastion.scan.results import RESULTS, escape_id, iter_rows
from bastion.scan.webdataset import split_key

REPORT = "filter-report.json"
REMOVED = "removed.txt"
_COLUMNS = ["status", "matched", "low_quality", "sample_id", "container", "position"]


#: img2dataset's metadata: the column of sample keys, and the status of a download it stored.
METADATA_KEY = "key"
_SUCCESS = "success"


class FilterError(BastionError, ValueError):
    """The scan folder or the output folder cannot be used: nothing was written."""

    code = "filter-error"
    status = 400


@dataclass
class MetadataCounts:
    """img2dataset's metadata beside the cleaned shards: what was read, kept and dropped."""

    files: int = 0
    rows_read: int = 0
    rows_kept: int = 0
    rows_dropped: int = 0
    #: ``_stats.json`` files copied with their counts lowered by the removed samples.
    stats_files: int = 0


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
    metadata: MetadataCounts = field(default_factory=MetadataCounts)
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
            "metadata": asdict(self.metadata),
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
    removed = _account(str(shard), read, decisions, written, report, removed_list)
    if shard.suffix == ".tar":
        _copy_metadata(
            shard.with_suffix(".parquet"), target.with_suffix(".parquet"), read, removed, report
        )
        stats = f"{shard.stem}_stats.json"
        _copy_stats(shard.with_name(stats), target.with_name(stats), len(removed), report)


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
) -> set[Any]:
    """Count one file's samples, list the removed ones, and check that it adds up.

    Returns the removed samples.
    """
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
    return read - kept


def _copy_metadata(
    source: Path, target: Path, read: set[str], removed: set[Any], report: FilterReport
) -> None:
    """img2dataset's metadata Parquet of a shard without the removed samples' rows.

    Every other row stays, failed downloads (a row, no member) among them.
    It must add up: one row per removed sample, and no row saying a download
    succeeded whose sample the shard does not hold.
    """
    if not source.is_file():
        return
    temporary = target.with_name(target.name + ".tmp")
    to_drop = pa.array(sorted(removed), pa.string())
    in_shard = pa.array(sorted(read), pa.string())
    rows = dropped = absent = 0
    found: set[str] = set()
    try:
        parquet = pq.ParquetFile(source)
        columns = parquet.schema_arrow.names
        if METADATA_KEY not in columns:
            report.problems.append(
                f"{source}: img2dataset metadata has no {METADATA_KEY!r} column; not copied"
            )
            return
        with pq.ParquetWriter(temporary, parquet.schema_arrow) as writer:
            for batch in parquet.iter_batches(batch_size=1024):
                keys = pc.cast(batch.column(METADATA_KEY), pa.string())
                drop = pc.fill_null(pc.is_in(keys, value_set=to_drop), False)
                found.update(keys.filter(drop).to_pylist())
                dropped += pc.sum(drop).as_py() or 0
                if "status" in columns:
                    success = pc.equal(batch.column("status"), _SUCCESS)
                    held = pc.is_in(keys, value_set=in_shard)
                    absent += pc.sum(pc.fill_null(pc.and_not(success, held), False)).as_py() or 0
                rows += batch.num_rows
                writer.write_table(pa.Table.from_batches([batch]).filter(pc.invert(drop)))
    except (pa.ArrowException, OSError) as exc:
        temporary.unlink(missing_ok=True)
        report.problems.append(f"{source}: img2dataset metadata unreadable; not copied ({exc})")
        return
    os.replace(temporary, target)
    written = pq.ParquetFile(target).metadata.num_rows
    counts = report.metadata
    counts.files += 1
    counts.rows_read += rows
    counts.rows_kept += written
    counts.rows_dropped += dropped
    if missing := len(removed) - len(found):
        report.problems.append(f"{source}: {missing} removed samples have no metadata row")
    if dropped != len(found):
        report.problems.append(
            f"{source}: {dropped} metadata rows dropped for {len(found)} removed samples"
        )
    if absent:
        report.problems.append(
            f"{source}: {absent} metadata rows say success but the shard has no such sample"
        )
    if written != rows - dropped:
        report.problems.append(
            f"{source}: the copy holds {written} rows, {rows - dropped} were to be kept"
        )


def _copy_stats(source: Path, target: Path, removed: int, report: FilterReport) -> None:
    """img2dataset's ``_stats.json`` of a shard, its counts lowered by the removed samples.

    A removed sample had a member in the shard, which img2dataset writes only
    for a successful download: so ``count``, ``successes`` and
    ``status_dict["success"]`` each lose one, and ``count = successes +
    failed_to_download + failed_to_resize`` still holds.
    """
    if not source.is_file():
        return
    try:
        stats = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        report.problems.append(f"{source}: img2dataset stats unreadable; not copied ({exc})")
        return
    counts = stats if isinstance(stats, dict) else {}
    if not all(isinstance(counts.get(name), int) for name in ("count", "successes")):
        report.problems.append(f"{source}: img2dataset stats without count/successes; not copied")
        return
    if counts["successes"] < removed:
        report.problems.append(
            f"{source}: {counts['successes']} successes, {removed} samples removed; not copied"
        )
        return
    counts["count"] -= removed
    counts["successes"] -= removed
    status = counts.get("status_dict")
    if isinstance(status, dict) and isinstance(status.get(_SUCCESS), int):
        status[_SUCCESS] -= removed
    target.write_text(json.dumps(counts, indent=4) + "\n", encoding="utf-8")
    report.metadata.stats_files += 1
