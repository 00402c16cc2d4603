"""``bastion exchange ...``: banks that follow NCMEC, StopNCII and other lists.

``sync`` is one-shot and cron-friendly: a progress line on stderr, one JSON
report per exchange on stdout, and exit 0 only when every exchange synced
with every row used (1: a sync ended in error, what it committed is kept;
2: nothing ran).  ``bastion serve`` runs the same syncs on a schedule.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID
from rich.table import Table

from bastion import audit
from bastion.cli.common import fail, load_settings, open_store, stderr, user_errors
from bastion.cli.progress import progress_bar
from bastion.exchanges.lease import ExchangeBusy
from bastion.exchanges.registry import (
    API_ENVIRONMENTS,
    APIS,
    ExchangeInfo,
    ExchangeNotFound,
    Exchanges,
    resolve_url,
)
from bastion.exchanges.sync import SyncReport, sync_exchange

exchange_app = typer.Typer(
    help="Banks that keep themselves in sync with NCMEC, StopNCII and other lists.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _exchanges() -> Exchanges:
    return Exchanges(open_store(load_settings()), actor=audit.cli_actor())


@exchange_app.command("apis")
def apis() -> None:
    """The APIs an exchange can follow, with their credentials' form and environments."""
    for name, api in APIS.items():
        environments = ", ".join(API_ENVIRONMENTS.get(name, {})) or "-"
        typer.echo(f"{name}\t{api.description}\tcredentials: {api.credentials_form}")
        typer.echo(f"\tenvironments (--env): {environments}")


@exchange_app.command("add")
def add(
    name: str,
    api: Annotated[str, typer.Option("--api", help=f"One of: {', '.join(APIS)}.")],
    bank: Annotated[str, typer.Option("--bank", help="The bank it fills (created if new).")],
    credentials: Annotated[
        str,
        typer.Option(
            "--credentials",
            help="A file only you can read (chmod 600), or env:VARIABLE, holding the secret.",
        ),
    ],
    url: Annotated[
        str | None, typer.Option("--url", help="The base URL of the API's environment.")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="A documented environment, by name.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="An API's own setting, KEY=VALUE (e.g. privacy_group=1)."),
    ] = None,
) -> None:
    """Add an exchange: BANK will follow the list at URL."""
    options = dict(_option(text) for text in option or [])
    with user_errors():
        info = _exchanges().add(
            name,
            api=api,
            bank=bank,
            url=resolve_url(api, url, env),
            credentials=credentials,
            options=options,
        )
    stderr.print(
        f"added exchange [bold]{escape(info.name)}[/bold] ({info.api}, {escape(info.url)}) "
        f"filling bank [bold]{escape(info.bank)}[/bold]; run: bastion exchange sync {info.name}"
    )


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise fail(f"--option takes KEY=VALUE, not {text!r}")
    return key.strip(), value.strip()


@exchange_app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """The exchanges, with how their last sync ended."""
    with user_errors():
        found = _exchanges().list()
    if as_json:
        typer.echo(json.dumps([info.to_dict() for info in found], indent=2))
        return
    table = Table("name", "api", "bank", "last sync", "status", "last error")
    for info in found:
        finished = (
            info.last_finished_at.isoformat(timespec="seconds")
            if info.last_finished_at
            else "never"
        )
        table.add_row(
            info.name,
            info.api,
            info.bank,
            finished,
            info.last_status or "-",
            escape(info.last_error or ""),
        )
    if not found:
        stderr.print("no exchanges; add one with: bastion exchange add")
        return
    Console().print(table)


@exchange_app.command("show")
def show(name: str, as_json: JsonOption = False) -> None:
    """One exchange: its checkpoint, last run, counts and last error."""
    with user_errors():
        info = _exchanges().get(name)
    if as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2))
        return
    typer.echo(_describe(info))


def _describe(info: ExchangeInfo) -> str:
    checkpoint = json.dumps(info.checkpoint) if info.checkpoint else "none (the next sync is full)"
    lines = [
        f"exchange:     {info.name} ({info.api})",
        f"bank:         {info.bank}",
        f"url:          {info.url}",
        f"credentials:  {info.credentials}",
        f"checkpoint:   {checkpoint}",
        f"last status:  {info.last_status or 'never synced'}",
    ]
    if info.last_started_at:
        lines.append(f"last started: {info.last_started_at.isoformat(timespec='seconds')}")
    if info.last_finished_at:
        lines.append(f"last ended:   {info.last_finished_at.isoformat(timespec='seconds')}")
    if info.last_success_at:
        lines.append(f"last success: {info.last_success_at.isoformat(timespec='seconds')}")
    if info.syncing_by:
        lines.append(f"syncing now:  {info.syncing_by}")
    if info.last_error:
        lines.append(f"last error:   {info.last_error}")
    if info.last_counts:
        counts = info.last_counts
        shown = (
            "fetched",
            "added",
            "updated",
            "restored",
            "withdrawn",
            "unchanged",
            "stale",
            "rejected",
        )
        lines.append("last counts:  " + ", ".join(f"{k} {counts.get(k, 0):,}" for k in shown))
        if counts.get("skipped"):
            skipped = ", ".join(f"{k} {v:,}" for k, v in counts["skipped"].items())
            lines.append(f"skipped:      {skipped}")
    return "\n".join(lines)


@exchange_app.command("sync")
def sync(
    names: Annotated[
        list[str] | None, typer.Argument(help="Exchanges to sync (default: all).")
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Fetch each list from its beginning.")
    ] = False,
) -> None:
    """Sync exchanges once: fetch what changed and apply it to their banks."""
    exchanges = _exchanges()
    with user_errors():
        chosen = [exchanges.get(n) for n in names] if names else exchanges.list()
    if not chosen:
        raise fail("no exchanges to sync; add one with: bastion exchange add")
    failed = 0
    for info in chosen:
        with progress_bar(stderr, unit="entries") as progress:
            task = progress.add_task(f"sync {info.name}", total=None)

            def tick(
                report: SyncReport, task: TaskID = task, progress: Progress = progress
            ) -> None:
                progress.update(task, completed=report.fetched)

            try:
                report = sync_exchange(
                    exchanges.store, info.name, full=full, on_delta=tick, read_ahead=True
                )
            except ExchangeBusy as busy:
                # Not synced by this run: said so, and the exit status is not 0.
                typer.echo(json.dumps(_busy(info.name, info.bank, busy)))
                stderr.print(f"{escape(info.name)}: not synced: {escape(str(busy))}")
                failed += 1
                continue
            except ExchangeNotFound as gone:
                raise fail(str(gone)) from None
        typer.echo(json.dumps(report.to_dict()))
        sys.stdout.flush()
        stderr.print(_summary(report))
        failed += report.status != "ok"
    if failed:
        raise typer.Exit(1)


def _busy(name: str, bank: str, busy: ExchangeBusy) -> dict[str, str]:
    return {
        "exchange": name,
        "bank": bank,
        "status": "busy",
        "error": str(busy),
        "error_code": busy.code,
    }


def _summary(report: SyncReport) -> str:
    counts = report.counts
    line = (
        f"{escape(report.exchange)}: {report.status}; fetched {report.fetched:,}, "
        f"added {counts['added']:,}, updated {counts['updated']:,}, "
        f"withdrawn {counts['withdrawn']:,}, restored {counts['restored']:,}, "
        f"older than applied {report.stale:,}, rejected {counts['rejected']:,}"
    )
    if report.skipped:
        line += "; skipped " + ", ".join(f"{k} {v:,}" for k, v in report.skipped.items())
    if report.error:
        line += f"\n  error: {escape(report.error)}"
    return line


@exchange_app.command("remove")
def remove(
    name: str,
    keep_bank: Annotated[
        bool, typer.Option("--keep-bank", help="Keep the bank and its entries.")
    ] = False,
) -> None:
    """Remove an exchange (and its bank, unless --keep-bank)."""
    with user_errors():
        info = _exchanges().remove(name, keep_bank=keep_bank)
    kept = "kept" if keep_bank else "deleted"
    stderr.print(f"removed exchange {escape(info.name)}; bank {escape(info.bank)} {kept}")
