"""Progress bars on stderr for long work (hashing, scanning, importing)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``412 files/s``."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            "" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed"
        )


def progress_bar(console: Console, unit: str = "files") -> Progress:
    """A transient bar: description, bar, done/total, rate and ETA."""
    return Progress(
        # The description may name a file: shown as written, never as markup.
        TextColumn("{task.description}", style="progress.description", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
