"""``bastion inspect``: what each file's own evidence says about its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bastion.cli.app import app
from bastion.cli.common import (
    IncludePromptsOption,
    WatermarksOption,
    fail,
    load_settings,
    open_index,
    open_store,
    require_paths,
    stderr,
)
from bastion.config import Settings
from bastion.matching import Index, match_signals
from bastion.media.sniff import sniff
from bastion.pipeline import ScanItem, scan_item
from bastion.provenance import InspectOptions, inspect_bytes
from bastion.provenance.detector import DetectorError, OnnxDetector
from bastion.provenance.models import inspect_model, is_model_file
from bastion.scan.walk import WalkProblem, iter_files


@app.command("inspect")
def inspect_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Images, model files (.safetensors ...) and folders (recursive)."),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per file, with every detail.")
    ] = False,
    include_prompts: IncludePromptsOption = False,
    watermarks: WatermarksOption = False,
    detector: Annotated[
        Path | None,
        typer.Option(help="An ONNX classifier whose score is added as weak evidence."),
    ] = None,
    detector_threshold: Annotated[
        float, typer.Option(help="Detector score from which an image counts as generated.")
    ] = 0.5,
    match: Annotated[
        bool,
        typer.Option(
            "--match", help="Match model hashes (of model files, or named in metadata) to banks."
        ),
    ] = False,
) -> None:
    """Assess each file's provenance and show the evidence behind it.

    Levels say what the evidence proves: "verified" when a valid signature
    from a trusted signer (BASTION_TRUST_ANCHORS) covers it, "signed by an
    untrusted signer" when the signature is valid but nobody vouches for the
    signer, "declared" when only unsigned metadata says so, "estimated" for
    a detector's score.  A file with no evidence is reported as such,
    never as authentic.  Model files get their SHA-256, AutoV2 hash and
    header metadata, read without loading tensors.  Exits with status 1
    when a file could not be read, 2 when a path does not exist.
    """
    settings = load_settings()
    require_paths(paths)
    if settings.trust_anchors is not None and not settings.trust_anchors.is_file():
        raise fail(f"BASTION_TRUST_ANCHORS={settings.trust_anchors} is not a file")
    try:
        model = OnnxDetector(detector, detector_threshold) if detector else None
    except DetectorError as exc:
        raise fail(str(exc)) from None
    options = InspectOptions(include_prompts, watermarks, model)
    index = open_index(open_store(settings), settings) if match else None
    unreadable = False
    for item in iter_files(paths):
        if isinstance(item, WalkProblem):
            _unreadable(item.path, item.error.message)
            unreadable = True
            continue
        try:
            record = _inspect(item, settings, options, index)
        except OSError as exc:
            _unreadable(item, exc.strerror or str(exc))
            unreadable = True
            continue
        if as_json:
            typer.echo(json.dumps(record))
        else:
            _print(record)
    if unreadable:
        raise typer.Exit(1)


def _unreadable(path: Path, reason: str) -> None:
    stderr.print(f"[red]{escape(str(path))}[/red]: {escape(reason)}", highlight=False)


def _inspect(
    path: Path, settings: Settings, options: InspectOptions, index: Index | None
) -> dict[str, Any]:
    """The file's record; with an index, its matches: a model file's hashes,
    or what the pipeline matches for media (its own hashes and the models
    its metadata names)."""
    if is_model_file(path):
        report = inspect_model(path, settings.max_metadata_bytes)
        record = report.to_dict()
        record["level"] = f"model file ({report.format})"
        record["summary"] = report.evidence[0].summary
        if index is not None:
            record["matches"] = [m.to_dict() for m in match_signals(report.signals, index).matches]
        return record
    if index is None:
        data = path.read_bytes()
        assessment = inspect_bytes(data, sniff(data[:4096]).mime, settings, options)
        return {"path": str(path), **assessment.to_dict()}
    result = scan_item(
        ScanItem(str(path), str(path), path=path), index, settings, provenance=options
    )
    if result.provenance is None:
        problem = result.error.message if result.error else "not read"
        raise OSError(problem)
    matches = [m.to_dict() for m in result.matches]
    return {"path": str(path), **result.provenance.to_dict(), "matches": matches}


def _print(record: dict[str, Any]) -> None:
    typer.echo(f"{record['path']}: {record['level']}")
    typer.echo(f"  {record['summary']}")
    for item in record["evidence"]:
        typer.echo(f"  - [{item['reader']}, {item['strength']}] {item['summary']}")
    for key, value in record.get("metadata", {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        typer.echo(f"  {key}: {text[:200]}{'…' if len(text) > 200 else ''}")
    for found in record.get("matches", []):
        typer.echo(
            f"  match: bank {found['bank']}, entry {found['entry_id']} ({found['signal_type']})"
        )
