"""``bastion scan``: hash and match whole collections and datasets into DIR."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from bastion import audit
from bastion.banks import Banks
from bastion.cli.app import app
from bastion.cli.attest import attest_finished_scan, signing_key
from bastion.cli.common import (
    EveryFrameOption,
    FrameIntervalOption,
    IncludePromptsOption,
    KeyframesOption,
    PruneOption,
    VideoEntryPercentOption,
    VideoQueryPercentOption,
    WatermarksOption,
    load_settings,
    open_index,
    open_store,
    output_folder,
    stderr,
    user_errors,
    video_options,
)
from bastion.cli.outcome import exit_for, require_blocklist
from bastion.cli.progress import RateColumn
from bastion.config import Settings
from bastion.matching import Index
from bastion.matching.match import VideoRule
from bastion.scan.engine import ScanError, ScanPlan, bank_versions, local_engine, run_scan
from bastion.scan.results import committed_rows
from bastion.scan.sources import SourceKind, SourceOptions, count_items
from bastion.signals.vpdq import COMPARED_MATCH_PERCENT, QUERY_MATCH_PERCENT

#: The shell's status for a run stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED = 130


@app.command("scan")
def scan_command(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Files, directories, zip/tar archives, webdataset shards "
            "(data-{000000..000099}.tar, a glob, a folder of shards such as "
            "img2dataset's output) or Parquet files/directories."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="Match only these banks (default: all).")
    ] = None,
    no_banks: Annotated[
        bool,
        typer.Option("--no-banks", help="Hash without matching (else an empty store is refused)."),
    ] = False,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Scan without SOURCEs that do not exist (listed in the summary).",
        ),
    ] = False,
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
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Also match rotated and flipped copies.")
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
    query_percent: VideoQueryPercentOption = QUERY_MATCH_PERCENT,
    entry_percent: VideoEntryPercentOption = COMPARED_MATCH_PERCENT,
    attest: Annotated[
        Path | None,
        typer.Option(
            "--attest",
            metavar="KEY",
            help="Once the scan is finished, sign DIR/attestation.json with this Ed25519 "
            "private key (PEM, chmod 600; `bastion attest keygen` makes one).",
        ),
    ] = None,
) -> None:
    """Hash and match every item of the SOURCEs; write results, summary and removal list.

    DIR gets results.parquet (one row per item), summary.json and
    removal-list.txt (ids of matched samples, one per line, escaped).  Killed
    scans continue with --resume and produce exactly the rows of an
    uninterrupted run.  Videos (files and archive members) get a vPDQ hash,
    one frame a second.  Exit status: 0 every item checked, 1 some not
    (counted by reason), 2 nothing ran (docs/exit-codes.md).
    """
    settings = load_settings()
    options = SourceOptions(source_kind, image_column, id_column, allow_missing)
    key = signing_key(attest, no_banks=no_banks)
    with user_errors():
        store = open_store(settings)
        index = open_index(store, settings)
        if bank:
            index.restrict(bank)
        require_blocklist(index, settings, no_banks=no_banks)
        plan = ScanPlan(
            sources,
            options,
            {} if no_banks else bank_versions(Banks(store, actor=audit.cli_actor()), index),
            include_low_quality=include_low_quality,
            dihedral=dihedral,
            provenance=provenance,
            watermarks=watermarks,
            include_prompts=include_prompts,
            video=video_options(frame_interval, every_frame, keyframes, prune),
            video_rule=VideoRule(query_percent, entry_percent),
        )
    summary = scan_with_progress(
        plan,
        out,
        index=None if no_banks else index,
        settings=settings,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
        resume=resume,
        jsonl=jsonl,
    )
    print_summary(summary, out)
    if key is not None:
        attest_finished_scan(out, key)
    exit_for(summary["unchecked"] + len(summary["missing_sources"]))


def _interrupted(out: Path) -> typer.Exit:
    """Say how far an interrupted scan got and how to go on from there."""
    args = sys.argv[1:] + ([] if "--resume" in sys.argv else ["--resume"])
    stderr.print(
        f"[yellow]interrupted:[/yellow] {committed_rows(out):,} items are scanned and kept "
        f"in {escape(str(out))}/parts; continue with\n  {escape(shlex.join(['bastion', *args]))}",
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(INTERRUPTED)


def scan_with_progress(
    plan: ScanPlan,
    out: Path,
    *,
    index: Index | None,
    settings: Settings,
    workers: int = 0,
    engine: str = "local",
    ray_address: str | None = None,
    resume: bool = False,
    jsonl: bool = False,
) -> dict[str, Any]:
    """Run the scan of ``plan`` into ``out`` with a progress bar on stderr; the summary.

    ``bastion scan`` and ``bastion case create|add`` scan through here.
    """
    sources, options = plan.sources, plan.options
    output_folder(out)
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
            progress.stop()
            stderr.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            progress.stop()
            raise _interrupted(out) from None
    return summary


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
    if summary["low_quality"]:
        stderr.print(
            f"  not matched by PDQ, quality under the threshold: {summary['low_quality']:,}",
            highlight=False,
        )
    if summary["suppressed_items"]:
        stderr.print(
            f"  matches suppressed by allowlists: {summary['suppressed_matches']:,} "
            f"(on {summary['suppressed_items']:,} items)",
            highlight=False,
        )
    for name in summary["missing_sources"]:
        stderr.print(f"  missing source, not scanned: {escape(name)}", highlight=False)
    if summary["matches"]:
        by_signal = ", ".join(f"{t} {n:,}" for t, n in summary["matches_by_signal"].items())
        stderr.print(
            f"  {summary['matches']:,} matches ({by_signal}) on {summary['matched']:,} items; "
            f"{summary['removed_samples']:,} samples in the removal list",
            highlight=False,
        )
    for name, count in summary["matches_by_bank"].items():
        stderr.print(f"  matches in {escape(name)}: {count:,}", highlight=False)
    if summary["unchecked"]:
        stderr.print(
            f"[yellow]{summary['unchecked']:,} items were not fully checked[/yellow] "
            "(see the counts above; exit status 1)",
            highlight=False,
        )
    stderr.print(
        f"results in {escape(str(out))}/ (results.parquet, summary.json, removal-list.txt)",
        highlight=False,
    )
    if as_json:
        typer.echo(json.dumps(summary))
