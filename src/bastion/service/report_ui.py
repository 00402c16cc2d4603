"""The review UI's reporting: "Report to NCMEC" after a confirmation, a
recorded EXIF reveal, and each report's page (its receipt, holds, resume).

A door over :class:`bastion.reports.reporting.Reporting`: who may report,
what is suggested and what is sent are the library's; this module renders.
A report that stops on the way (the CyberTipline unavailable, or refusing)
is shown on its page with why, and with "Resume" when it can go on.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bastion.reports.errors import CyberTipError
from bastion.service.params import RowId
from bastion.service.security import Reviewer, state_of
from bastion.service.ui import item_page_for, render_page

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.post("/items/{item_id}/exif")
def reveal_exif(request: Request, who: Reviewer, item_id: RowId) -> HTMLResponse:
    """Show the item's EXIF fields: a recorded reveal of its own (``exifViewedByEsp``)."""
    queue = state_of(request).queue
    fields = queue.exif(item_id, who)
    return item_page_for(request, who, queue.get(item_id, who), "protected", exif=fields)


@router.post("/items/{item_id}/report")
def report_item(
    request: Request,
    who: Reviewer,
    item_id: RowId,
    incident_type: Annotated[str, Form(max_length=200)],
    annotation: Annotated[list[str] | None, Form(max_length=20)] = None,
    group: Annotated[list[int] | None, Form(max_length=500)] = None,
    escalate: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    """Record and send a report of the item (and the same uploader's items chosen)."""
    reports = state_of(request).reports
    items = [item_id, *(other for other in group or [] if other != item_id)]
    report_id = reports.create(
        items, who, incident_type=incident_type, annotations=annotation or [], escalate=escalate
    )
    return _send(request, who, report_id)


def _send(request: Request, who: Reviewer, report_id: int) -> Response:
    # If it stops, the report's page says why and offers to resume.
    with contextlib.suppress(CyberTipError):
        state_of(request).reports.send(report_id, who)
    return RedirectResponse(f"/ui/reports/{report_id}", status_code=303)


@router.get("/reports")
def reports_page(request: Request, who: Reviewer) -> HTMLResponse:
    return render_page(request, "reports.html", who, reports=state_of(request).reports.list(who))


@router.get("/reports/{report_id}")
def report_page(request: Request, who: Reviewer, report_id: RowId) -> HTMLResponse:
    record = state_of(request).reports.show(report_id, who)
    return render_page(request, "report.html", who, report=record)


@router.post("/reports/{report_id}/resume")
def resume(request: Request, who: Reviewer, report_id: RowId) -> Response:
    return _send(request, who, report_id)


@router.post("/reports/{report_id}/retract")
def retract(request: Request, who: Reviewer, report_id: RowId) -> Response:
    state_of(request).reports.retract(report_id, who)
    return RedirectResponse(f"/ui/reports/{report_id}", status_code=303)
