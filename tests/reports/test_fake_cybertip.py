"""The fake CyberTipline behaves as NCMEC documents its API: the tests of Bastion's report
client are only as good as the refusals and states reproduced here.

All data is benign: random bytes for files, placeholder people at example.com.
"""

from __future__ import annotations

import hashlib
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.reports.fakes import FakeCyberTipline
from tests.reports.fakes.xsd import CHOICES, SEQUENCES

USER, PASSWORD = "esp-user", "s3cret-pass"
XML = {"Content-Type": "text/xml; charset=utf-8"}

REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<report>
  <incidentSummary>
    <incidentType>Misleading Domain Name</incidentType>
    <incidentDateTime>2024-05-01T12:00:00Z</incidentDateTime>
  </incidentSummary>
  <reporter>
    <reportingPerson>
      <firstName>Test</firstName>
      <lastName>Reporter</lastName>
      <email>reporter@example.com</email>
    </reportingPerson>
  </reporter>
</report>"""

#: A report using every element whose content the table describes.
FULL_REPORT = """<report>
  <incidentSummary>
    <incidentType>Misleading Domain Name</incidentType>
    <platform>Example platform</platform>
    <reportAnnotations><spam/></reportAnnotations>
    <incidentDateTime>2024-05-01T12:00:00.250+02:00</incidentDateTime>
    <incidentDateTimeDescription>first seen</incidentDateTimeDescription>
  </incidentSummary>
  <internetDetails>
    <webPageIncident thirdPartyHostedContent="false">
      <url>https://example.com/a</url>
      <url>https://example.com/b</url>
      <additionalInfo>two pages</additionalInfo>
    </webPageIncident>
  </internetDetails>
  <reporter>
    <reportingPerson>
      <firstName>Test</firstName>
      <lastName>Reporter</lastName>
      <email>reporter@example.com</email>
      <email>other@example.com</email>
    </reportingPerson>
    <contactPerson><firstName>Contact</firstName><email>c@example.com</email></contactPerson>
    <legalURL>https://example.com/legal</legalURL>
  </reporter>
  <personOrUserReported>
    <personOrUserReportedPerson><email>user@example.com</email></personOrUserReportedPerson>
    <espIdentifier>user-1</espIdentifier>
    <screenName>user1</screenName>
    <displayName>User One</displayName>
    <displayName>U1</displayName>
    <profileUrl>https://example.com/u/1</profileUrl>
    <ipCaptureEvent>
      <ipAddress>192.0.2.1</ipAddress>
      <eventName>Login</eventName>
      <dateTime>2024-04-30T08:00:00-05:00</dateTime>
      <possibleProxy>false</possibleProxy>
      <port>443</port>
    </ipCaptureEvent>
    <deviceId><idType>test</idType><idValue>device-1</idValue></deviceId>
    <additionalInfo>none</additionalInfo>
  </personOrUserReported>
  <additionalInfo>nothing more</additionalInfo>
</report>"""


def file_details(report_id: int | str, file_id: str, more: str = "") -> str:
    return (
        f"<fileDetails><reportId>{report_id}</reportId><fileId>{file_id}</fileId>"
        f"{more}</fileDetails>"
    )


#: Every element of fileDetails the table describes, after reportId and fileId.
FULL_FILE_DETAILS = """
  <fileName>upload.bin</fileName>
  <originalFileName>original.bin</originalFileName>
  <uploadedToEspTimestamp>2024-04-29T10:00:00Z</uploadedToEspTimestamp>
  <locationOfFile>https://example.com/f/1</locationOfFile>
  <fileViewedByEsp>true</fileViewedByEsp>
  <exifViewedByEsp>false</exifViewedByEsp>
  <publiclyAvailable>false</publiclyAvailable>
  <fileRelevance>Reported</fileRelevance>
  <potentialMeme>false</potentialMeme>
  <fileAnnotations><potentialMeme/><generativeAi/></fileAnnotations>
  <originalFileHash hashType="MD5">00000000000000000000000000000000</originalFileHash>
  <originalFileHash hashType="SHA1">0000000000000000000000000000000000000000</originalFileHash>
  <ipCaptureEvent><ipAddress>192.0.2.2</ipAddress><eventName>Upload</eventName></ipCaptureEvent>
  <deviceId><eventName>Other</eventName><dateTime>2024-04-29T10:00:00+00:00</dateTime></deviceId>
  <details type="EXIF">
    <nameValuePair><name>Make</name><value>Test camera</value></nameValuePair>
  </details>
  <additionalInfo>one</additionalInfo>
  <additionalInfo>two</additionalInfo>
"""


@pytest.fixture
def fake() -> Iterator[FakeCyberTipline]:
    with FakeCyberTipline(username=USER, password=PASSWORD) as server:
        yield server


# Clients live for the session: building one loads the CA bundle, slower than a test here.
@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(auth=(USER, PASSWORD), timeout=5) as http:
        yield http


@pytest.fixture(scope="session")
def anon() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as http:
        yield http


def answer(response: httpx.Response) -> ET.Element:
    """The response document, after checking it is one."""
    assert response.headers["content-type"] == "text/xml"
    return ET.fromstring(response.content)


def code(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    return int(answer(response).findtext("responseCode", "-1"))


def description(response: httpx.Response) -> str:
    return answer(response).findtext("responseDescription", "")


def submit(client: httpx.Client, fake: FakeCyberTipline, document: str = REPORT) -> httpx.Response:
    return client.post(f"{fake.url}/submit", content=document.encode(), headers=XML)


def open_report(client: httpx.Client, fake: FakeCyberTipline) -> int:
    response = submit(client, fake)
    assert code(response) == 0
    return int(answer(response).findtext("reportId", ""))


def upload(
    client: httpx.Client, fake: FakeCyberTipline, report_id: int, data: bytes, name: str = "f.bin"
) -> httpx.Response:
    return client.post(
        f"{fake.url}/upload", data={"id": str(report_id)}, files={"file": (name, data)}
    )


def uploaded(client: httpx.Client, fake: FakeCyberTipline, report_id: int, data: bytes) -> str:
    response = upload(client, fake, report_id, data)
    assert code(response) == 0
    return answer(response).findtext("fileId", "")


def fileinfo(client: httpx.Client, fake: FakeCyberTipline, document: str) -> httpx.Response:
    return client.post(f"{fake.url}/fileinfo", content=document.encode(), headers=XML)


def finish(client: httpx.Client, fake: FakeCyberTipline, report_id: int) -> httpx.Response:
    return client.post(f"{fake.url}/finish", data={"id": str(report_id)})


def retract(client: httpx.Client, fake: FakeCyberTipline, report_id: int) -> httpx.Response:
    return client.post(f"{fake.url}/retract", data={"id": str(report_id)})


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


# --- the happy path ------------------------------------------------------------------


def test_status_answers_success_under_ispws(fake: FakeCyberTipline, client: httpx.Client) -> None:
    assert fake.url.endswith("/ispws")
    response = client.get(f"{fake.url}/status")
    assert code(response) == 0
    root = answer(response)
    assert root.tag == "reportResponse"
    assert root.findtext("responseDescription") == "Success"


def test_a_report_is_submitted_uploaded_described_and_finished(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    response = submit(client, fake)
    assert code(response) == 0
    report_id = int(answer(response).findtext("reportId", ""))
    assert fake.submissions == 1
    # Bytes a naive multipart parser trips on: line breaks and a boundary-like line.
    first = b"\r\n--boundary\r\n\r\n" + random_bytes(4096, 1) + b"\r\n"
    second = random_bytes(300_000, 2)
    file_ids = []
    for name, data in (("first.bin", first), ("second.bin", second)):
        response = upload(client, fake, report_id, data, name)
        assert code(response) == 0
        root = answer(response)
        assert root.findtext("reportId") == str(report_id)
        assert root.findtext("hash") == hashlib.md5(data).hexdigest()
        file_ids.append(root.findtext("fileId", ""))
    assert all(re.fullmatch(r"[0-9a-f]{32}", file_id) for file_id in file_ids)
    details = [file_details(report_id, file_id, FULL_FILE_DETAILS) for file_id in file_ids]
    for document in details:
        assert code(fileinfo(client, fake, document)) == 0

    response = finish(client, fake, report_id)
    assert code(response) == 0
    root = answer(response)
    assert root.tag == "reportDoneResponse"
    assert root.findtext("reportId") == str(report_id)
    assert [element.text for element in root.findall("files/fileId")] == file_ids

    report = fake.reports[report_id]
    assert report.xml == REPORT.encode()
    assert (report.finished, report.retracted) == (True, False)
    assert list(report.files) == file_ids
    stored = list(report.files.values())
    assert [(f.name, f.data) for f in stored] == [("first.bin", first), ("second.bin", second)]
    assert [f.md5 for f in stored] == [
        hashlib.md5(first).hexdigest(),
        hashlib.md5(second).hexdigest(),
    ]
    assert [f.fileinfo_xml for f in stored] == [d.encode() for d in details]


def test_a_chunked_body_is_read_whole(fake: FakeCyberTipline, client: httpx.Client) -> None:
    """A client streaming its document sends it chunked, with no Content-Length."""
    body = REPORT.encode()
    chunks = iter([body[:100], body[100:101], body[101:]])
    response = client.post(f"{fake.url}/submit", content=chunks, headers=XML)
    assert fake.requests[-1].headers["transfer-encoding"] == "chunked"
    assert code(response) == 0
    report_id = int(answer(response).findtext("reportId", ""))
    assert fake.reports[report_id].xml == body
    assert code(client.get(f"{fake.url}/status")) == 0  # the connection is still in step


def test_a_report_using_every_described_element_is_accepted(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    """The validator refuses what it should and no more: a rich, valid report passes."""
    assert code(submit(client, fake, FULL_REPORT)) == 0


def test_retract_withdraws_a_report(fake: FakeCyberTipline, client: httpx.Client) -> None:
    report_id = open_report(client, fake)
    response = retract(client, fake, report_id)
    assert code(response) == 0
    assert answer(response).findtext("reportId") == str(report_id)
    assert fake.reports[report_id].retracted
    assert not fake.reports[report_id].finished


def test_ids_are_unique_across_reports(fake: FakeCyberTipline, client: httpx.Client) -> None:
    report_ids = [open_report(client, fake) for _ in range(5)]
    file_ids = [uploaded(client, fake, rid, b"same bytes") for rid in report_ids for _ in "ab"]
    assert len(set(report_ids)) == 5
    assert all(100_000 <= rid <= 9_999_999 for rid in report_ids)  # 6 or 7 digits
    assert len(set(file_ids)) == 10
    assert fake.submissions == 5


def test_concurrent_submissions_get_distinct_ids(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    """The server answers on threads: ids and counts must not race."""
    with ThreadPoolExecutor(8) as pool:
        report_ids = list(pool.map(lambda _: open_report(client, fake), range(40)))
    assert len(set(report_ids)) == 40
    assert fake.submissions == 40
    assert set(fake.reports) == set(report_ids)


# --- authentication ------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, (USER, "wrong"), ("someone", PASSWORD)])
def test_missing_or_wrong_credentials_are_refused(
    fake: FakeCyberTipline, anon: httpx.Client, auth: tuple[str, str] | None
) -> None:
    for response in (
        anon.get(f"{fake.url}/status", auth=auth),
        anon.post(f"{fake.url}/submit", content=REPORT.encode(), headers=XML, auth=auth),
        anon.post(f"{fake.url}/finish", data={"id": "1"}, auth=auth),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        root = answer(response)
        assert (root.tag, root.findtext("responseCode")) == ("reportResponse", "2000")
    assert fake.reports == {}
    assert fake.submissions == 0


# --- validation ----------------------------------------------------------------------


def _swap(old: str, new: str) -> str:
    assert old in REPORT
    return REPORT.replace(old, new)


_SUMMARY = REPORT[REPORT.index("  <incidentSummary>") : REPORT.index("  <reporter>")]
_EMAIL = "<email>reporter@example.com</email>"


@pytest.mark.parametrize(
    ("document", "named"),
    [
        pytest.param(
            _swap(_SUMMARY, "").replace("</reporter>\n", "</reporter>\n" + _SUMMARY),
            "incidentSummary",
            id="reporter-before-incidentSummary",
        ),
        pytest.param(
            _swap("<reporter>", "<reporter><colour>blue</colour>"), "colour", id="unknown"
        ),
        pytest.param(_swap("Misleading Domain Name", "Something Else"), "incidentType", id="enum"),
        pytest.param(
            _swap("2024-05-01T12:00:00Z", "2024-05-01T12:00:00"),
            "incidentDateTime",
            id="naive-dateTime",
        ),
        pytest.param(
            _swap("2024-05-01T12:00:00Z", "2024-13-01T12:00:00Z"),
            "incidentDateTime",
            id="impossible-dateTime",
        ),
        pytest.param(_swap(_SUMMARY, ""), "incidentSummary", id="missing-required"),
        pytest.param(_swap(_SUMMARY, _SUMMARY * 2), "incidentSummary", id="repeated"),
        pytest.param(_swap(_EMAIL, ""), "email", id="reportingPerson-without-email"),
        pytest.param(_swap(_EMAIL, "<email> </email>"), "email", id="empty-email"),
        pytest.param(
            _swap("<lastName>Reporter</lastName>", ""), "lastName", id="reportingPerson-no-lastName"
        ),
        pytest.param(
            _swap("<incidentSummary>", "<incidentSummary>text"), "incidentSummary", id="text"
        ),
        pytest.param(
            _swap(
                "</incidentType>",
                "</incidentType><reportAnnotations><spam>yes</spam></reportAnnotations>",
            ),
            "spam",
            id="flag-with-a-value",
        ),
        pytest.param(
            _swap(
                "  <reporter>",
                "<internetDetails><webPageIncident/><emailIncident/></internetDetails><reporter>",
            ),
            "internetDetails",
            id="choice-of-two",
        ),
        pytest.param(
            _swap(
                "  <reporter>",
                '<internetDetails><webPageIncident thirdPartyHostedContent="yes"'
                "/></internetDetails><reporter>",
            ),
            "thirdPartyHostedContent",
            id="attribute-value",
        ),
        pytest.param(
            FULL_REPORT.replace("<port>443</port>", "<port>65536</port>"), "port", id="port"
        ),
        pytest.param(
            FULL_REPORT.replace("<eventName>Login</eventName>", "<eventName>Logon</eventName>"),
            "eventName",
            id="eventName",
        ),
        pytest.param(
            FULL_REPORT.replace("<possibleProxy>false", "<possibleProxy>no"),
            "possibleProxy",
            id="boolean",
        ),
        pytest.param(_swap("<report>", '<report xmlns="urn:x">'), "<report>", id="namespace"),
        pytest.param(file_details(1, "x"), "<report>", id="wrong-root"),
    ],
)
def test_a_report_off_the_schema_is_4100_naming_the_element(
    fake: FakeCyberTipline, client: httpx.Client, document: str, named: str
) -> None:
    response = submit(client, fake, document)
    assert code(response) == 4100
    assert named in description(response)
    assert fake.reports == {}
    assert fake.submissions == 0


@pytest.mark.parametrize(
    ("more", "named"),
    [
        pytest.param("<fileName>x</fileName><fileId>{f}</fileId>", "fileId", id="fileName-first"),
        pytest.param("<originalFileHash>00</originalFileHash>", "hashType", id="no-hashType"),
        pytest.param('<originalFileHash hashType="">00</originalFileHash>', "hashType", id="empty"),
        pytest.param("<fileViewedByEsp>1</fileViewedByEsp>", "fileViewedByEsp", id="boolean"),
        pytest.param("<fileRelevance>Other</fileRelevance>", "fileRelevance", id="relevance"),
        pytest.param(
            "<industryClassification>Z9</industryClassification>",
            "industryClassification",
            id="classification",
        ),
        pytest.param(
            "<uploadedToEspTimestamp>2024-04-29 10:00:00</uploadedToEspTimestamp>",
            "uploadedToEspTimestamp",
            id="naive-dateTime",
        ),
        pytest.param(
            "<fileAnnotations><viral>true</viral></fileAnnotations>", "viral", id="flag-value"
        ),
        pytest.param("<details type='XMP'/>", "attribute type", id="details-type"),
        pytest.param(
            "<details><nameValuePair><value>v</value></nameValuePair></details>",
            "<name>",
            id="pair-without-name",
        ),
        pytest.param("<ipCaptureEvent/>", "ipAddress", id="ip-event-without-address"),
        pytest.param(
            "<ipCaptureEvent><ipAddress>192.0.2.3</ipAddress></ipCaptureEvent>" * 2,
            "ipCaptureEvent",
            id="second-ip-event",
        ),
    ],
)
def test_file_details_off_the_schema_are_4100_naming_the_element(
    fake: FakeCyberTipline, client: httpx.Client, more: str, named: str
) -> None:
    report_id = open_report(client, fake)
    file_id = uploaded(client, fake, report_id, b"benign")
    if "{f}" in more:  # fileName before fileId: the document's own fileId goes after it
        document = (
            f"<fileDetails><reportId>{report_id}</reportId>{more.format(f=file_id)}</fileDetails>"
        )
    else:
        document = file_details(report_id, file_id, more)
    response = fileinfo(client, fake, document)
    assert code(response) == 4100
    assert named in description(response)
    assert fake.reports[report_id].files[file_id].fileinfo_xml is None


def test_file_details_with_a_non_integer_report_id_are_4100(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    response = fileinfo(client, fake, file_details("abc", "0" * 32))
    assert code(response) == 4100
    assert "reportId" in description(response)


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"",
        REPORT.encode()[:-10],
        b'<!DOCTYPE r [<!ENTITY e "x">]><report>&e;</report>',  # refused by defusedxml
    ],
    ids=["text", "empty", "truncated", "entity"],
)
def test_a_body_that_is_not_xml_is_4110(
    fake: FakeCyberTipline, client: httpx.Client, body: bytes
) -> None:
    report_id = open_report(client, fake)
    for endpoint in ("submit", "fileinfo"):
        response = client.post(f"{fake.url}/{endpoint}", content=body, headers=XML)
        assert code(response) == 4110
    assert fake.submissions == 1
    assert list(fake.reports) == [report_id]


def test_a_document_not_sent_as_text_xml_is_an_invalid_request(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    response = client.post(f"{fake.url}/submit", content=REPORT.encode())
    assert code(response) == 4000
    assert fake.submissions == 0


# --- state ---------------------------------------------------------------------------


def every_change(
    client: httpx.Client, fake: FakeCyberTipline, report_id: int, file_id: str
) -> dict[str, httpx.Response]:
    """One call of each endpoint that changes a report."""
    return {
        "upload": upload(client, fake, report_id, b"more"),
        "fileinfo": fileinfo(client, fake, file_details(report_id, file_id)),
        "finish": finish(client, fake, report_id),
        "retract": retract(client, fake, report_id),
    }


def test_an_unknown_report_is_5001(fake: FakeCyberTipline, client: httpx.Client) -> None:
    report_id = open_report(client, fake)
    file_id = uploaded(client, fake, report_id, b"one")
    responses = every_change(client, fake, report_id + 1000, file_id)
    assert {name: code(response) for name, response in responses.items()} == dict.fromkeys(
        responses, 5001
    )
    assert list(fake.reports) == [report_id]


def test_a_file_not_uploaded_to_the_report_is_5002(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    report_id, other = open_report(client, fake), open_report(client, fake)
    others_file = uploaded(client, fake, other, b"theirs")
    for file_id in ("0" * 32, others_file):
        assert code(fileinfo(client, fake, file_details(report_id, file_id))) == 5002
    assert fake.reports[other].files[others_file].fileinfo_xml is None


@pytest.mark.parametrize(("close", "expected"), [(finish, 5102), (retract, 5101)])
def test_a_closed_report_refuses_every_change(
    fake: FakeCyberTipline, client: httpx.Client, close, expected: int
) -> None:
    report_id = open_report(client, fake)
    file_id = uploaded(client, fake, report_id, b"one")
    assert code(close(client, fake, report_id)) == 0
    responses = every_change(client, fake, report_id, file_id)
    assert {name: code(response) for name, response in responses.items()} == dict.fromkeys(
        responses, expected
    )
    report = fake.reports[report_id]
    assert list(report.files) == [file_id]
    assert report.files[file_id].fileinfo_xml is None
    assert (report.finished, report.retracted) == (expected == 5102, expected == 5101)


def test_an_upload_without_a_file_is_4200(fake: FakeCyberTipline, client: httpx.Client) -> None:
    report_id = open_report(client, fake)
    url = f"{fake.url}/upload"
    responses = [
        # The id alone, as multipart (a dummy part makes httpx send multipart).
        client.post(url, data={"id": str(report_id)}, files={"other": ("o.bin", b"x")}),
        # "file" as a plain field, not a file.
        client.post(url, files={"id": (None, str(report_id)), "file": (None, b"not a file")}),
        # A form's empty file input.
        client.post(url, data={"id": str(report_id)}, files={"file": ("", b"")}),
        # Not multipart at all.
        client.post(url, data={"id": str(report_id)}),
    ]
    assert [code(response) for response in responses] == [4200] * 4
    assert fake.reports[report_id].files == {}


def test_an_upload_without_an_id_is_an_invalid_request(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    response = client.post(f"{fake.url}/upload", files={"file": ("f.bin", b"x")})
    assert code(response) == 4000


def test_an_unknown_path_is_not_found(fake: FakeCyberTipline, client: httpx.Client) -> None:
    response = client.get(f"{fake.url}/reports")
    assert response.status_code == 404
    assert answer(response).findtext("responseCode") == "1210"


# --- faults --------------------------------------------------------------------------


def test_respond_next_is_spent_in_order_and_changes_nothing(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    report_id = open_report(client, fake)
    fake.respond_next("upload", 1000, times=2)
    fake.respond_next("upload", 4000)
    fake.respond_next("submit", 1100)
    codes = [code(upload(client, fake, report_id, b"data")) for _ in range(3)]
    assert codes == [1000, 1000, 4000]
    assert fake.reports[report_id].files == {}
    # Other endpoints' queues are their own: finish is unaffected, submit spends its own.
    assert code(submit(client, fake)) == 1100
    assert fake.submissions == 1
    assert len(fake.reports) == 1
    file_id = uploaded(client, fake, report_id, b"data")
    assert list(fake.reports[report_id].files) == [file_id]

    fake.respond_next("finish", 1000)
    assert code(finish(client, fake, report_id)) == 1000
    assert not fake.reports[report_id].finished
    assert code(finish(client, fake, report_id)) == 0


def test_respond_next_is_not_spent_by_unauthenticated_calls(
    fake: FakeCyberTipline, client: httpx.Client, anon: httpx.Client
) -> None:
    fake.respond_next("status", 1000)
    assert anon.get(f"{fake.url}/status").status_code == 401
    assert code(client.get(f"{fake.url}/status")) == 1000
    assert code(client.get(f"{fake.url}/status")) == 0


def test_respond_next_refuses_an_unknown_endpoint(fake: FakeCyberTipline) -> None:
    with pytest.raises(ValueError, match="uplaod"):
        fake.respond_next("uplaod", 1000)


def test_fail_next_answers_an_http_status_and_spares_status(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    fake.fail_next(503, retry_after=0)
    assert client.get(f"{fake.url}/status").status_code == 200
    response = submit(client, fake)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "0"
    assert fake.submissions == 0
    assert code(submit(client, fake)) == 0


# --- the schema table ----------------------------------------------------------------


def test_the_schema_table_is_well_formed() -> None:
    """A child listed twice or a max below its min would make the table lie about the XSD."""
    for element, sequence in SEQUENCES.items():
        names = [name for name, _, _ in sequence]
        assert len(names) == len(set(names)), element
        for name, low, high in sequence:
            assert low >= 0, (element, name)
            assert high is None or high >= max(low, 1), (element, name)
    for element, options in CHOICES.items():
        assert element not in SEQUENCES
        assert len(options) == len(set(options))


def test_hold_next_keeps_a_call_waiting_then_drops_or_releases_it(
    fake: FakeCyberTipline, client: httpx.Client
) -> None:
    report_id = open_report(client, fake)
    with ThreadPoolExecutor(1) as pool:
        hold = fake.hold_next("upload")
        waiting = pool.submit(upload, client, fake, report_id, b"dropped")
        assert hold.reached.wait(10)
        assert not waiting.done()
        hold.drop()
        assert code(waiting.result(10)) == 1000
        assert fake.reports[report_id].files == {}

        hold = fake.hold_next("upload")
        waiting = pool.submit(upload, client, fake, report_id, b"released")
        assert hold.reached.wait(10)
        hold.release()
        assert code(waiting.result(10)) == 0
    assert [f.data for f in fake.reports[report_id].files.values()] == [b"released"]
    # Spent: the next call goes straight through.
    assert code(upload(client, fake, report_id, b"again")) == 0
