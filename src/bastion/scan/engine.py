"""Running a scan: units of work through ``scan_unit``, rows into Parquet parts.

A scan is a sequence of units (see :mod:`bastion.scan.sources`).  Whoever
runs a unit - this process, a local worker process, a Ray actor - reads its
items, calls ``scan_item`` on each and writes the rows as the unit's parts,
so the process that drives the scan never touches item bytes or rows.  That
keeps it from becoming the bottleneck (on two cores, reading shards and
writing rows in the driver cost a quarter of the scan, measured) and lets
any number of workers write at once.  ``run_scan`` owns what every engine
shares: the output folder, resume, the final files and the summary.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import islice
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from bastion.about import __version__
from bastion.banks import Banks
from bastion.banks.changes import latest_change
from bastion.config import Settings
from bastion.errors import BastionError
from bastion.matching.index import Index
from bastion.matching.match import VideoRule
from bastion.media.video import VideoOptions
from bastion.pipeline import scan_item
from bastion.provenance import InspectOptions
from bastion.scan.results import UnitParts, finish, prepare_parts, summarize
from bastion.scan.sources import (
    SourceOptions,
    Unit,
    check_sources,
    iter_units,
    missing_sources,
    unit_items,
)

#: Rows per committed part: what a killed scan can lose and redo, per unit.
BATCH_ROWS = 1000
#: Items between progress reports from a unit.
PROGRESS_EVERY = 32

Progress = Callable[[int], None]


class ScanError(BastionError, RuntimeError):
    """The scan cannot start or resume as asked."""

    code = "scan-error"
    status = 400


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """Everything that decides which rows a scan produces (checked on resume)."""

    sources: list[str]
    options: SourceOptions
    banks: dict[str, Any] = field(default_factory=dict)
    include_low_quality: bool = False
    #: Match rotated and flipped copies too (PDQ of all 8 orientations).
    dihedral: bool = False
    #: Run the provenance readers; watermarks and prompts only on request.
    provenance: bool = True
    watermarks: bool = False
    include_prompts: bool = False
    #: Which frames of each video are hashed.
    video: VideoOptions = field(default_factory=VideoOptions)
    #: When a video matches a banked video.
    video_rule: VideoRule = field(default_factory=VideoRule)

    def inspect_options(self) -> InspectOptions | None:
        if not self.provenance:
            return None
        return InspectOptions(include_prompts=self.include_prompts, watermarks=self.watermarks)

    def to_json(self) -> dict[str, Any]:
        plan = asdict(self)
        plan["options"] = {k: str(v) if v is not None else None for k, v in plan["options"].items()}
        return plan


def bank_versions(banks: Banks, index: Index) -> dict[str, Any]:
    """What each bank held at scan time, for summary.json.

    ``latest_change`` is the position of the bank's newest change (as
    ``GET /v1/banks/NAME/changes`` gives them): the bank's version whichever
    way it was filled, where ``last_import`` has a list's own version only.
    """
    versions: dict[str, Any] = {}
    counts = index.entry_counts()
    for bank_id, bank in index.banks.items():
        last = banks.last_import(bank.name)
        position = latest_change(banks.store, bank.name)
        versions[bank.name] = {
            "kind": str(bank.kind),
            "entries": counts[bank_id],
            "latest_change": None if position is None else str(position),
            "pdq_threshold": bank.pdq_threshold,
            "last_import": None
            if last is None
            else {
                "source": last.source,
                "version": last.version,
                "at": last.finished_at.isoformat(),
            },
        }
    return versions


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What every unit of one scan needs; pickled to workers (the index by path)."""

    plan: ScanPlan
    out: Path
    index: Index | None
    settings: Settings


def scan_unit(number: int, unit: Unit, context: ScanContext, progress: Progress) -> int:
    """Scan unit ``number`` into its parts, continuing after its committed ones.

    Returns the rows written now.  Item order inside a unit never changes,
    so skipping the committed rows' worth of items resumes exactly.
    """
    parts = UnitParts(context.out, number)
    if parts.finished():
        return 0
    plan = context.plan
    provenance = plan.inspect_options()
    items = islice(unit_items(unit, plan.options, context.settings), parts.rows_committed(), None)
    batch: list[dict[str, Any]] = []
    written = unreported = 0
    for item in items:
        result = scan_item(
            item,
            context.index,
            context.settings,
            include_low_quality=plan.include_low_quality,
            provenance=provenance,
            video=plan.video,
            dihedral=plan.dihedral,
            video_rule=plan.video_rule,
        )
        row = result.to_row()
        row.update(sample_id=item.sample_id, container=item.container, position=item.position)
        batch.append(row)
        unreported += 1
        if unreported == PROGRESS_EVERY:
            progress(unreported)
            unreported = 0
        if len(batch) == BATCH_ROWS:
            parts.write(batch)
            written += len(batch)
            batch = []
    parts.write(batch)
    parts.mark_finished()
    progress(unreported)
    return written + len(batch)


Engine = Callable[[Iterator[tuple[int, Unit]], ScanContext, Progress], None]


# --- the local engine -----------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(context: ScanContext, counter: Synchronized[int]) -> None:
    # Ctrl-C is the driver's to handle: it stops the workers (their committed
    # parts stay) and tells the user how to resume.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One BLAS thread per worker: N processes each spinning N BLAS threads
    # made a 2-worker scan 4x slower than a single process (measured).
    threadpool_limits(1)
    _worker.update(context=context, counter=counter)


def _count(done: int) -> None:
    counter: Synchronized[int] = _worker["counter"]
    with counter.get_lock():
        counter.value += done


def _run_unit(number: int, unit: Unit) -> int:
    return scan_unit(number, unit, _worker["context"], _count)


def local_engine(workers: int) -> Engine:
    """Units on ``workers`` processes (1: in this one), a few in flight per worker."""

    def run(jobs: Iterator[tuple[int, Unit]], context: ScanContext, progress: Progress) -> None:
        if workers <= 1:
            for number, unit in jobs:
                scan_unit(number, unit, context, progress)
            return
        fork = multiprocessing.get_context("fork")  # workers inherit the mapped index
        counter: Synchronized[int] = fork.Value("q", 0)
        reported = 0
        pending: set[Future[int]] = set()
        with ProcessPoolExecutor(
            workers, mp_context=fork, initializer=_init_worker, initargs=(context, counter)
        ) as pool:
            try:
                for number, unit in jobs:
                    pending.add(pool.submit(_run_unit, number, unit))
                    while len(pending) >= workers * 2:
                        pending, reported = _collect(pending, counter, reported, progress)
                while pending:
                    pending, reported = _collect(pending, counter, reported, progress)
            except KeyboardInterrupt:
                _stop(pool)
                raise

    return run


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers now rather than after their units (parts are committed atomically)."""
    # Python 3.14 has pool.terminate_workers(); until then, the processes themselves.
    for process in list((pool._processes or {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _collect(
    pending: set[Future[int]], counter: Synchronized[int], reported: int, progress: Progress
) -> tuple[set[Future[int]], int]:
    """Wait briefly for a unit; pass on the workers' progress; re-raise a failed unit."""
    done, still = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
    for future in done:
        future.result()
    now = counter.value
    progress(now - reported)
    return still, now


# --- driver side ---------------------------------------------------------------


def run_scan(
    plan: ScanPlan,
    out: Path,
    engine: Engine,
    *,
    index: Index | None,
    settings: Settings,
    resume: bool = False,
    jsonl: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write every row of the scan to ``out`` and return the summary.

    Refuses to start (:class:`ScanError`) when a source is missing (unless
    ``allow_missing``; then the missing ones are listed in the summary) or a
    Parquet file lacks the image or id column.
    """
    plan_file = out / "scan.json"
    if (out / "summary.json").exists():
        if resume:
            return dict(json.loads((out / "summary.json").read_text()))
        raise ScanError(f"{out} already holds a finished scan; use another --out")
    if problems := check_sources(plan.sources, plan.options):
        raise ScanError("; ".join(problems))
    # Left out with --allow-missing; a resume must leave out the same ones.
    recorded = {**plan.to_json(), "missing_sources": missing_sources(plan.sources)}
    started_at = datetime.now(UTC).isoformat()
    if plan_file.exists():
        if not resume:
            raise ScanError(f"{out} holds an interrupted scan; add --resume to continue it")
        previous = json.loads(plan_file.read_text())
        started_at = previous.pop("started_at", started_at)  # a resume goes on with the scan
        if previous != recorded:
            raise ScanError(
                f"--resume with different sources, options or banks than {out} "
                "(or sources that were missing have appeared)"
            )
    out.mkdir(parents=True, exist_ok=True)
    plan_file.write_text(json.dumps({**recorded, "started_at": started_at}, indent=2))
    done_before = prepare_parts(out)
    report = progress or (lambda _: None)
    report(done_before)
    context = ScanContext(plan, out, index, settings)
    jobs = (
        (number, unit)
        for number, unit in enumerate(iter_units(plan.sources, plan.options))
        if not UnitParts(out, number).finished()
    )
    started = time.perf_counter()
    engine(jobs, context, report)
    seconds = time.perf_counter() - started
    missing = recorded["missing_sources"]
    return _finish(
        out,
        plan,
        missing,
        jsonl=jsonl,
        seconds=seconds,
        done_before=done_before,
        started_at=started_at,
    )


def _finish(
    out: Path,
    plan: ScanPlan,
    missing: list[str],
    *,
    jsonl: bool,
    seconds: float,
    done_before: int,
    started_at: str,
) -> dict[str, Any]:
    results = finish(out, jsonl=jsonl)
    counts = summarize(
        results, out / "removal-list.txt", include_low_quality=plan.include_low_quality
    )
    new_rows = counts["seen"] - done_before
    summary = {
        **counts,
        "duration_s": round(seconds, 3),
        # The first run's start, whatever resumed it: a signed attestation states both.
        "started_at": started_at,
        "finished_at": datetime.now(UTC).isoformat(),
        "items_per_s": round(new_rows / seconds, 1) if seconds else None,
        "bastion_version": __version__,
        "banks": plan.banks,
        "sources": plan.sources,
        # How the sources were read: ``bastion filter`` reads them again.
        "options": plan.to_json()["options"],
        "missing_sources": missing,
        "results": str(results),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "scan.json").unlink()
    return summary
