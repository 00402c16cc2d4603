"""What every command shares: the stderr console, settings, the store, and
the one-line errors for what a user can fix."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, BinaryIO, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from bastion.cli.output import OutputFormat
from bastion.config import ConfigError, Settings
from bastion.errors import BastionError
from bastion.matching.index import Index
from bastion.media.video import VideoOptions
from bastion.store import Store

#: ``--format`` of commands that print one row per input.
OutputFormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="table for people; jsonl, csv or te for machines; vpdq: Meta's vPDQ text.",
    ),
]

#: ``-o`` of commands that print one row per input.
OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="File to write the results to (default: stdout)."),
]

#: Progress, messages and errors; results go to stdout.
stderr = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Say ``error: message`` on one line; the message is printed as written
    (a file name like ``[bold]x.jpg`` is not Rich markup)."""
    stderr.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def writable(what: str) -> Iterator[None]:
    """Turn an OSError while creating ``what`` (an output path such as ``-o
    out.csv`` or ``--out DIR``, or ``BASTION_HOME=...``) into one line and
    exit status 2, instead of a traceback.  Wrap only the code that creates
    outputs, so that an unreadable input is never blamed on an output."""
    try:
        yield
    except OSError as exc:
        raise fail(f"cannot write {what}: {exc.strerror or exc}") from None


def output_folder(path: Path, option: str = "--out") -> None:
    """Create the output folder and prove it takes files before any work
    starts, so an unwritable ``--out`` is one line, not a traceback after
    hours of scanning."""
    with writable(f"{option} {path}"):
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass


@contextmanager
def output_stream(path: Path | None) -> Iterator[TextIO]:
    """Standard output, or the ``-o`` file, opened before any work starts."""
    if path is None:
        yield sys.stdout
        return
    with writable(f"-o {path}"):
        stream = path.open("w", newline="")
    with stream:
        yield stream


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` only when complete: an export that
    fails half-way leaves no half-written file a tool could take for the whole."""
    temporary = path.with_name(f".{path.name}.partial")
    with writable(f"--out {path}"):
        stream = temporary.open("wb")
    try:
        with stream:
            yield stream
        with writable(f"--out {path}"):
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def require_paths(paths: Iterable[Path]) -> None:
    """Refuse to start (status 2) when a named input does not exist: a typo
    must not pass as a run that checked everything it was given."""
    missing = [str(path) for path in paths if not os.path.lexists(path)]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}")


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise fail(f"configuration: {exc}") from None


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one clear line and exit status 2:
    any of Bastion's own errors (the service answers them with their HTTP
    status), and a ``ValueError`` from a library given a bad value."""
    try:
        yield
    except (BastionError, ValueError) as exc:
        raise fail(str(exc)) from None


def _home(settings: Settings) -> str:
    return f"BASTION_HOME={settings.home}"


def open_store(settings: Settings) -> Store:
    with user_errors(), writable(_home(settings)):
        return Store.open(settings)


def open_index(store: Store, settings: Settings) -> Index:
    """The match index (its snapshots live under BASTION_HOME)."""
    with stderr.status("loading the match index"), writable(_home(settings)):
        return Index.open(store, settings)


#: Provenance options shared by ``inspect`` and ``scan``.
IncludePromptsOption = Annotated[
    bool,
    typer.Option(
        "--include-prompts", help="Keep prompt text from generator metadata (withheld by default)."
    ),
]
WatermarksOption = Annotated[
    bool,
    typer.Option("--watermarks", help="Decode pixels to look for Stable Diffusion watermarks."),
]


#: Video options shared by ``hash``, ``match`` and ``scan``.
FrameIntervalOption = Annotated[
    float,
    typer.Option(
        "--frame-interval", min=0.0, help="Seconds between hashed video frames (0: every frame)."
    ),
]
EveryFrameOption = Annotated[
    bool, typer.Option("--every-frame", help="Hash every video frame (as --frame-interval 0).")
]
KeyframesOption = Annotated[
    bool,
    typer.Option("--keyframes", help="Decode and hash video keyframes only: several times faster."),
]
PruneOption = Annotated[
    int | None,
    typer.Option(
        "--prune",
        min=0,
        max=256,
        metavar="BITS",
        help="Drop video frames within BITS of the previous hashed frame (still scenes).",
    ),
]
VideoQueryPercentOption = Annotated[
    float,
    typer.Option(
        "--video-query-percent",
        min=0.0,
        max=100.0,
        help="Share of a video's frames that must match a banked video (Meta: 80).",
    ),
]
VideoEntryPercentOption = Annotated[
    float,
    typer.Option(
        "--video-entry-percent",
        min=0.0,
        max=100.0,
        help="Share of the banked video's frames that must be found (Meta: 0).",
    ),
]


def video_options(
    interval: float, every_frame: bool, keyframes: bool, prune: int | None
) -> VideoOptions:
    return VideoOptions(
        interval=0.0 if every_frame else interval, keyframes_only=keyframes, prune_bits=prune
    )
