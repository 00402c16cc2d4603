"""``bastion match``: hash files (or take hashes) and match them against every bank."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bastion.banks import Index, match_outcome, match_signals
from bastion.banks.match import MatchOutcome, VideoRule
from bastion.cli.app import app, iter_hash_rows
from bastion.cli.common import (
    EveryFrameOption,
    FrameIntervalOption,
    KeyframesOption,
    OutputFormatOption,
    PruneOption,
    fail,
    load_settings,
    open_store,
    stderr,
    user_errors,
    video_options,
)
from bastion.fingerprint import Fingerprint
from bastion.output import HashRow, OutputFormat, RowWriter
from bastion.signals.types import parse_signal
from bastion.signals.vpdq import COMPARED_MATCH_PERCENT, QUERY_MATCH_PERCENT


@app.command("match")
def match_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files and directories (recursive).")
    ] = None,
    hashes: Annotated[
        list[str] | None,
        typer.Option("--hash", help="Match a hash instead of a file: TYPE:VALUE, e.g. pdq:<hex>."),
    ] = None,
    output_format: OutputFormatOption = OutputFormat.TABLE,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Also match rotated and flipped copies.")
    ] = False,
    include_low_quality: Annotated[
        bool,
        typer.Option(help="Match PDQ hashes of nearly flat images too (false positives likely)."),
    ] = False,
    frame_interval: FrameIntervalOption = 1.0,
    every_frame: EveryFrameOption = False,
    keyframes: KeyframesOption = False,
    prune: PruneOption = None,
    query_percent: Annotated[
        float,
        typer.Option(
            "--video-query-percent",
            min=0.0,
            max=100.0,
            help="Share of a video's frames that must match a banked video (Meta: 80).",
        ),
    ] = QUERY_MATCH_PERCENT,
    entry_percent: Annotated[
        float,
        typer.Option(
            "--video-entry-percent",
            min=0.0,
            max=100.0,
            help="Share of the banked video's frames that must be found (Meta: 0).",
        ),
    ] = COMPARED_MATCH_PERCENT,
) -> None:
    """Match files or hashes against all banks.

    Every match names the bank, the entry id, the signal type, the distance
    (0 for exact signals) and the entry's labels.  A video matches a banked
    video by Meta's vPDQ rule and is reported with the share of frames and
    the time ranges that matched; a banked image seen in a video frame is
    reported with the times it appears.  Matches that an allowlist
    suppresses are not shown; how many there were is.  Exits with status 1
    when any file could not be hashed.
    """
    if not paths and not hashes:
        raise fail("give files to match, or --hash TYPE:VALUE")
    settings = load_settings()
    with user_errors():
        signals = [parse_signal(text) for text in hashes or []]
        store = open_store(settings)
        with stderr.status("loading the match index"):
            index = Index.open(store, settings)
    writer = RowWriter(output_format, sys.stdout, dihedral=dihedral, matches=True)
    video = video_options(frame_interval, every_frame, keyframes, prune)
    rule = VideoRule(query_percent, entry_percent)
    suppressed = failures = matched = 0

    def emit(row: HashRow, outcome: MatchOutcome) -> None:
        nonlocal suppressed, matched
        writer.write(HashRow(row.path, row.fingerprint, row.error, outcome.matches))
        suppressed += len(outcome.suppressed)
        matched += bool(outcome.matches)

    for signal in signals:
        fingerprint = Fingerprint("hash", 0, (signal,))
        outcome = match_signals([signal], index, video_rule=rule)
        emit(HashRow(str(signal)[:100], fingerprint), outcome)
    for row in iter_hash_rows(paths or [], settings, dihedral=dihedral, video=video):
        failures += row.status == "error"
        if row.fingerprint is None:
            emit(row, MatchOutcome())
        else:
            outcome = match_outcome(
                row.fingerprint, index, include_low_quality=include_low_quality, video_rule=rule
            )
            emit(row, outcome)
    writer.close()
    stderr.print(f"{matched} inputs matched", highlight=False)
    if suppressed:
        stderr.print(f"{suppressed} matches suppressed by allowlist entries", highlight=False)
    if failures:
        stderr.print(f"[yellow]{failures} inputs could not be hashed fully[/yellow]")
        raise typer.Exit(1)
