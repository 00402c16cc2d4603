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
from rich.console import Console
from rich.table import Table

from bastion import __version__
from bastion.cli.common import OutputFormatOption, load_settings, stderr
from bastion.config import Settings
from bastion.fingerprint import ItemError
from bastion.hashing import hash_file
from bastion.output import HashRow, OutputFormat, RowWriter
from bastion.progress import progress_bar
from bastion.scan.walk import WalkProblem, iter_files
from bastion.signals.pdq import hamming

app = typer.Typer(
    name="bastion",
    help="Hash, match and triage media against known-abuse hash lists.",
    no_args_is_help=True,
    add_completion=False,
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


def iter_hash_rows(paths: list[Path], settings: Settings, *, dihedral: bool) -> Iterator[HashRow]:
    """One row per file under ``paths`` (or per path that yields none), with progress."""
    items = list(iter_files(paths))
    with progress_bar(stderr) as progress:
        task = progress.add_task("hashing", total=len(items))
        for item in items:
            if isinstance(item, WalkProblem):
                yield HashRow(str(item.path), error=item.error)
            else:
                try:
                    yield HashRow(str(item), hash_file(item, settings=settings, dihedral=dihedral))
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
) -> None:
    """Print MD5, SHA-1, SHA-256, PDQ and PDQ quality of every file.

    Exits with status 1 when any file could not be hashed; each such file has
    its own row saying why, and every other file is still hashed.
    """
    writer = RowWriter(output_format, sys.stdout, dihedral=dihedral)
    total = failures = 0
    for row in iter_hash_rows(paths, load_settings(), dihedral=dihedral):
        writer.write(row)
        total += 1
        failures += row.status == "error"
    writer.close()
    if failures:
        stderr.print(f"[yellow]{failures} of {total} inputs could not be hashed fully[/yellow]")
        raise typer.Exit(1)


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the sample collection.")] = Path(
        "demo-data"
    ),
) -> None:
    """Generate a benign sample collection and hash it (what `make demo` runs)."""
    from bastion.samples import write_sample_collection

    written = write_sample_collection(directory)
    stderr.print(f"wrote {len(written)} sample files to {directory}/")
    rows = list(iter_hash_rows([directory], load_settings(), dihedral=True))
    originals = {
        row.path: row.fingerprint.pdq_dihedral
        for row in rows
        if row.fingerprint and row.fingerprint.pdq and Path(row.path).parent == directory
    }
    table = Table(title="bastion hash " + str(directory), title_justify="left")
    for column in ("file", "type", "pdq", "quality", "nearest original (PDQ bits apart)"):
        table.add_column(column)
    for row in rows:
        fp = row.fingerprint
        nearest = ""
        if fp and fp.pdq and row.path not in originals:
            name, bits = min(
                (
                    (Path(o).name, min(hamming(fp.pdq, v) for v in vs))
                    for o, vs in originals.items()
                ),
                key=lambda pair: pair[1],
            )
            nearest = f"{name} ({bits})"
        problem = row.problem
        table.add_row(
            str(Path(row.path).relative_to(directory)),
            fp.media_type if fp else "",
            fp.pdq[:16] + "…" if fp and fp.pdq else f"[red]{problem}[/red]" if problem else "",
            str(fp.pdq_quality) if fp and fp.pdq_quality is not None else "",
            nearest,
        )
    Console().print(table)
    stderr.print(
        "Edits stay within a few bits of their original (a match is <= 31); "
        "the files under bad/ are broken on purpose and each says why. "
        f"Full hashes: bastion hash --format jsonl {directory}"
    )
