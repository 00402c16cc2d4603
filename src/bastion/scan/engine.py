"""Running a scan: items in order through ``scan_item``, rows out in batches.

The local engine keeps a bounded window of item chunks in flight on N
worker processes (each maps the same index snapshot, so memory does not
grow with N) and writes rows back in item order.  ``run_scan`` owns what
every engine shares: the output folder, resume, the final files and the
summary.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from bastion import __version__
from bastion.banks.index import Index
from bastion.config import Settings
from bastion.pipeline import scan_item
from bastion.scan.items import ScanItem
from bastion.scan.results import PartWriter, finish, summarize
from bastion.scan.sources import SourceOptions, iter_items

#: Rows per committed part: what a killed scan can lose and redo.
BATCH_ROWS = 1000
#: Items per task sent to a worker.
CHUNK = 16


class ScanError(RuntimeError):
    """The scan cannot start or resume as asked."""


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """Everything that decides which rows a scan produces (checked on resume)."""

    sources: list[str]
    options: SourceOptions
    banks: dict[str, Any] = field(default_factory=dict)
    include_low_quality: bool = False

    def to_json(self) -> dict[str, Any]:
        plan = asdict(self)
        plan["options"] = {k: str(v) if v is not None else None for k, v in plan["options"].items()}
        return plan


# --- worker side ---------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(
    index: Index | None, settings: Settings, include_low_quality: bool, pooled: bool = False
) -> None:
    if pooled:
        # One BLAS thread per worker: N processes each spinning N BLAS threads
        # made a 2-worker scan 4x slower than a single process (measured).
        threadpool_limits(1)
    _worker.update(index=index, settings=settings, low=include_low_quality)


def _scan_chunk(items: list[ScanItem]) -> list[dict[str, Any]]:
    return [
        scan_item(
            item, _worker["index"], _worker["settings"], include_low_quality=_worker["low"]
        ).to_row()
        for item in items
    ]


def _chunks(items: Iterator[ScanItem]) -> Iterator[list[ScanItem]]:
    while chunk := list(islice(items, CHUNK)):
        yield chunk


def scan_rows_local(
    items: Iterator[ScanItem],
    index: Index | None,
    settings: Settings,
    *,
    workers: int,
    include_low_quality: bool = False,
) -> Iterator[dict[str, Any]]:
    """Rows of ``items`` in order, computed on ``workers`` processes (1: in this one)."""
    if workers <= 1:
        _init_worker(index, settings, include_low_quality)
        for chunk in _chunks(items):
            yield from _scan_chunk(chunk)
        return
    window = workers * 4  # chunks in flight: bounded memory, workers never idle
    pending: deque[Future[list[dict[str, Any]]]] = deque()
    with ProcessPoolExecutor(
        workers,
        initializer=_init_worker,
        initargs=(index, settings, include_low_quality, True),
    ) as pool:
        chunks = _chunks(items)
        for chunk in islice(chunks, window):
            pending.append(pool.submit(_scan_chunk, chunk))
        while pending:
            rows = pending.popleft().result()
            next_chunk = next(chunks, None)
            if next_chunk is not None:
                pending.append(pool.submit(_scan_chunk, next_chunk))
            yield from rows


# --- driver side ---------------------------------------------------------------

RowSource = Callable[[int], Iterator[dict[str, Any]]]


def local_rows(plan: ScanPlan, index: Index | None, settings: Settings, workers: int) -> RowSource:
    """The local engine: rows from item ``skip`` on."""

    def rows(skip: int) -> Iterator[dict[str, Any]]:
        items = islice(iter_items(plan.sources, plan.options, settings), skip, None)
        yield from scan_rows_local(
            items,
            index,
            settings,
            workers=workers,
            include_low_quality=plan.include_low_quality,
        )

    return rows


def run_scan(
    plan: ScanPlan,
    out: Path,
    rows: RowSource,
    *,
    resume: bool = False,
    jsonl: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write every row of the scan to ``out`` and return the summary."""
    plan_file = out / "scan.json"
    if (out / "summary.json").exists():
        if resume:
            return dict(json.loads((out / "summary.json").read_text()))
        raise ScanError(f"{out} already holds a finished scan; use another --out")
    if plan_file.exists():
        if not resume:
            raise ScanError(f"{out} holds an interrupted scan; add --resume to continue it")
        if json.loads(plan_file.read_text()) != plan.to_json():
            raise ScanError(f"--resume with different sources, options or banks than {out}")
    out.mkdir(parents=True, exist_ok=True)
    plan_file.write_text(json.dumps(plan.to_json(), indent=2))
    writer = PartWriter(out)
    done = writer.rows_written()
    if progress:
        progress(done)
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    new_rows = 0
    for row in rows(done):
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            writer.write(batch)
            new_rows += len(batch)
            batch = []
        if progress:
            progress(1)
    writer.write(batch)
    new_rows += len(batch)
    seconds = time.perf_counter() - started
    return _finish(out, plan, jsonl=jsonl, seconds=seconds, new_rows=new_rows)


def _finish(
    out: Path, plan: ScanPlan, *, jsonl: bool, seconds: float, new_rows: int
) -> dict[str, Any]:
    results = finish(out, jsonl=jsonl)
    counts = summarize(results, out / "removal-list.txt")
    summary = {
        **counts,
        "duration_s": round(seconds, 3),
        "items_per_s": round(new_rows / seconds, 1) if seconds else None,
        "bastion_version": __version__,
        "banks": plan.banks,
        "sources": plan.sources,
        "results": str(results),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "scan.json").unlink()
    return summary
