"""CyberTipline reports over the API: make one from confirmed items, send or
resume it, read it, retract it, and set the reporter.

Who may report is the library's rule (``Reporting.may_report``): curators and
admins, reviewers only when configured, never a client key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from bastion.reports.tipline import DEFAULT_INCIDENT_TYPE, Person, Reporter
from bastion.service.params import RowId
from bastion.service.security import Matcher, State

router = APIRouter()


class ReportIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [12, 13], "incident_type": DEFAULT_INCIDENT_TYPE, "dry_run": True}
            ]
        }
    )

    items: list[int] = Field(min_length=1, max_length=1000)
    incident_type: str = Field(default=DEFAULT_INCIDENT_TYPE, max_length=200)
    #: None: the annotations suggested by each item's provenance (``generativeAi``).
    annotations: list[str] | None = Field(default=None, max_length=20)
    escalate: str | None = Field(default=None, max_length=2000)
    #: Answer the documents that would be sent; record and send nothing.
    dry_run: bool = False


class PersonIn(BaseModel):
    first_name: str = Field(min_length=1, max_length=200)
    last_name: str = Field(min_length=1, max_length=200)
    emails: list[str] = Field(default_factory=list, max_length=10)
    phones: list[str] = Field(default_factory=list, max_length=10)

    def person(self) -> Person:
        return Person(self.first_name, self.last_name, tuple(self.emails), tuple(self.phones))


class ReporterIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reporting": {
                        "first_name": "Ada",
                        "last_name": "Example",
                        "emails": ["trust@example.org"],
                    },
                    "legal_url": "https://example.org/legal",
                    "esp_service": "Photo sharing",
                }
            ]
        }
    )

    reporting: PersonIn
    contact: PersonIn | None = None
    company_template: str | None = Field(default=None, max_length=10000)
    terms_of_service: str | None = Field(default=None, max_length=10000)
    legal_url: str | None = Field(default=None, max_length=2048)
    esp_service: str | None = Field(default=None, max_length=200)


@router.post("/reports", tags=["reports"], summary="Report confirmed items to the CyberTipline")
def create_report(who: Matcher, state: State, body: ReportIn) -> dict[str, Any]:
    """Record a report of confirmed items (one uploader's) and send it: submit,
    upload and describe each file, finish.  If sending stops (the service is
    unavailable), the report keeps its step: ``POST /v1/reports/{id}/resume``."""
    options: dict[str, Any] = {
        "incident_type": body.incident_type,
        "annotations": body.annotations,
        "escalate": body.escalate,
    }
    if body.dry_run:
        draft = state.reports.draft(body.items, who, **options)
        return {
            "dry_run": True,
            "report_xml": draft.report_xml.decode(),
            "files": [{"item": item, "fileinfo_xml": xml.decode()} for item, xml in draft.files],
        }
    report_id = state.reports.create(body.items, who, **options)
    return state.reports.send(report_id, who)


@router.get("/reports", tags=["reports"], summary="List reports")
def list_reports(
    who: Matcher, state: State, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return state.reports.list(who, limit=limit)


@router.get("/reports/{report_id}", tags=["reports"], summary="A report, its receipt and holds")
def show_report(who: Matcher, state: State, report_id: RowId) -> dict[str, Any]:
    """The report's state, NCMEC's ids, the exact documents sent and each item's hold."""
    return state.reports.show(report_id, who)


@router.post("/reports/{report_id}/resume", tags=["reports"], summary="Resume sending a report")
def resume_report(who: Matcher, state: State, report_id: RowId) -> dict[str, Any]:
    return state.reports.send(report_id, who)


@router.post(
    "/reports/{report_id}/retract", tags=["reports"], summary="Retract an unfinished report"
)
def retract_report(who: Matcher, state: State, report_id: RowId) -> dict[str, Any]:
    return state.reports.retract(report_id, who)


@router.put("/reports/reporter", tags=["reports"], summary="Set who reports")
def set_reporter(who: Matcher, state: State, body: ReporterIn) -> dict[str, Any]:
    reporter = Reporter(
        body.reporting.person(),
        body.contact.person() if body.contact else None,
        body.company_template,
        body.terms_of_service,
        body.legal_url,
        body.esp_service,
    )
    return state.reports.set_reporter(reporter, who).to_dict()
