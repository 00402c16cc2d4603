"""``bastion serve``, and the accounts, keys, audit log and review media behind it."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion import audit
from bastion.accounts import Accounts, Role
from bastion.cli.app import app
from bastion.cli.common import load_settings, open_store, stderr, user_errors
from bastion.review.queue import ReviewQueue
from bastion.review.vault import new_key

user_app = typer.Typer(help="People who log in to the review UI.", no_args_is_help=True)
key_app = typer.Typer(help="API keys for clients (platforms, scripts).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue's stored media.", no_args_is_help=True)

RoleOption = Annotated[Role, typer.Option("--role", help="admin, curator, reviewer or client.")]


def _accounts() -> Accounts:
    return Accounts(open_store(load_settings()))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Processes; each loads the index.")] = 1,
) -> None:
    """Serve the HTTP API, the HMA-compatible routes and the review UI.

    Settings come from BASTION_* variables, read by every worker; with
    BASTION_DATABASE_URL pointing at PostgreSQL any number of `bastion serve`
    processes (on any number of machines) share one store.
    """
    import uvicorn

    settings = load_settings()
    with user_errors():
        # Migrate once, check the media keys and priority order: fail here, not in each worker.
        queue = ReviewQueue(open_store(settings), settings)
        queue.store.dispose()
    if not queue.vault.enabled:
        stderr.print(
            "[yellow]warning:[/yellow] BASTION_MEDIA_KEYS is unset: queued items keep their "
            "hashes but not their media, so reviewers see no image "
            "(make a key with `bastion review keygen`)",
            highlight=False,
        )
    uvicorn.run(
        "bastion.service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@user_app.command("add")
def user_add(
    name: str,
    role: RoleOption = Role.REVIEWER,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a person; the password is asked for (or read from stdin), never an argument."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with user_errors():
        user = _accounts().add_user(name, role, password, actor=audit.cli_actor())
    stderr.print(f"added {user.role} [bold]{escape(user.name)}[/bold]")


@user_app.command("list")
def user_list() -> None:
    table = Table("name", "role", "created", "disabled")
    for user in _accounts().users():
        table.add_row(
            escape(user.name),
            user.role,
            f"{user.created_at:%Y-%m-%d}",
            "yes" if user.disabled else "",
        )
    Console().print(table)


@user_app.command("disable")
def user_disable(name: str) -> None:
    """Disable a user and end their logins (their records stay)."""
    with user_errors():
        _accounts().disable_user(name, actor=audit.cli_actor())
    stderr.print(f"disabled [bold]{escape(name)}[/bold]")


@key_app.command("create")
def key_create(name: str, role: RoleOption = Role.CLIENT) -> None:
    """Create a key and print it once; only its digest is stored."""
    with user_errors():
        secret, info = _accounts().create_key(name, role, actor=audit.cli_actor())
    stderr.print(
        f"created {info.role} key [bold]{escape(info.name)}[/bold] (prefix {escape(info.prefix)}), "
        "shown only now:"
    )
    typer.echo(secret)


@key_app.command("list")
def key_list() -> None:
    table = Table("prefix", "name", "role", "created", "revoked")
    for key in _accounts().api_keys():
        table.add_row(
            escape(key.prefix),
            escape(key.name),
            key.role,
            f"{key.created_at:%Y-%m-%d}",
            "yes" if key.revoked else "",
        )
    Console().print(table)


@key_app.command("revoke")
def key_revoke(prefix: str) -> None:
    """Revoke a key by its prefix (serving processes stop accepting it within seconds)."""
    with user_errors():
        info = _accounts().revoke_key(prefix, actor=audit.cli_actor())
    stderr.print(f"revoked key [bold]{escape(info.name)}[/bold] ({escape(info.prefix)})")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every record's digest and the chain; exit 1 on any edit or deletion.

    Keep the printed head digest somewhere else: a later run whose chain
    does not pass through it shows the log was rewritten.
    """
    result = audit.verify(open_store(load_settings()))
    for problem in result.problems:
        stderr.print(f"[red]record {problem.seq}:[/red] {escape(problem.message)}", highlight=False)
    summary = {
        "ok": result.ok,
        "records": result.records,
        "head_seq": result.head_seq,
        "head_digest": result.head_digest,
    }
    typer.echo(json.dumps(summary))
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    limit: Annotated[int, typer.Option(help="How many of the newest records.")] = 50,
) -> None:
    """The newest records, as JSON lines."""
    for record in audit.recent(open_store(load_settings()), limit):
        line = {
            "seq": record.seq,
            "at": record.at.isoformat(),
            "actor": record.actor,
            "action": record.action,
            "target": record.target,
            "detail": json.loads(record.detail),
        }
        typer.echo(json.dumps(line))


@review_app.command("keygen")
def review_keygen() -> None:
    """Print a new key for BASTION_MEDIA_KEYS (put it first; keep old keys after it)."""
    typer.echo(new_key())


@review_app.command("purge")
def review_purge() -> None:
    """Delete the media of decided items past retention now (`serve` does it hourly)."""
    settings = load_settings()
    with user_errors():
        queue = ReviewQueue(open_store(settings), settings)
    purged = queue.purge()
    stderr.print(f"deleted the media of {len(purged)} item(s)")
