"""The ``bastion`` command line: thin wrappers over the library.

Results go to stdout (or a file) in the format asked for; progress and
diagnostics go to stderr, so ``bastion hash --format jsonl DIR > out.jsonl``
is always clean.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from bastion import __version__
from bastion.cli.common import (
    EveryFrameOption,
    FrameIntervalOption,
    KeyframesOption,
    OutputFormatOption,
    PruneOption,
    load_settings,
    stderr,
    video_options,
)
from bastion.config import Settings
from bastion.fingerprint import ItemError
from bastion.hashing import hash_file
from bastion.media.video import VideoOptions
from bastion.output import HashRow, OutputFormat, RowWriter
from bastion.progress import progress_bar
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


def iter_hash_rows(
    paths: list[Path], settings: Settings, *, dihedral: bool, video: VideoOptions
) -> Iterator[HashRow]:
    """One row per file under ``paths`` (or per path that yields none), with progress."""
    items = list(iter_files(paths))
    with progress_bar(stderr) as progress:
        task = progress.add_task("hashing", total=len(items))
        for item in items:
            if isinstance(item, WalkProblem):
                yield HashRow(str(item.path), error=item.error)
            else:
                try:
                    fingerprint = hash_file(item, settings=settings, dihedral=dihedral, video=video)
                    yield HashRow(str(item), fingerprint)
                except OSError as exc:
                    problem = ItemError("unreadable", exc.strerror or str(exc))
                    yield HashRow(str(item), error=problem)
            progress.advance(task)


@app.command("hash")
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories (recursive).")],
    output_format: OutputFormatOption = OutputFormat.TABLE,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Add the 8 rotation/flip variants of the PDQ hash.")
    ] = False,
    frame_interval: FrameIntervalOption = 1.0,
    every_frame: EveryFrameOption = False,
    keyframes: KeyframesOption = False,
    prune: PruneOption = None,
) -> None:
    """Print MD5, SHA-1, SHA-256 and PDQ of every file; vPDQ of every video.

    A video's vPDQ hashes one frame a second by default.  Exits with status
    1 when any file could not be hashed; each such file has its own row
    saying why, and every other file is still hashed.
    """
    several = len(paths) > 1 or any(path.is_dir() for path in paths)
    writer = RowWriter(output_format, sys.stdout, dihedral=dihedral, several=several)
    video = video_options(frame_interval, every_frame, keyframes, prune)
    total = failures = 0
    for row in iter_hash_rows(paths, load_settings(), dihedral=dihedral, video=video):
        writer.write(row)
        total += 1
        failures += row.status == "error"
    writer.close()
    if failures:
        stderr.print(f"[yellow]{failures} of {total} inputs could not be hashed fully[/yellow]")
        raise typer.Exit(1)
