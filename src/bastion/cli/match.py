"""``bastion match``: hash files (or take hashes) and match them against every bank."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.app import Unchecked, app, iter_results
from bastion.cli.common import (
    EveryFrameOption,
    FrameIntervalOption,
    KeyframesOption,
    OutputFormatOption,
    OutputOption,
    PruneOption,
    VideoEntryPercentOption,
    VideoQueryPercentOption,
    fail,
    load_settings,
    open_index,
    open_store,
    output_stream,
    require_paths,
    stderr,
    user_errors,
    video_options,
)
from bastion.cli.outcome import require_blocklist
from bastion.cli.output import HashRow, OutputFormat, RowWriter
from bastion.fingerprint import Fingerprint
from bastion.matching import match_signals
from bastion.matching.match import VideoRule
from bastion.provenance import InspectOptions
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
    output: OutputOption = None,
    bank: Annotated[
        list[str] | None,
        typer.Option("--bank", help="Match only these blocklists (default: all)."),
    ] = None,
    no_banks: Annotated[
        bool,
        typer.Option("--no-banks", help="Hash without matching (else an empty store is refused)."),
    ] = False,
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
    query_percent: VideoQueryPercentOption = QUERY_MATCH_PERCENT,
    provenance: Annotated[
        bool,
        typer.Option(
            help="Read provenance, and match the models an image's metadata names by hash.",
        ),
    ] = True,
    entry_percent: VideoEntryPercentOption = COMPARED_MATCH_PERCENT,
) -> None:
    """Match files or hashes against all banks.

    Files go through the same pipeline as ``bastion scan``: archives are
    opened and each member is matched, and the models an image's metadata
    names by hash are matched against model banks.  Every match names the
    bank, the entry id, the signal type, the distance (0 for exact signals)
    and the entry's labels.  A video matches a banked
    video by Meta's vPDQ rule and is reported with the share of frames and
    the time ranges that matched; a banked image seen in a video frame is
    reported with the times it appears.  Matches that an allowlist
    suppresses are not shown; how many there were is.  Exit status: 0 every
    input checked; 1 some not checked fully (unreadable, a PDQ below the
    quality threshold, a match suppressed by an allowlist: counted by reason
    on stderr); 2 nothing ran (a missing path, an unwritable -o, or no
    blocklist with entries in the store unless --no-banks).
    """
    if not paths and not hashes:
        raise fail("give files to match, or --hash TYPE:VALUE")
    settings = load_settings()
    with user_errors():
        signals = [parse_signal(text) for text in hashes or []]
    require_paths(paths or [])
    store = open_store(settings)
    index = open_index(store, settings)
    with user_errors():
        if bank:
            index.restrict(bank)
    require_blocklist(index, settings, no_banks=no_banks)
    if no_banks:
        index.restrict([])
    video = video_options(frame_interval, every_frame, keyframes, prune)
    rule = VideoRule(query_percent, entry_percent)
    unchecked = Unchecked()
    suppressed = matched = 0
    with output_stream(output) as out:
        writer = RowWriter(output_format, out, dihedral=dihedral, matches=True)

        def emit(row: HashRow, suppressed_here: int) -> None:
            nonlocal suppressed, matched
            writer.write(row)
            unchecked.add(row, low_quality_matched=include_low_quality, suppressed=suppressed_here)
            suppressed += suppressed_here
            matched += bool(row.matches)

        for signal in signals:
            outcome = match_signals([signal], index, video_rule=rule)
            fingerprint = Fingerprint("hash", 0, (signal,))
            row = HashRow(str(signal)[:100], fingerprint, matches=outcome.matches)
            emit(row, len(outcome.suppressed))
        results = iter_results(
            paths or [],
            settings,
            index=index,
            open_archives=True,
            provenance=InspectOptions() if provenance else None,
            include_low_quality=include_low_quality,
            dihedral=dihedral,
            video=video,
            video_rule=rule,
        )
        for result in results:
            emit(HashRow.of(result, matches=True), len(result.suppressed))
        writer.close()
    stderr.print(f"{matched} inputs matched", highlight=False)
    if suppressed:
        stderr.print(f"{suppressed} matches suppressed by allowlist entries", highlight=False)
    unchecked.finish()
