"""NCMEC's CyberTipline XML: the ``<report>`` and ``<fileDetails>`` documents.

NCMEC's validator refuses a document whose children are out of the XSD's
order (responseCode 4100), so the order is data (``SEQUENCES``), checked by
a test against a table of the XSD, and every element is made by one
function that hands its children to ``_element``, which places them in that
order and refuses a name the table does not know.  Text goes through
ElementTree (escaped, never spliced), with characters XML 1.0 cannot carry
removed; times are ISO 8601 with their UTC offset.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from bastion.reports.tipline import (
    FILE_ANNOTATIONS,
    FileReport,
    Person,
    ReportedUser,
    Reporter,
    TipReport,
)
from bastion.review.context import IpCapture

#: Each element's children in the order NCMEC's XSD sequence gives them
#: (only the children Bastion sends; a subsequence of the XSD's).
SEQUENCES: dict[str, tuple[str, ...]] = {
    "report": (
        "incidentSummary",
        "internetDetails",
        "reporter",
        "personOrUserReported",
        "additionalInfo",
    ),
    "incidentSummary": (
        "incidentType",
        "escalateToHighPriority",
        "incidentDateTime",
        "incidentDateTimeDescription",
    ),
    "internetDetails": ("webPageIncident",),
    "webPageIncident": ("url", "additionalInfo"),
    "reporter": (
        "reportingPerson",
        "contactPerson",
        "companyTemplate",
        "termsOfService",
        "legalURL",
    ),
    "reportingPerson": ("firstName", "lastName", "phone", "email"),
    "contactPerson": ("firstName", "lastName", "phone", "email"),
    "personOrUserReported": (
        "personOrUserReportedPerson",
        "espIdentifier",
        "espService",
        "screenName",
        "ipCaptureEvent",
        "additionalInfo",
    ),
    "personOrUserReportedPerson": ("firstName", "lastName", "phone", "email"),
    "ipCaptureEvent": ("ipAddress", "eventName", "dateTime", "port"),
    "fileDetails": (
        "reportId",
        "fileId",
        "fileName",
        "originalFileName",
        "uploadedToEspTimestamp",
        "locationOfFile",
        "fileViewedByEsp",
        "exifViewedByEsp",
        "publiclyAvailable",
        "fileRelevance",
        "fileAnnotations",
        "industryClassification",
        "originalFileHash",
        "ipCaptureEvent",
        "details",
        "additionalInfo",
    ),
    "fileAnnotations": FILE_ANNOTATIONS,
    "details": ("nameValuePair",),
    "nameValuePair": ("name", "value"),
}

Children = Mapping[str, ET.Element | Iterable[ET.Element] | None]

#: Characters XML 1.0 cannot hold at all (escaping does not help).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def report_document(report: TipReport) -> bytes:
    """The ``<report>`` sent to ``/submit``."""
    return _serialise(_report(report))


def file_details_document(report_id: int, file_id: str, file: FileReport) -> bytes:
    """The ``<fileDetails>`` sent to ``/fileinfo`` for an uploaded file."""
    return _serialise(_file_details(report_id, file_id, file))


# --- the report -----------------------------------------------------------------------


def _report(report: TipReport) -> ET.Element:
    return _element(
        "report",
        {
            "incidentSummary": _incident_summary(report),
            "internetDetails": _internet_details(report.urls),
            "reporter": _reporter(report.reporter),
            "personOrUserReported": _person_or_user_reported(report.reported),
            "additionalInfo": _text("additionalInfo", report.additional_info),
        },
    )


def _incident_summary(report: TipReport) -> ET.Element:
    return _element(
        "incidentSummary",
        {
            "incidentType": _text("incidentType", report.incident_type),
            "escalateToHighPriority": _text("escalateToHighPriority", report.escalate),
            "incidentDateTime": _moment("incidentDateTime", report.incident_at),
        },
    )


def _internet_details(urls: tuple[str, ...]) -> ET.Element | None:
    if not urls:
        return None
    return _element("internetDetails", {"webPageIncident": _web_page_incident(urls)})


def _web_page_incident(urls: tuple[str, ...]) -> ET.Element:
    element = _element("webPageIncident", {"url": _texts("url", urls)})
    # The files were uploaded to and hosted by the reporting platform itself.
    element.set("thirdPartyHostedContent", "false")
    return element


def _reporter(reporter: Reporter) -> ET.Element:
    return _element(
        "reporter",
        {
            "reportingPerson": _person("reportingPerson", reporter.reporting),
            "contactPerson": _person("contactPerson", reporter.contact),
            "companyTemplate": _text("companyTemplate", reporter.company_template),
            "termsOfService": _text("termsOfService", reporter.terms_of_service),
            "legalURL": _text("legalURL", reporter.legal_url),
        },
    )


def _person(name: str, person: Person | None) -> ET.Element | None:
    if person is None:
        return None
    return _element(
        name,
        {
            "firstName": _text("firstName", person.first_name),
            "lastName": _text("lastName", person.last_name),
            "phone": _texts("phone", person.phones),
            "email": _texts("email", person.emails),
        },
    )


def _person_or_user_reported(user: ReportedUser | None) -> ET.Element | None:
    if user is None:
        return None
    person = Person(emails=user.emails) if user.emails else None
    return _element(
        "personOrUserReported",
        {
            "personOrUserReportedPerson": _person("personOrUserReportedPerson", person),
            "espIdentifier": _text("espIdentifier", user.esp_identifier),
            "espService": _text("espService", user.esp_service),
            "screenName": _text("screenName", user.screen_name),
            "ipCaptureEvent": [_ip_capture_event(event) for event in user.ip_events],
        },
    )


def _ip_capture_event(event: IpCapture) -> ET.Element:
    return _element(
        "ipCaptureEvent",
        {
            "ipAddress": _leaf("ipAddress", event.address),
            "eventName": _text("eventName", event.event),
            "dateTime": _moment("dateTime", event.at),
            "port": _text("port", None if event.port is None else str(event.port)),
        },
    )


# --- a file's details -----------------------------------------------------------------


def _file_details(report_id: int, file_id: str, file: FileReport) -> ET.Element:
    return _element(
        "fileDetails",
        {
            "reportId": _leaf("reportId", str(report_id)),
            "fileId": _leaf("fileId", file_id),
            "fileName": _text("fileName", file.file_name),
            "originalFileName": _text("originalFileName", file.original_file_name),
            "uploadedToEspTimestamp": _moment("uploadedToEspTimestamp", file.uploaded_at),
            "locationOfFile": _text("locationOfFile", file.location),
            "fileViewedByEsp": _flag("fileViewedByEsp", file.viewed),
            "exifViewedByEsp": _flag("exifViewedByEsp", file.exif_viewed),
            "publiclyAvailable": _flag("publiclyAvailable", file.public),
            "fileRelevance": _leaf("fileRelevance", "Reported"),
            "fileAnnotations": _file_annotations(file.annotations),
            "industryClassification": _text("industryClassification", file.classification),
            "originalFileHash": [_file_hash(kind, value) for kind, value in file.hashes],
            "ipCaptureEvent": _ip_capture_event(file.ip_event) if file.ip_event else None,
            "details": _details(file.exif),
            "additionalInfo": _texts("additionalInfo", file.additional_info),
        },
    )


def _file_annotations(annotations: tuple[str, ...]) -> ET.Element | None:
    if not annotations:
        return None
    return _element("fileAnnotations", {name: ET.Element(name) for name in annotations})


def _file_hash(kind: str, value: str) -> ET.Element:
    element = _leaf("originalFileHash", value)
    element.set("hashType", kind)
    return element


def _details(pairs: tuple[tuple[str, str], ...]) -> ET.Element | None:
    if not pairs:
        return None
    element = _element(
        "details", {"nameValuePair": [_name_value_pair(name, value) for name, value in pairs]}
    )
    element.set("type", "EXIF")
    return element


def _name_value_pair(name: str, value: str) -> ET.Element:
    return _element("nameValuePair", {"name": _leaf("name", name), "value": _leaf("value", value)})


# --- the parts every element is made of ------------------------------------------------


def _element(name: str, children: Children) -> ET.Element:
    """``name`` with its children placed in the XSD's order (``SEQUENCES``)."""
    order = SEQUENCES[name]
    unknown = [child for child in children if child not in order]
    if unknown:
        raise ValueError(f"<{name}> has no child {unknown[0]!r} in NCMEC's schema")
    element = ET.Element(name)
    for child in order:
        value = children.get(child)
        if value is None:
            continue
        element.extend([value] if isinstance(value, ET.Element) else list(value))
    return element


def _leaf(name: str, text: str) -> ET.Element:
    element = ET.Element(name)
    element.text = _carried(text)
    return element


def _carried(text: str) -> str:
    """``text`` as an XML reader will read it back: without the characters XML
    cannot hold, and with line ends as ``\n`` (a reader turns a bare ``\r``
    into ``\n`` anyway; saying so here keeps the XML sent equal to what NCMEC reads)."""
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _text(name: str, text: str | None) -> ET.Element | None:
    """An optional leaf: absent when there is nothing to say (no text, or only
    whitespace and characters XML cannot hold), never an empty element."""
    if text is None or not _carried(text).strip():
        return None
    return _leaf(name, text)


def _texts(name: str, texts: Iterable[str]) -> list[ET.Element]:
    return [leaf for text in texts if (leaf := _text(name, text)) is not None]


def _flag(name: str, value: bool | None) -> ET.Element | None:
    return None if value is None else _leaf(name, "true" if value else "false")


def _moment(name: str, moment: datetime | None) -> ET.Element | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return _leaf(name, aware.isoformat(timespec="seconds"))


def _serialise(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
