"""``bastion inspect``: what each file's own evidence says about its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.app import app
from bastion.cli.common import fail, load_settings, stderr
from bastion.media.sniff import sniff
from bastion.provenance import Assessment, inspect_bytes


@app.command("inspect")
def inspect_command(
    paths: Annotated[list[Path], typer.Argument(help="Files to inspect.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file, with every detail.")
    ] = False,
) -> None:
    """Assess each file's provenance and show the evidence behind it.

    Levels say what the evidence proves: "verified" when a valid signature
    covers it, "declared" when only unsigned metadata says so.  A file with
    no evidence is reported as such, never as authentic.  Exits with status
    1 when a file could not be read.
    """
    settings = load_settings()
    if settings.trust_anchors is not None and not settings.trust_anchors.is_file():
        raise fail(f"BASTION_TRUST_ANCHORS={settings.trust_anchors} is not a file")
    unreadable = False
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            stderr.print(f"[red]{path}[/red]: {exc.strerror or exc}", highlight=False)
            unreadable = True
            continue
        assessment = inspect_bytes(data, sniff(data[:4096]).mime, settings)
        if as_json:
            typer.echo(json.dumps({"path": str(path), **assessment.to_dict()}))
        else:
            _print(path, assessment)
    if unreadable:
        raise typer.Exit(1)


def _print(path: Path, assessment: Assessment) -> None:
    typer.echo(f"{path}: {assessment.level}")
    typer.echo(f"  {assessment.summary}")
    for item in assessment.evidence:
        typer.echo(f"  - [{item.reader}, {item.strength}] {item.summary}")
