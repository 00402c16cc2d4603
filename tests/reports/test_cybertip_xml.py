"""The report builder's element order is the XSD's, and no text breaks a document.

``tests/reports/fakes/xsd.py`` is the table of NCMEC's schema the fake
CyberTipline validates with; the builder's own order (``SEQUENCES``) must
agree with it element by element, and any text a platform or reporter may
send must come out escaped, in order and valid.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.reports import cybertip_xml
from bastion.reports.tipline import (
    FILE_ANNOTATIONS,
    INCIDENT_TYPES,
    INDUSTRY_CLASSES,
    FileReport,
    Person,
    ReportedUser,
    Reporter,
    TipReport,
)
from bastion.review.context import IP_EVENTS, IpCapture
from tests.reports.fakes import xsd


def _is_subsequence(ours: tuple[str, ...], theirs: list[str]) -> bool:
    remaining = iter(theirs)
    return all(name in remaining for name in ours)


@pytest.mark.parametrize("element", sorted(cybertip_xml.SEQUENCES))
def test_each_elements_children_follow_the_xsd_sequence(element: str) -> None:
    ours = cybertip_xml.SEQUENCES[element]
    if element in xsd.CHOICES:
        assert set(ours) <= set(xsd.CHOICES[element]), element
        return
    assert element in xsd.SEQUENCES, f"<{element}> is not in the table of the XSD"
    theirs = [name for name, _, _ in xsd.SEQUENCES[element]]
    assert _is_subsequence(ours, theirs), (element, ours, theirs)


def test_the_builder_refuses_a_child_the_schema_does_not_know() -> None:
    with pytest.raises(ValueError, match="no child 'victimName'"):
        cybertip_xml._element("report", {"victimName": ET.Element("victimName")})


# --- any text, any shape: the documents stay valid ------------------------------------

#: Any text, with the characters that matter most spelled out: markup, quotes,
#: control characters XML cannot hold, and whitespace alone.
_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["<b>&amp;", "\"quoted\" & 'single'", "\x00\x01\x1b", "   ", "]]>", "\ufffe"]),
)
_OPTIONAL = st.none() | _TEXT
_MOMENT = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)
_IP_EVENT = st.builds(
    IpCapture,
    st.ip_addresses().map(str),
    st.sampled_from(IP_EVENTS),
    st.none() | _MOMENT,
    st.none() | st.integers(0, 65535),
)
_PERSON = st.builds(
    Person,
    _TEXT,
    _TEXT,
    st.lists(_TEXT, max_size=2).map(tuple),
    st.lists(_TEXT, max_size=2).map(tuple),
)
_FILE = st.builds(
    FileReport,
    item_id=st.integers(1, 10**9),
    file_name=_TEXT,
    original_file_name=_OPTIONAL,
    uploaded_at=st.none() | _MOMENT,
    location=_OPTIONAL,
    viewed=st.booleans(),
    exif_viewed=st.booleans(),
    public=st.none() | st.booleans(),
    annotations=st.lists(st.sampled_from(FILE_ANNOTATIONS), unique=True).map(tuple),
    classification=st.none() | st.sampled_from(INDUSTRY_CLASSES),
    hashes=st.lists(st.tuples(st.sampled_from(["MD5", "SHA1", "PDQ"]), _TEXT), max_size=3).map(
        tuple
    ),
    ip_event=st.none() | _IP_EVENT,
    exif=st.lists(st.tuples(_TEXT, _TEXT), max_size=3).map(tuple),
    additional_info=st.lists(_TEXT, max_size=2).map(tuple),
)
_REPORT = st.builds(
    TipReport,
    incident_type=st.sampled_from(INCIDENT_TYPES),
    incident_at=_MOMENT,
    reporter=st.builds(
        Reporter,
        st.builds(
            Person,
            st.just("Pat"),
            st.just("Placeholder"),
            st.just(("reports@example.org",)),
            st.lists(_TEXT, max_size=2).map(tuple),
        ),
        st.none() | _PERSON,
        _OPTIONAL,
        _OPTIONAL,
        _OPTIONAL,
        _OPTIONAL,
    ),
    urls=st.lists(_TEXT, max_size=3).map(tuple),
    reported=st.none()
    | st.builds(
        ReportedUser,
        _OPTIONAL,
        _OPTIONAL,
        st.lists(_TEXT, max_size=2).map(tuple),
        st.lists(_IP_EVENT, max_size=3).map(tuple),
        _OPTIONAL,
    ),
    escalate=_OPTIONAL,
    additional_info=_OPTIONAL,
)


def _texts(root: ET.Element) -> list[str]:
    return [text for element in root.iter() for text in (element.text, element.tail) if text]


def _kept(text: str | None) -> str:
    """What of ``text`` an XML document carries: no characters XML 1.0 forbids, ``\n`` line ends."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\t\n" or (c >= " " and c not in "\ufffe\uffff"))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(report=_REPORT)
def test_any_report_text_gives_a_valid_escaped_report(report: TipReport) -> None:
    document = cybertip_xml.report_document(report)

    root = ET.fromstring(document)
    xsd.validate(root, "report")
    reported = root.find("personOrUserReported")
    if report.reported is not None and _kept(report.reported.screen_name).strip():
        assert reported is not None
        assert reported.findtext("screenName") == _kept(report.reported.screen_name)
    urls = [url.text for url in root.iterfind("internetDetails/webPageIncident/url")]
    assert urls == [_kept(url) for url in report.urls if _kept(url).strip()]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    file=_FILE,
    report_id=st.integers(1, 10**12),
    file_id=st.text("0123456789abcdef", min_size=1),
)
def test_any_file_text_gives_valid_escaped_file_details(
    file: FileReport, report_id: int, file_id: str
) -> None:
    document = cybertip_xml.file_details_document(report_id, file_id, file)

    root = ET.fromstring(document)
    xsd.validate(root, "fileDetails")
    name = _kept(file.file_name)
    assert root.findtext("fileName") == (name if name.strip() else None)
    assert root.findtext("fileViewedByEsp") == ("true" if file.viewed else "false")
    flags = root.find("fileAnnotations")
    assert [flag.tag for flag in flags or []] == [
        name for name in FILE_ANNOTATIONS if name in file.annotations
    ]


def test_markup_in_text_is_escaped_not_spliced() -> None:
    file = FileReport(1, 'a</fileName><fileViewedByEsp>true</fileViewedByEsp>&"x".jpg')

    document = cybertip_xml.file_details_document(7, "f1", file)

    assert b"&lt;/fileName&gt;" in document
    root = ET.fromstring(document)
    assert root.findtext("fileName") == file.file_name
    assert root.findtext("fileViewedByEsp") == "false"
    assert len(root.findall("fileViewedByEsp")) == 1


def test_the_builder_s_vocabularies_are_the_schema_s() -> None:
    assert INCIDENT_TYPES == xsd.INCIDENT_TYPES
    assert IP_EVENTS == xsd.EVENT_NAMES
    assert INDUSTRY_CLASSES == xsd.INDUSTRY_CLASSIFICATIONS
    assert tuple(name for name, _, _ in xsd.SEQUENCES["fileAnnotations"]) == FILE_ANNOTATIONS
