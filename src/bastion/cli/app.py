"""The ``bastion`` command line: thin wrappers over the library.

Results go to stdout (or a file) in the format asked for; progress and
diagnostics go to stderr, so ``bastion hash --format jsonl DIR > out.jsonl``
is always clean.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from bastion.about import __version__
from bastion.cli.common import (
    EveryFrameOption,
    FrameIntervalOption,
    KeyframesOption,
    OutputFormatOption,
    OutputOption,
    PruneOption,
    load_settings,
    output_stream,
    require_paths,
    stderr,
    video_options,
)
from bastion.cli.outcome import exit_for
from bastion.cli.output import HashRow, OutputFormat, RowWriter
from bastion.cli.progress import progress_bar
from bastion.config import Settings
from bastion.matching import Index
from bastion.pipeline import ScanItem, ScanResult, scan_item
from bastion.scan.archives import expand
from bastion.scan.walk import WalkProblem, iter_files

app = typer.Typer(
    name="bastion",
    help="Hash, match and triage media against known-abuse hash lists.",
    no_args_is_help=True,
    add_completion=False,
    # Click's plain help: Rich's help panels cut long option names off with
    # "…" in an 80-column terminal; this wraps the help text instead.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bastion {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Bastion: hash, match and triage media against known-abuse hash lists."""


def iter_results(
    paths: list[Path],
    settings: Settings,
    *,
    index: Index | None = None,
    open_archives: bool = False,
    **stages: Any,
) -> Iterator[ScanResult]:
    """The pipeline's result for every file under ``paths`` (or per path that
    yields none), with progress; ``open_archives`` gives one per archive
    member instead, as ``bastion scan`` does.  ``stages`` are
    :func:`scan_item`'s options."""
    found = list(iter_files(paths))
    with progress_bar(stderr) as progress:
        task = progress.add_task("hashing", total=len(found))
        for entry in found:
            if isinstance(entry, WalkProblem):
                item = ScanItem(str(entry.path), str(entry.path), error=entry.error)
            else:
                item = ScanItem(str(entry), str(entry), path=entry)
            for each in expand(item, settings) if open_archives else (item,):
                yield scan_item(each, index, settings, **stages)
            progress.advance(task)


class Unchecked:
    """Inputs not checked fully, counted by reason: said on stderr at the end
    of a run, and the exit status (1) says so too."""

    #: Why an item with a PDQ below the quality threshold is not checked fully.
    LOW_QUALITY = "low-quality PDQ"
    #: Why an item whose matches an allowlist suppressed is not checked fully.
    SUPPRESSED = "match suppressed by an allowlist"

    def __init__(self) -> None:
        self.total = 0
        self.items = 0
        self.reasons: Counter[str] = Counter()

    def add(self, row: HashRow, *, low_quality_matched: bool = False, suppressed: int = 0) -> None:
        """Count one input; ``low_quality_matched``: its low-quality PDQ was matched anyway."""
        reasons: list[str] = [row.problem.code] if row.problem else []
        if row.fingerprint and row.fingerprint.low_quality and not low_quality_matched:
            reasons.append(self.LOW_QUALITY)
        if suppressed:
            reasons.append(self.SUPPRESSED)
        self.total += 1
        self.items += bool(reasons)
        self.reasons.update(reasons)

    def finish(self) -> None:
        """Say what was not checked, by reason; exit 1 when anything was not."""
        if self.items:
            stderr.print(
                f"[yellow]{self.items} of {self.total} inputs not checked fully:[/yellow]",
                highlight=False,
            )
            for reason, count in sorted(self.reasons.items()):
                stderr.print(f"  {reason}: {count:,}", markup=False, highlight=False)
        exit_for(self.items)


@app.command("hash")
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories (recursive).")],
    output_format: OutputFormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Add the 8 rotation/flip variants of the PDQ hash.")
    ] = False,
    frame_interval: FrameIntervalOption = 1.0,
    every_frame: EveryFrameOption = False,
    keyframes: KeyframesOption = False,
    prune: PruneOption = None,
) -> None:
    """Print MD5, SHA-1, SHA-256 and PDQ of every file; vPDQ of every video.

    A video's vPDQ hashes one frame a second by default.  Exit status: 0
    every file hashed; 1 some could not be hashed fully (each has its own row
    saying why, counted by reason on stderr; a PDQ below the quality
    threshold counts too); 2 nothing ran (a missing path, an unwritable -o).
    """
    settings = load_settings()
    require_paths(paths)
    several = len(paths) > 1 or any(path.is_dir() for path in paths)
    video = video_options(frame_interval, every_frame, keyframes, prune)
    unchecked = Unchecked()
    with output_stream(output) as out:
        writer = RowWriter(output_format, out, dihedral=dihedral, several=several)
        for result in iter_results(paths, settings, dihedral=dihedral, video=video):
            row = HashRow.of(result)
            writer.write(row)
            unchecked.add(row)
        writer.close()
    unchecked.finish()
