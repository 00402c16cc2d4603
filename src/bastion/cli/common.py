"""What every command shares: the stderr console, settings and the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from bastion.banks.bank import BankError
from bastion.config import ConfigError, Settings
from bastion.formats.records import FormatError
from bastion.media.video import VideoOptions
from bastion.output import OutputFormat
from bastion.signals.types import InvalidSignal
from bastion.store import Store, StoreError

#: ``--format`` of commands that print one row per input.
OutputFormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="table for people; jsonl, csv or te for machines; vpdq: Meta's vPDQ text.",
    ),
]

#: Progress, messages and errors; results go to stdout.
stderr = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    stderr.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise fail(f"configuration: {exc}") from None


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one clear line and exit status 2."""
    try:
        yield
    except (BankError, FormatError, InvalidSignal, StoreError, ValueError) as exc:
        raise fail(str(exc)) from None


def open_store(settings: Settings) -> Store:
    with user_errors():
        return Store.open(settings)


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


def video_options(
    interval: float, every_frame: bool, keyframes: bool, prune: int | None
) -> VideoOptions:
    return VideoOptions(
        interval=0.0 if every_frame else interval, keyframes_only=keyframes, prune_bits=prune
    )
