"""``bastion demo``: the main job, end to end, on generated benign data.

Writes a sample collection (originals, edited copies, a zip, broken files),
builds a demo bank from two of the originals in a store of its own (inside
the demo folder, never the user's), scans the collection against it and
prints what was found.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion import audit
from bastion.banks import Banks
from bastion.cli.app import app
from bastion.cli.common import load_settings, stderr
from bastion.cli.scan import print_summary
from bastion.hashing import hash_file
from bastion.matching import Index
from bastion.scan.engine import ScanPlan, bank_versions, local_engine, run_scan
from bastion.scan.results import iter_rows
from bastion.scan.sources import SourceOptions
from bastion.store import Store

#: The originals whose hashes the demo bank holds: their edits match by PDQ.
PLANTED = {"original-1.jpg": "ncmec:A2", "original-2.jpg": "iwf:C"}


@app.command("demo")
def demo_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the demo.")] = Path("demo-data"),
) -> None:
    """Generate a benign collection and a demo bank, scan one against the other."""
    from dataclasses import replace

    from bastion.samples import write_sample_collection

    collection = directory / "collection"
    written = write_sample_collection(collection)
    stderr.print(f"wrote {len(written)} sample files to {escape(str(collection))}/")
    settings = replace(load_settings(), home=directory / "home", database_url=None)
    store = Store.open(settings)
    banks = Banks(store, actor=audit.cli_actor())
    if not any(bank.name == "demo-known" for bank in banks.list()):
        banks.create("demo-known", description="hashes of two generated sample images")
    for name, label in PLANTED.items():
        fingerprint = hash_file(collection / name, settings=settings)
        banks.add_signals("demo-known", fingerprint.signals, [label], source="demo")
    index = Index.open(store, settings)
    plan = ScanPlan([str(collection)], SourceOptions(), bank_versions(banks, index))
    out = directory / "scan"
    shutil.rmtree(out, ignore_errors=True)  # the demo's own folder: start afresh
    summary = run_scan(plan, out, local_engine(2), index=index, settings=settings)
    _print_rows(out / "results.parquet", collection)
    print_summary(summary, out, as_json=False)


def _print_rows(results: Path, collection: Path) -> None:
    table = Table(title="bastion scan " + escape(str(collection)), title_justify="left")
    for column in ("item", "status", "pdq quality", "matches (bank, signal, distance, labels)"):
        table.add_column(column)
    for row in iter_rows(results):
        matches = "\n".join(
            escape(f"{m['bank']} {m['signal_type']} d={m['distance']} {','.join(m['labels'])}")
            for m in row["matches"]
        )
        status = row["status"] if row["status"] == "hashed" else f"[red]{row['error_code']}[/red]"
        quality = "" if row["pdq_quality"] is None else str(row["pdq_quality"])
        item = str(Path(row["item_id"]).relative_to(collection))
        table.add_row(escape(item), status, quality, matches or "[dim]none[/dim]")
    Console().print(table)
