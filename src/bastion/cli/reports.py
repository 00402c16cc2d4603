"""``bastion report``: CyberTipline reports of confirmed review items."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from bastion import audit
from bastion.cli.common import fail, load_settings, open_store, stderr, user_errors
from bastion.reports.reporting import Reporting
from bastion.reports.tipline import (
    FILE_ANNOTATIONS,
    INCIDENT_TYPES,
    Person,
    Reporter,
)
from bastion.review.context import parse_moment
from bastion.review.queue import ReviewQueue

report_app = typer.Typer(
    help="CyberTipline reports of confirmed review items: send, resume, read, retract.",
    no_args_is_help=True,
)
reporter_app = typer.Typer(help="Who reports (set once).", no_args_is_help=True)
report_app.add_typer(reporter_app, name="reporter")

_TYPES = "; ".join(f"{n}: {t}" for n, t in enumerate(INCIDENT_TYPES, start=1))


def _reporting() -> Reporting:
    settings = load_settings()
    with user_errors():
        queue = ReviewQueue(open_store(settings), settings)
    return Reporting(queue.store, settings, queue.vault)


def _incident_type(text: str) -> str:
    """An incident type by its number (1-8) or its exact words."""
    if text.isdigit() and 1 <= int(text) <= len(INCIDENT_TYPES):
        return INCIDENT_TYPES[int(text) - 1]
    return text


def _echo(record: dict[str, Any]) -> None:
    typer.echo(json.dumps(record, indent=2))


@report_app.command("cybertip")
def cybertip(
    items: Annotated[list[int], typer.Argument(help="Confirmed review items (one uploader's).")],
    incident_type: Annotated[
        str, typer.Option("--incident-type", help=f"By number or words. {_TYPES}.")
    ] = "1",
    annotate: Annotated[
        list[str] | None,
        typer.Option(
            "--annotate",
            help=f"A file annotation (repeat); replaces the suggested ones. "
            f"One of: {', '.join(FILE_ANNOTATIONS)}.",
        ),
    ] = None,
    escalate: Annotated[
        str | None, typer.Option(help="Why the report is urgent (escalateToHighPriority).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the XML that would be sent; send nothing.")
    ] = False,
) -> None:
    """Report confirmed items to NCMEC's CyberTipline and preserve them.

    Sends to BASTION_CYBERTIP_URL (NCMEC's test environment unless set) with
    the user:password in the file BASTION_CYBERTIP_CREDENTIALS names.  Without
    --annotate, generativeAi is suggested by each item's provenance.  If
    sending stops, `bastion report resume ID` goes on from the step reached.
    """
    reporting = _reporting()
    actor = audit.cli_actor()
    options: dict[str, Any] = {
        "incident_type": _incident_type(incident_type),
        "annotations": annotate,
        "escalate": escalate,
    }
    with user_errors():
        if dry_run:
            draft = reporting.draft(items, actor, **options)
            typer.echo(draft.report_xml.decode())
            for _, details in draft.files:
                typer.echo(details.decode())
            return
        report_id = reporting.create(items, actor, **options)
        stderr.print(f"report {report_id}: sending {len(items)} file(s)", highlight=False)
    _send(reporting, report_id, actor)


@report_app.command("resume")
def resume(report_id: Annotated[int, typer.Argument(help="Bastion's report id.")]) -> None:
    """Go on sending a report from the step it reached (nothing is sent twice)."""
    reporting = _reporting()
    _send(reporting, report_id, audit.cli_actor())


def _send(reporting: Reporting, report_id: int, actor: str) -> None:
    try:
        record = reporting.send(report_id, actor)
    except Exception as exc:  # noqa: BLE001 - said on one line, with how to go on
        state = _state(reporting, report_id, actor)
        resumable = state in ("new", "submitted")
        hint = f"; resume with `bastion report resume {report_id}`" if resumable else ""
        raise fail(f"report {report_id} ({state}): {exc}{hint}") from None
    stderr.print(
        f"report {report_id} finished: CyberTipline report {record['remote_id']}, "
        f"{len(record['files'])} file(s), preserved until {record['files'][0]['hold_until']}",
        highlight=False,
    )
    _echo(record)


def _state(reporting: Reporting, report_id: int, actor: str) -> str:
    try:
        return str(reporting.show(report_id, actor)["state"])
    except Exception:  # noqa: BLE001 - only for the message
        return "unknown"


@report_app.command("list")
def list_reports(
    limit: Annotated[int, typer.Option(help="How many of the newest.")] = 100,
) -> None:
    """Reports, newest first, as JSON lines."""
    reporting = _reporting()
    with user_errors():
        for record in reporting.list(audit.cli_actor(), limit=limit):
            typer.echo(json.dumps(record))


@report_app.command("show")
def show(report_id: Annotated[int, typer.Argument(help="Bastion's report id.")]) -> None:
    """A report: its state, NCMEC's ids, the exact XML sent, each item's hold."""
    reporting = _reporting()
    with user_errors():
        _echo(reporting.show(report_id, audit.cli_actor()))


@report_app.command("retract")
def retract(report_id: Annotated[int, typer.Argument(help="Bastion's report id.")]) -> None:
    """Withdraw a report that is not finished (at NCMEC too, if submitted)."""
    reporting = _reporting()
    with user_errors():
        _echo(reporting.retract(report_id, audit.cli_actor()))


@reporter_app.command("set")
def reporter_set(
    first_name: Annotated[str, typer.Option("--first-name", help="The reporting person.")],
    last_name: Annotated[str, typer.Option("--last-name")],
    email: Annotated[list[str], typer.Option("--email", help="Repeat for more.")],
    phone: Annotated[list[str] | None, typer.Option("--phone")] = None,
    contact_first_name: Annotated[
        str | None, typer.Option(help="Whom law enforcement should contact, if not the reporter.")
    ] = None,
    contact_last_name: Annotated[str | None, typer.Option()] = None,
    contact_email: Annotated[list[str] | None, typer.Option()] = None,
    contact_phone: Annotated[list[str] | None, typer.Option()] = None,
    company_template: Annotated[
        Path | None, typer.Option(help="A text file: what every report should say of the company.")
    ] = None,
    terms_of_service: Annotated[
        Path | None, typer.Option(help="A text file: the terms of service relevant to reports.")
    ] = None,
    legal_url: Annotated[str | None, typer.Option(help="Where legal process is explained.")] = None,
    esp_service: Annotated[
        str | None, typer.Option(help="The product reported users used (espService).")
    ] = None,
) -> None:
    """Set who reports: the reporting person, a contact, the company's texts."""
    contact = None
    if contact_first_name or contact_last_name or contact_email:
        contact = Person(
            contact_first_name,
            contact_last_name,
            tuple(contact_email or ()),
            tuple(contact_phone or ()),
        )
    reporter = Reporter(
        Person(first_name, last_name, tuple(email), tuple(phone or ())),
        contact,
        _read_text(company_template),
        _read_text(terms_of_service),
        legal_url,
        esp_service,
    )
    reporting = _reporting()
    with user_errors():
        _echo(reporting.set_reporter(reporter, audit.cli_actor()).to_dict())


@reporter_app.command("show")
def reporter_show() -> None:
    """The reporter reports are sent as."""
    reporter = _reporting().reporter()
    if reporter is None:
        raise fail("no reporter is set (bastion report reporter set)")
    _echo(reporter.to_dict())


def _read_text(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {escape(str(path))}: {exc}") from None


def _hold_until(text: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise fail(f"--until {exc}") from None


@report_app.command("hold")
def hold(
    item: Annotated[int, typer.Argument(help="A review item.")],
    until: Annotated[str, typer.Option(help="The hold's new end (ISO 8601 with offset).")],
    reason: Annotated[str, typer.Option(help="Why (e.g. a preservation request's reference).")],
) -> None:
    """Extend an item's preservation hold (a hold is never shortened)."""
    settings = load_settings()
    with user_errors():
        queue = ReviewQueue(open_store(settings), settings)
        held = queue.extend_hold(item, audit.cli_actor(), _hold_until(until), reason)
    _echo(held.to_dict())
