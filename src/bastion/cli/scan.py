"""``bastion scan``: hash and match whole collections and datasets into DIR."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from bastion.banks import Banks, Index
from bastion.cli.app import app
from bastion.cli.common import (
    EveryFrameOption,
    FrameIntervalOption,
    IncludePromptsOption,
    KeyframesOption,
    PruneOption,
    WatermarksOption,
    load_settings,
    open_store,
    stderr,
    user_errors,
    video_options,
)
from bastion.progress import RateColumn
from bastion.scan.engine import ScanError, ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceKind, SourceOptions, count_items


def bank_versions(banks: Banks, index: Index) -> dict[str, Any]:
    """What each bank held at scan time, for summary.json."""
    versions: dict[str, Any] = {}
    counts = index.entry_counts()
    for bank_id, bank in index.banks.items():
        last = banks.last_import(bank.name)
        versions[bank.name] = {
            "kind": str(bank.kind),
            "entries": counts[bank_id],
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


@app.command("scan")
def scan_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files, directories, zip/tar archives, webdataset shards "
            "(data-{000000..000099}.tar) or Parquet files/directories."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="Match only these banks (default: all).")
    ] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Also write results.jsonl.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted scan in --out.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (default: one per core).")] = 0,
    engine: Annotated[str, typer.Option(help="local, or ray for a Ray cluster.")] = "local",
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: start a local one).")
    ] = None,
    source_kind: Annotated[
        SourceKind,
        typer.Option("--kind", help="How to read SOURCEs (auto: by name and content)."),
    ] = SourceKind.AUTO,
    image_column: Annotated[str, typer.Option(help="Parquet column with image bytes.")] = "jpg",
    id_column: Annotated[
        str | None, typer.Option(help="Parquet column with the row id (default: row number).")
    ] = None,
    include_low_quality: Annotated[
        bool, typer.Option(help="Match PDQ hashes of nearly flat images too.")
    ] = False,
    provenance: Annotated[
        bool, typer.Option(help="Assess each item's provenance (C2PA, XMP, generator metadata).")
    ] = True,
    include_prompts: IncludePromptsOption = False,
    watermarks: WatermarksOption = False,
    frame_interval: FrameIntervalOption = 1.0,
    every_frame: EveryFrameOption = False,
    keyframes: KeyframesOption = False,
    prune: PruneOption = None,
) -> None:
    """Hash and match every item of the SOURCEs; write results, summary and removal list.

    DIR gets results.parquet (one row per item), summary.json and
    removal-list.txt (ids of matched items, one per line).  Killed scans
    continue with --resume and produce exactly the rows of an uninterrupted run.
    Videos (files and archive members) get a vPDQ hash, one frame a second.
    """
    settings = load_settings()
    options = SourceOptions(source_kind, image_column, id_column)
    with user_errors():
        store = open_store(settings)
        with stderr.status("loading the match index"):
            index = Index.open(store, settings)
        if bank:
            index.restrict(bank)
        plan = ScanPlan(
            sources,
            options,
            bank_versions(Banks(store), index),
            include_low_quality,
            provenance,
            watermarks,
            include_prompts,
            video_options(frame_interval, every_frame, keyframes, prune),
        )
    total = count_items(sources, options)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn("items"),
        TimeRemainingColumn(),
        console=stderr,
    )
    cores = workers or len(os.sched_getaffinity(0))
    if engine == "ray":
        from bastion.scan.ray_engine import ray_engine

        runner = ray_engine(address=ray_address)
    elif engine == "local":
        runner = local_engine(cores)
    else:
        raise typer.BadParameter("--engine is local or ray")
    with progress:
        task = progress.add_task("scanning", total=total)
        try:
            summary = run_scan(
                plan,
                out,
                runner,
                index=index,
                settings=settings,
                resume=resume,
                jsonl=jsonl,
                progress=lambda n: progress.advance(task, n),
            )
        except ScanError as exc:
            stderr.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
    print_summary(summary, out)


def print_summary(summary: dict[str, Any], out: Path, *, as_json: bool = True) -> None:
    """The summary for people on stderr and, for machines, as JSON on stdout."""
    stderr.print(
        f"{summary['seen']:,} items: {summary['hashed']:,} hashed, "
        f"{summary['errored']:,} errored, {summary['skipped']:,} skipped; "
        f"[bold]{summary['matched']:,} matched[/bold] "
        f"({summary['items_per_s'] or 0:,.0f} items/s)",
        highlight=False,
    )
    for reason, count in summary["errors_by_reason"].items():
        stderr.print(f"  error {reason}: {count:,}", highlight=False)
    for reason, count in summary["skipped_by_reason"].items():
        stderr.print(f"  skipped {reason}: {count:,}", highlight=False)
    for name, count in summary["matches_by_bank"].items():
        stderr.print(f"  matches in {name}: {count:,}", highlight=False)
    stderr.print(f"results in {out}/ (results.parquet, summary.json, removal-list.txt)")
    if as_json:
        typer.echo(json.dumps(summary))
