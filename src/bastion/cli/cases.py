"""``bastion case ...``: an investigator's case, from evidence to categorised clusters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bastion import audit
from bastion.banks import Banks
from bastion.cases.building import VIDEO_FRAMES, AddReport, CaseBuilder, open_case
from bastion.cases.documents import ExportCounts, case_media, report_data
from bastion.cases.publish import publish
from bastion.cases.reading import CaseReader, CaseSummary
from bastion.cases.records import CaseRecord
from bastion.cases.report import render_report
from bastion.cli.common import (
    atomic_output,
    fail,
    load_settings,
    open_index,
    open_store,
    stderr,
    user_errors,
)
from bastion.cli.outcome import exit_for, require_blocklist
from bastion.cli.scan import scan_with_progress
from bastion.config import Settings
from bastion.formats.vics import write_case_media
from bastion.scan.engine import ScanPlan, bank_versions
from bastion.scan.sources import SourceOptions
from bastion.store import Store

case_app = typer.Typer(
    help="Investigators' cases: evidence scanned, clustered and put in priority order.",
    no_args_is_help=True,
)

Sources = Annotated[list[Path], typer.Argument(help="Folders, files and archives of the evidence.")]
NameArgument = Annotated[str, typer.Argument(help="The case's name.")]


@case_app.command("create")
def create(
    name: NameArgument,
    sources: Sources,
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="Match these banks (default: all).")
    ] = None,
    scheme: Annotated[
        str, typer.Option(help="Categories: projectvic (0-4), ncmec (A1-B2) or custom.")
    ] = "projectvic",
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="A custom scheme's categories, most severe first."),
    ] = None,
    pdq_threshold: Annotated[
        int | None,
        typer.Option(help="PDQ distance of near-duplicates (default: the banks' largest)."),
    ] = None,
    folder: Annotated[
        Path | None,
        typer.Option(help="Where the case keeps its scans (default: BASTION_HOME/cases/NAME)."),
    ] = None,
) -> None:
    """Create a case from evidence: scan, cluster and order it (exit 1: items not checked)."""
    settings = load_settings()
    with user_errors():
        store = open_store(settings)
        index = open_index(store, settings)
        if bank:
            index.restrict(bank)
        require_blocklist(index, settings, no_banks=False)
        names = bank or sorted(b.name for b in index.banks.values())
        threshold = pdq_threshold
        if threshold is None:
            threshold = max((b.pdq_threshold for b in index.banks.values()), default=31)
        case = CaseBuilder(store, audit.cli_actor()).create(
            name,
            banks=names,
            scheme=scheme,
            categories=category or (),
            pdq_threshold=threshold,
            folder=folder or settings.home / "cases" / name,
        )
    _add(store, settings, case, sources)


@case_app.command("add")
def add(name: NameArgument, sources: Sources) -> None:
    """Add more evidence to a case; its items join the existing clusters."""
    settings = load_settings()
    with user_errors():
        store = open_store(settings)
        case = open_case(store, name)
    _add(store, settings, case, sources)


def _add(store: Store, settings: Settings, case: CaseRecord, sources: list[Path]) -> None:
    """Scan ``sources`` into the case's next scan folder (resuming one a kill left),
    read the scan in and recluster."""
    builder = CaseBuilder(store, audit.cli_actor())
    paths = [str(path.resolve()) for path in sources]
    with user_errors():
        index = open_index(store, settings)
        index.restrict(list(case.banks))
        out = builder.scan_folder(case)
        plan = ScanPlan(
            paths,
            SourceOptions(),
            bank_versions(Banks(store, actor=builder.actor), index),
            video=VIDEO_FRAMES,
        )
    resume = (out / "scan.json").exists()  # a scan a kill interrupted
    summary = scan_with_progress(plan, out, index=index, settings=settings, resume=resume)
    stderr.print("clustering ...", highlight=False)
    with user_errors():
        report = builder.add_scanned(case, paths, out)
        overview = CaseReader(store).summary(case.name)
    _print_added(report)
    _print_summary(overview)
    typer.echo(json.dumps(overview.to_json()))
    exit_for(summary["unchecked"] + len(summary["missing_sources"]))


def _print_added(report: AddReport) -> None:
    stderr.print(
        f"added {report.items:,} items; {report.clusters:,} clusters changed"
        + (f", {report.merged:,} merged into others" if report.merged else "")
        + (f", {report.reopened:,} decided clusters open again" if report.reopened else ""),
        highlight=False,
    )
    for reason, count in report.unchecked.items():
        stderr.print(f"  [yellow]not checked[/yellow] {reason}: {count:,}", highlight=False)


@case_app.command("show")
def show(name: NameArgument) -> None:
    """Counts by priority and by category, the evidence, what was not checked.

    The summary for people goes to stderr, JSON to stdout."""
    settings = load_settings()
    with user_errors():
        overview = CaseReader(open_store(settings)).summary(name)
    _print_summary(overview)
    typer.echo(json.dumps(overview.to_json()))


def _print_summary(overview: CaseSummary) -> None:
    case = overview.case
    stderr.print(
        f"[bold]{escape(case.name)}[/bold]: {overview.items:,} items, scheme {case.scheme.name}, "
        f"banks {escape(', '.join(case.banks))}, PDQ within {case.pdq_threshold}",
        highlight=False,
    )
    tiers = Table("", "priority", "clusters", "items", "undecided")
    for tier, clusters, items, undecided in overview.tiers:
        tiers.add_row(str(int(tier)), tier.title, f"{clusters:,}", f"{items:,}", f"{undecided:,}")
    stderr.print(tiers)
    categories = Table("category", "items")
    for label, items in overview.categories:
        categories.add_row(escape(case.scheme.title(label)), f"{items:,}")
    stderr.print(categories)
    if overview.unchecked:
        total = sum(overview.unchecked.values())
        stderr.print(f"[yellow]{total:,} items were not checked[/yellow]", highlight=False)
        for reason, count in overview.unchecked.items():
            stderr.print(f"  {escape(reason)}: {count:,}", highlight=False)


@case_app.command("list")
def list_cases() -> None:
    """The cases in the store, one name per line."""
    settings = load_settings()
    with user_errors():
        for name in CaseReader(open_store(settings)).names():
            typer.echo(name)


@case_app.command("clusters")
def clusters(
    name: NameArgument,
    after: Annotated[
        str | None, typer.Option(help="The cursor a previous page ended with.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    undecided: Annotated[bool, typer.Option("--undecided", help="Only undecided ones.")] = False,
) -> None:
    """The clusters in priority order as JSON lines; the next page's cursor on stderr."""
    settings = load_settings()
    with user_errors():
        page = CaseReader(open_store(settings)).page(
            name, after=after, limit=limit, undecided=undecided
        )
    for card in page.clusters:
        typer.echo(
            json.dumps(
                {
                    "cluster": card.id,
                    "tier": int(card.tier),
                    "priority": card.tier.title,
                    "size": card.size,
                    "reason": card.reason,
                    "status": card.status,
                    "category": card.category,
                    "claimed_by": card.claimed_by,
                }
            )
        )
    if page.after:
        stderr.print(f"next page: --after {page.after}", highlight=False)


@case_app.command("export")
def export(
    name: NameArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="The file to write.")],
    format: Annotated[str, typer.Option("--format", "-f", help="vics (VICS 2.0 JSON).")] = "vics",
) -> None:
    """The case's items with their categories, for Project VIC and Griffeye (exit 1: some
    items could not be carried, counted by reason)."""
    if format != "vics":
        raise fail(f"unknown export format {format!r}; vics is the one there is")
    settings = load_settings()
    counts = ExportCounts()
    with user_errors():
        store = open_store(settings)
        with atomic_output(out) as stream:
            write_case_media(case_media(store, name, counts), stream, case_name=name)
    stderr.print(f"{counts.written:,} items written to {escape(str(out))}", highlight=False)
    for reason, count in counts.left_out.items():
        stderr.print(
            f"  [yellow]left out[/yellow] {escape(reason)}: {count:,} (no MD5 or SHA-1)",
            highlight=False,
        )
    exit_for(sum(counts.left_out.values()))


@case_app.command("report")
def report(
    name: NameArgument,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
) -> None:
    """The case report: one self-contained HTML file (print it to PDF), no images of content."""
    settings = load_settings()
    with user_errors():
        document = render_report(report_data(open_store(settings), name))
        with atomic_output(out) as stream:
            stream.write(document.encode())
    stderr.print(f"report written to {escape(str(out))}", highlight=False)


@case_app.command("publish")
def publish_command(
    name: NameArgument,
    bank: Annotated[str, typer.Option("--bank", help="The bank to add the hashes to.")],
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            help="Publish these categories (default: all but uncategorized and comparison).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, change nothing.")] = False,
) -> None:
    """Add the case's categorised hashes to a bank: the next case finds them known."""
    settings = load_settings()
    with user_errors():
        store = open_store(settings)
        report = publish(
            store,
            Banks(store, actor=audit.cli_actor()),
            name,
            bank,
            categories=category or (),
            dry_run=dry_run,
        )
    stderr.print(
        f"{'would add' if dry_run else 'added'} {report.added:,} entries to {escape(bank)} "
        f"({report.unchanged:,} already there, {report.updated:,} relabelled)",
        highlight=False,
    )
    typer.echo(
        json.dumps(
            {
                "bank": bank,
                "added": report.added,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": report.rejected,
                "dry_run": dry_run,
            }
        )
    )
