"""The ``bastion`` command line: thin wrappers over the library.

Results go to stdout (or a file) in the format asked for; progress and
diagnostics go to stderr, so ``bastion hash --format jsonl DIR > out.jsonl``
is always clean.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bastion import __version__
from bastion.config import ConfigError, Settings
from bastion.fingerprint import ItemError
from bastion.hashing import hash_file
from bastion.output import HashRow, OutputFormat, RowWriter
from bastion.progress import progress_bar
from bastion.scan.walk import WalkProblem, iter_files

app = typer.Typer(
    name="bastion",
    help="Hash, match and triage media against known-abuse hash lists.",
    no_args_is_help=True,
    add_completion=False,
)
stderr = Console(stderr=True)


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


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        stderr.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def hash_paths(
    paths: list[Path], writer: RowWriter, settings: Settings, *, dihedral: bool
) -> tuple[int, int]:
    """Hash every file under ``paths`` into ``writer``; returns (rows, failures)."""
    items = list(iter_files(paths))
    failures = 0
    with progress_bar(stderr) as progress:
        task = progress.add_task("hashing", total=len(items))
        for item in items:
            if isinstance(item, WalkProblem):
                row = HashRow(str(item.path), error=item.error)
            else:
                try:
                    row = HashRow(str(item), hash_file(item, settings=settings, dihedral=dihedral))
                except OSError as exc:
                    row = HashRow(
                        str(item), error=ItemError("unreadable", exc.strerror or str(exc))
                    )
            failures += row.status == "error"
            writer.write(row)
            progress.advance(task)
    writer.close()
    return len(items), failures


@app.command("hash")
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="Files and directories (recursive).")],
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", "-f", help="table for people; jsonl, csv or te for machines."),
    ] = OutputFormat.TABLE,
    dihedral: Annotated[
        bool, typer.Option("--dihedral", help="Add the 8 rotation/flip variants of the PDQ hash.")
    ] = False,
) -> None:
    """Print MD5, SHA-1, SHA-256, PDQ and PDQ quality of every file.

    Exits with status 1 when any file could not be hashed; each such file has
    its own row saying why, and every other file is still hashed.
    """
    settings = _settings()
    writer = RowWriter(output_format, sys.stdout, dihedral=dihedral)
    total, failures = hash_paths(paths, writer, settings, dihedral=dihedral)
    if failures:
        stderr.print(f"[yellow]{failures} of {total} inputs could not be hashed fully[/yellow]")
        raise typer.Exit(1)
