"""``bastion filter``: write a scanned dataset again without its removed samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.app import app
from bastion.cli.common import fail, output_folder, stderr
from bastion.cli.outcome import ExitCode, exit_for
from bastion.scan.filter import REMOVED, REPORT, FilterError, filter_scan


@app.command("filter")
def filter_command(
    scan_dir: Annotated[Path, typer.Argument(help="The folder of a finished `bastion scan`.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="New folder for the cleaned shards and files.")
    ],
    keep_unchecked: Annotated[
        bool,
        typer.Option(
            "--keep-unchecked",
            help="Keep samples the scan could not check (errors, skips); exit status 1.",
        ),
    ] = False,
) -> None:
    """Copy the webdataset shards and Parquet files of a scan without the removed samples.

    A sample is kept only when the scan checked it and it matched nothing:
    matched samples go, and so do samples with an error or skipped
    (unless --keep-unchecked).  Each copy is read back and counted against
    the scan.  OUT gets the copies, filter-report.json and removed.txt
    (reason and id of every removed sample).  A shard's img2dataset metadata
    (NNNNN.parquet, NNNNN_stats.json) is copied too, without the removed
    samples' rows and with the stats' counts lowered to match.  Exit status
    1 when a count does not add up, unchecked samples were kept, metadata
    could not be cleaned, or the scan holds items that are not in a shard or
    Parquet file.
    """
    output_folder(out)
    try:
        report = filter_scan(scan_dir, out, keep_unchecked=keep_unchecked)
    except FilterError as exc:
        raise fail(str(exc), ExitCode.NOT_RUN) from None
    removed = sum(report.removed.values())
    reasons = ", ".join(f"{reason} {count:,}" for reason, count in report.removed.most_common())
    stderr.print(
        f"{report.files:,} files, {report.samples_read:,} samples: {report.kept:,} kept, "
        f"[bold]{removed:,} removed[/bold]" + (f" ({reasons})" if reasons else ""),
        highlight=False,
    )
    metadata = report.metadata
    if metadata.files or metadata.stats_files:
        stderr.print(
            f"img2dataset metadata: {metadata.files:,} Parquet files, "
            f"{metadata.rows_dropped:,} of {metadata.rows_read:,} rows dropped; "
            f"{metadata.stats_files:,} stats files lowered to match",
            highlight=False,
        )
    if report.kept_unchecked:
        stderr.print(
            f"[yellow]{report.kept_unchecked:,} kept samples were not checked[/yellow]",
            highlight=False,
        )
    if report.kept_low_quality:
        stderr.print(
            f"  {report.kept_low_quality:,} kept samples were checked by digest only "
            "(PDQ quality under the threshold)",
            highlight=False,
        )
    if report.not_dataset_rows:
        stderr.print(
            f"[yellow]{report.not_dataset_rows:,} scanned items are plain files or archive "
            "members, not in a shard or Parquet file: not filtered[/yellow]",
            highlight=False,
        )
    for problem in report.problems:
        stderr.print(f"[red]problem:[/red] {problem}", highlight=False, soft_wrap=True)
    stderr.print(f"cleaned copies in {out}/ ({REPORT}, {REMOVED})", highlight=False)
    typer.echo(json.dumps(report.to_json()))
    exit_for(0 if report.complete else 1)
