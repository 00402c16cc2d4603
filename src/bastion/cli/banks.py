"""``bastion bank ...``: create banks, import and export lists, add and withdraw hashes."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from bastion import audit
from bastion.banks import BankKind, Banks
from bastion.banks.bank import ImportSummary
from bastion.banks.entries import export_entries
from bastion.banks.importer import ImportReport
from bastion.cli.common import (
    KeyframesOption,
    PruneOption,
    fail,
    load_settings,
    open_store,
    require_paths,
    stderr,
    user_errors,
    video_options,
    writable,
)
from bastion.cli.outcome import exit_for
from bastion.fingerprint import Signal
from bastion.formats import FORMATS, detect_format, get_format
from bastion.formats.detect import HEAD_BYTES
from bastion.formats.records import Reject
from bastion.hashing import hash_file
from bastion.labels import format_labels
from bastion.media.video import VideoOptions
from bastion.scan.walk import WalkProblem, iter_files
from bastion.signals.types import InvalidSignal, normalize_signal, parse_signal, signal_type

bank_app = typer.Typer(help="Manage banks of known hashes.", no_args_is_help=True)

FormatName = Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")]


def _banks() -> Banks:
    """Banks on the configured store, changed on behalf of whoever runs the command."""
    return Banks(open_store(load_settings()), actor=audit.cli_actor())


@bank_app.command("create")
def create(
    name: str,
    allowlist: Annotated[
        bool, typer.Option("--allowlist", help="Known false positives: suppress matches.")
    ] = False,
    description: Annotated[str, typer.Option(help="What the bank holds and where from.")] = "",
    pdq_threshold: Annotated[
        int, typer.Option(help="Largest PDQ distance that counts as a match.")
    ] = 31,
) -> None:
    """Create an empty bank."""
    kind = BankKind.ALLOWLIST if allowlist else BankKind.BLOCKLIST
    with user_errors():
        bank = _banks().create(
            name, kind=kind, description=description, pdq_threshold=pdq_threshold
        )
    stderr.print(
        f"created {bank.kind} [bold]{escape(bank.name)}[/bold] (PDQ threshold {bank.pdq_threshold})"
    )


@bank_app.command("update")
def update(
    name: str,
    description: Annotated[
        str | None, typer.Option(help="What the bank holds and where from.")
    ] = None,
    pdq_threshold: Annotated[
        int | None, typer.Option(help="Largest PDQ distance that counts as a match.")
    ] = None,
) -> None:
    """Change a bank's description or PDQ threshold."""
    with user_errors():
        bank = _banks().update(name, description=description, pdq_threshold=pdq_threshold)
    stderr.print(
        f"updated {bank.kind} [bold]{escape(bank.name)}[/bold] (PDQ threshold {bank.pdq_threshold})"
    )


@bank_app.command("list")
def list_banks(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
) -> None:
    """All banks with their kind, threshold and entry counts."""
    banks = _banks()
    rows = [(bank, banks.stats(bank.name)) for bank in banks.list()]
    if as_json:
        for bank, stats in rows:
            typer.echo(json.dumps({**bank.to_dict(), "active": stats.active}))
        return
    table = Table("bank", "kind", "pdq threshold", "entries", "withdrawn", "description")
    for bank, stats in rows:  # user data: shown as written, never as markup
        table.add_row(
            bank.name,
            bank.kind,
            str(bank.pdq_threshold),
            f"{stats.active:,}",
            f"{stats.withdrawn:,}",
            Text(bank.description),
        )
    Console().print(table)


@bank_app.command("show")
def show(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Counts by signal type and label, and the last import."""
    with user_errors():
        stats = _banks().stats(name)
    last = stats.last_import
    if as_json:
        record = {
            **stats.bank.to_dict(),
            "active": stats.active,
            "withdrawn": stats.withdrawn,
            "by_signal_type": stats.by_signal_type,
            "by_label": stats.by_label,
            "imports": stats.imports,
            "last_import": None if last is None else _summary_dict(last),
        }
        typer.echo(json.dumps(record, default=str))
        return
    console = Console()
    bank = stats.bank
    console.print(
        f"[bold]{escape(bank.name)}[/bold] - {bank.kind}, PDQ threshold {bank.pdq_threshold}"
    )
    if bank.description:
        console.print(bank.description, markup=False)
    console.print(f"{stats.active:,} active entries, {stats.withdrawn:,} withdrawn")
    counts = Table("signal type", "entries")
    for type_name, count in stats.by_signal_type.items():
        counts.add_row(type_name, f"{count:,}")
    labels = Table("label", "entries")
    for label, count in stats.by_label.items():
        labels.add_row(Text(label), f"{count:,}")
    console.print(counts, labels)
    if last is None:
        console.print("never imported")
    else:
        console.print(
            f"last import ({stats.imports} in all): {escape(last.source)} \\[{last.format}] "
            f"version {last.version or '-'} at {last.finished_at:%Y-%m-%d %H:%M:%S %Z}: "
            f"+{last.added} added, {last.updated} updated, {last.restored} restored, "
            f"{last.withdrawn} withdrawn, {last.unchanged} unchanged, {last.rejected} rejected"
        )


def _summary_dict(summary: ImportSummary) -> dict[str, object]:
    record = dataclasses.asdict(summary)
    record["finished_at"] = summary.finished_at.isoformat()
    return record


class _ProgressReader:
    """Counts bytes read from a file for the progress bar."""

    def __init__(self, stream: BinaryIO, progress: Progress, task: int) -> None:
        self.stream = stream
        self.progress = progress
        self.task = task

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.progress.advance(self.task, len(data))  # type: ignore[arg-type]
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        count = self.stream.readinto(buffer)  # type: ignore[attr-defined]
        self.progress.advance(self.task, count)  # type: ignore[arg-type]
        return int(count)

    def readable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


@bank_app.command("import")
def import_command(
    name: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The list.")],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help=f"One of: {', '.join(FORMATS)} (default: told from the content).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; change nothing.")
    ] = False,
    list_version: Annotated[
        str | None, typer.Option("--list-version", help="Version of the list, when not in it.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="Name of the list (default: the file's name); a later import under the same "
            "name replaces the labels this list gave, other lists' labels are kept."
        ),
    ] = None,
    replace_labels: Annotated[
        bool,
        typer.Option("--replace-labels", help="Make this list's labels the entries' only labels."),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="Write every rejected row (location, reason) as CSV.")
    ] = None,
) -> None:
    """Import a list into a bank: one transaction, rejected rows reported, idempotent.

    Exits 0 when every row was taken, 1 when some rows were rejected, and 2
    when nothing was imported (unknown format, no usable row).
    """
    banks = _banks()
    with user_errors():
        list_format = get_format(fmt or _detected_format(file))
        banks.get(name)
    with writable(f"--rejects {rejects}"):
        reject_file = rejects.open("w", newline="") if rejects else None
    reject_writer = csv.writer(reject_file) if reject_file else None
    if reject_writer:
        reject_writer.writerow(("location", "reason"))
    shown = 0

    def on_reject(item: Reject) -> None:
        nonlocal shown
        if reject_writer:
            reject_writer.writerow((item.location, item.reason))
        if shown < 20:
            stderr.print(
                f"[yellow]rejected[/yellow] {escape(f'{item.location}: {item.reason}')}",
                highlight=False,
            )
        shown += 1

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    )
    try:
        with user_errors(), progress, file.open("rb") as raw:
            task = progress.add_task(f"importing {escape(file.name)}", total=file.stat().st_size)
            stream = _ProgressReader(raw, progress, task)
            report = banks.import_records(
                name,
                list_format.read(stream),  # type: ignore[arg-type]
                source=source or file.name,
                format=list_format.name,
                version=list_version,
                dry_run=dry_run,
                replace_labels=replace_labels,
                on_reject=on_reject,
            )
    finally:
        if reject_file:
            reject_file.close()
    if shown > 20:
        stderr.print(
            f"... and {shown - 20} more rejected rows" + (f" (all in {rejects})" if rejects else "")
        )
    if report.dry_run:
        _print_label_changes(report)
    _print_report(report)
    exit_for(report.rejected)


def _detected_format(file: Path) -> str:
    with file.open("rb") as stream:
        name = detect_format(stream.read(HEAD_BYTES))
    stderr.print(f"format: {name} (detected; --format to choose another)", highlight=False)
    return name


def _print_label_changes(report: ImportReport, shown: int = 20) -> None:
    for change in report.label_changes[:shown]:
        before = format_labels(change.before) or "(none)"
        after = format_labels(change.after) or "(none)"
        stderr.print(
            f"[cyan]relabel[/cyan] {escape(change.location)}: {escape(before)} -> {escape(after)}",
            highlight=False,
        )
    if report.relabelled > shown:
        stderr.print(f"... and {report.relabelled - shown:,} more label changes")


def _print_report(report: ImportReport) -> None:
    verb = "would change" if report.dry_run else "changed"
    rate = report.rows / report.seconds if report.seconds else 0.0
    stderr.print(
        f"{report.bank}: {report.rows:,} rows in {report.seconds:.1f} s ({rate:,.0f}/s); "
        f"{verb}: {report.added:,} added, {report.updated:,} updated, "
        f"{report.relabelled:,} relabelled, "
        f"{report.restored:,} restored, {report.withdrawn:,} withdrawn; "
        f"{report.unchanged:,} unchanged, {report.rejected:,} rejected"
        + (" [bold](dry run: nothing saved)[/bold]" if report.dry_run else ""),
        highlight=False,
    )


@bank_app.command("export")
def export_command(
    name: str,
    fmt: FormatName = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    include_withdrawn: Annotated[
        bool,
        typer.Option(help="Also write tombstones, in formats that can say so (ncmec, stopncii)."),
    ] = False,
) -> None:
    """Write a bank in a list format."""
    banks = _banks()
    with user_errors():
        list_format = get_format(fmt)
        banks.get(name)
    entries = export_entries(banks.store, name, include_withdrawn=include_withdrawn)
    if output is None:
        report = list_format.write(entries, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        with writable(f"-o {output}"):
            out = output.open("wb")
        with out:
            report = list_format.write(entries, out)
    stderr.print(f"wrote {report.written:,} entries")
    for reason, count in report.skipped.items():
        stderr.print(f"[yellow]skipped {count:,}[/yellow]: {escape(reason)}")


def _signals_of(
    targets: list[str], not_used: list[str], *, low_quality_pdq: bool, video: VideoOptions
) -> Iterator[tuple[Signal, str | None]]:
    """Signals named on the command line, each with the item it belongs to.

    A file contributes all its hashes (a video its vPDQ too), grouped under
    its SHA-256; a ``TYPE:VALUE`` argument is one signal of its own, and a
    ``.vpdq.txt`` file (Meta's vPDQ output) one video.  Whatever could not be
    used is said on stderr and appended to ``not_used`` (exit status 1).
    """
    settings = load_settings()
    for target in _expand(targets, not_used):
        path = Path(target)
        if not path.is_file() or path.name.endswith(VPDQ_SUFFIXES):
            with user_errors():
                if path.is_file():
                    yield normalize_signal("vpdq", path.read_text(errors="replace")), None
                else:
                    yield parse_signal(target), None
            continue
        fingerprint = hash_file(path, settings=settings, video=video)
        if fingerprint.video is not None and fingerprint.video.features:
            yield Signal("vpdq", fingerprint.video.signal_value), fingerprint.sha256
        if fingerprint.error is not None:
            _not_used(not_used, f"not all hashes of {target}", str(fingerprint.error))
        for signal in fingerprint.signals:
            if signal.type == "pdq" and fingerprint.low_quality and not low_quality_pdq:
                reason = (
                    f"quality {fingerprint.pdq_quality} is below the threshold "
                    "(--allow-low-quality to use it anyway)"
                )
                _not_used(not_used, f"not using the PDQ of {target}", reason)
                continue
            yield signal, fingerprint.sha256


def _not_used(not_used: list[str], what: str, reason: str) -> None:
    stderr.print(f"[yellow]{escape(what)}[/yellow]: {escape(reason)}", highlight=False)
    not_used.append(what)


def _expand(targets: list[str], not_used: list[str]) -> list[str]:
    """The targets with folders walked (their files in order); a target that
    is neither a file nor a ``TYPE:VALUE`` hash stops everything first."""
    require_paths(Path(target) for target in targets if not _names_a_signal(target))
    expanded: list[str] = []
    for target in targets:
        if not Path(target).is_dir():
            expanded.append(target)
            continue
        for item in iter_files([target]):
            if isinstance(item, WalkProblem):
                _not_used(not_used, f"not used: {item.path}", item.error.message)
            else:
                expanded.append(str(item))
    return expanded


def _names_a_signal(target: str) -> bool:
    """Whether ``target`` reads as ``TYPE:VALUE`` (or ``TYPE VALUE``) of a known type."""
    type_name, *value = re.split(r"[: ]", target.strip(), maxsplit=1)
    try:
        signal_type(type_name)
    except InvalidSignal:
        return False
    return bool(value)


#: Files holding one video's vPDQ in Meta's text format.
VPDQ_SUFFIXES = (".vpdq.txt", ".vpdq")

Targets = Annotated[
    list[str],
    typer.Argument(
        help="Files (all their hashes are used), Meta .vpdq.txt files or TYPE:VALUE hashes."
    ),
]


@bank_app.command("add")
def add(
    name: str,
    targets: Targets,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="ncmec:A1, iwf:B, projectvic:1 or a tag."),
    ] = None,
    allow_low_quality: Annotated[
        bool, typer.Option(help="Also add PDQ hashes of nearly flat images.")
    ] = False,
    every_frame: Annotated[
        bool,
        typer.Option(
            "--every-frame/--no-every-frame",
            help="Hash every frame of a video, so that sampled re-edits of it match "
            "(--no-every-frame: one frame a second).",
        ),
    ] = True,
    frame_interval: Annotated[
        float | None,
        typer.Option(
            "--frame-interval",
            min=0.0,
            help="Seconds between hashed video frames, instead of every frame.",
        ),
    ] = None,
    keyframes: KeyframesOption = False,
    prune: PruneOption = None,
) -> None:
    """Add hashes (or the hashes of files) to a bank.

    A video is banked with every frame hashed by default: a query video is
    sampled (one frame a second), and Meta's rule needs most of its frames
    to be near some banked frame, which a banked sample of a re-edit misses.
    """
    banks = _banks()
    interval = frame_interval if frame_interval is not None else 0.0 if every_frame else 1.0
    with user_errors():
        video = video_options(interval, False, keyframes, prune)
    not_used: list[str] = []
    pairs = list(_signals_of(targets, not_used, low_quality_pdq=allow_low_quality, video=video))
    with user_errors():
        report = banks.add_signals(
            name,
            [signal for signal, _ in pairs],
            label or [],
            external_ids=[item for _, item in pairs],
        )
    for item in report.rejects:
        _not_used(not_used, f"rejected {item.location}", item.reason)
    _print_report(report)
    exit_for(len(not_used))


@bank_app.command("remove")
def remove(name: str, targets: Targets) -> None:
    """Withdraw hashes from a bank (a tombstone is kept; they stop matching).

    A video file is hashed as ``bank add`` hashes it by default (every frame).
    """
    banks = _banks()
    video = VideoOptions(interval=0.0)
    not_used: list[str] = []
    pairs = _signals_of(targets, not_used, low_quality_pdq=True, video=video)
    signals = [signal for signal, _ in pairs]
    with user_errors():
        count = banks.withdraw_signals(name, signals)
    stderr.print(f"withdrew {count} of {len(signals)} signals from {escape(name)}")
    if count == 0:
        raise typer.Exit(1)
    exit_for(len(not_used))


@bank_app.command("delete")
def delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a bank with all its entries and import history."""
    banks = _banks()
    with user_errors():
        stats = banks.stats(name)
    if not yes and not typer.confirm(
        f"Delete bank {name} and its {stats.active + stats.withdrawn:,} entries?", err=True
    ):
        raise fail("not deleted", 1)
    with user_errors():
        count = banks.delete(name)
    stderr.print(f"deleted bank {name} ({count:,} entries)")
