"""A loopback stand-in for NCMEC's CyberTipline reporting API (``/ispws``), for the tests of
Bastion's report client.

It is written from NCMEC's public documentation of the API, and reproduces what a client
must get right to file a report there:

* every request carries HTTP Basic credentials; without them, HTTP 401 and code 2000;
* a report is opened by ``POST /submit`` (a ``<report>`` document), its files are sent one
  by one to ``/upload`` (``multipart/form-data``: ``id`` and ``file``) and described by
  ``/fileinfo`` (a ``<fileDetails>`` document), and it is closed by ``/finish`` or withdrawn
  by ``/retract``;
* documents are checked against the schema as NCMEC's validator does (``xsd.py``): a child
  out of order, unknown, missing or repeated, or a value not allowed, is code 4100 naming
  the element; a body that is not XML at all is 4110;
* errors other than authentication come back as HTTP 200: only ``responseCode`` says what
  happened, so a client that looks at the status alone files nothing and thinks it did.

Every answer is a ``reportResponse`` document, except a successful ``/finish``, which is a
``reportDoneResponse`` listing the report's files.  A refused ``/finish`` answers with a
``reportResponse`` (which has room for the description of the error), so a client reads
``responseCode`` whatever the document's root.

Faults: ``fail_next`` (from ``FakeServer``) answers the next requests to the POST endpoints
with an HTTP status; ``respond_next`` answers the next calls to one endpoint with HTTP 200
and a chosen ``responseCode``, changing nothing, as the real service does when it fails
(1000) or refuses (4000).  ``hold_next`` keeps the next call to one endpoint waiting, so a
test can kill the client while it waits: the call is then dropped, as if it never arrived.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value
from typing import Final
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml
import defusedxml.ElementTree

from tests.exchanges.fakes.http import FakeServer, Request, Response
from tests.reports.fakes.xsd import Invalid, validate

SUCCESS = 0
SERVER_ERROR = 1000
SAVE_FAILED = 1100
UPLOAD_FAILED = 1110
FILE_UPLOAD_FAILED = 1111
RESOURCE_NOT_FOUND = 1210
AUTHENTICATION_REQUIRED = 2000
NOT_AUTHORIZED = 3000
INVALID_REQUEST = 4000
VALIDATION_FAILED = 4100
MALFORMED_XML = 4110
MALFORMED_FILE = 4200
REPORT_DOES_NOT_EXIST = 5001
FILE_DOES_NOT_EXIST = 5002
REPORT_RETRACTED = 5101
REPORT_FINISHED = 5102

#: Each ``responseCode`` and the ``responseDescription`` NCMEC documents for it.
DESCRIPTIONS: Final = {
    SUCCESS: "Success",
    SERVER_ERROR: "Server error",
    SAVE_FAILED: "Save failed",
    UPLOAD_FAILED: "Upload failed",
    FILE_UPLOAD_FAILED: "File upload failed",
    RESOURCE_NOT_FOUND: "Resource not found",
    AUTHENTICATION_REQUIRED: "Authentication required",
    NOT_AUTHORIZED: "Not authorized",
    INVALID_REQUEST: "Invalid request",
    VALIDATION_FAILED: "Validation failed",
    MALFORMED_XML: "Malformed XML submittal",
    MALFORMED_FILE: "Malformed file submittal",
    REPORT_DOES_NOT_EXIST: "Report does not exist",
    FILE_DOES_NOT_EXIST: "File does not exist",
    REPORT_RETRACTED: "Report already retracted",
    REPORT_FINISHED: "Report already finished",
}

#: Endpoint name -> the HTTP method it answers.
ENDPOINTS: Final = {
    "status": "GET",
    "submit": "POST",
    "upload": "POST",
    "fileinfo": "POST",
    "finish": "POST",
    "retract": "POST",
}

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass
class FakeFile:
    """A file uploaded to a report: its name as sent, its bytes and their MD5 (hex)."""

    name: str
    data: bytes
    md5: str
    fileinfo_xml: bytes | None = None  # the last /fileinfo document naming it, raw


@dataclass
class FakeReport:
    """A report opened by ``/submit``: the raw document, and its files by fileId in upload
    order."""

    id: int
    xml: bytes
    files: dict[str, FakeFile] = field(default_factory=dict)
    finished: bool = False
    retracted: bool = False


class Hold:
    """The next call to an endpoint, kept waiting.

    ``reached`` is set when the call arrives; ``drop()`` ends the wait without the call
    having any effect (the client was killed), ``release()`` lets it through.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.reached = threading.Event()
        self._released = threading.Event()
        self.dropped = False

    def release(self) -> None:
        self._released.set()

    def drop(self) -> None:
        self.dropped = True
        self._released.set()

    def wait(self, timeout: float = 60.0) -> None:
        """Block the serving thread until released or dropped (dropped after ``timeout``)."""
        self.reached.set()
        if not self._released.wait(timeout):
            self.dropped = True


class _Refused(Exception):
    """A request the API answers with an error code (HTTP 200)."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


class FakeCyberTipline(FakeServer):
    """``with FakeCyberTipline() as fake:`` serves the API under ``fake.url`` (which ends in
    ``/ispws``, as ``https://exttest.cybertip.org/ispws`` does).

    ``fake.reports`` holds every report opened, by id; ``fake.submissions`` counts the
    successful ``/submit`` calls.  Report ids start at a random 6- or 7-digit number, so a
    client cannot get away with assuming one; report and file ids are never reused.
    """

    base_path = "/ispws"
    data_paths = frozenset(
        f"/ispws/{name}" for name, method in ENDPOINTS.items() if method == "POST"
    )

    def __init__(self, username: str = "user", password: str = "secret") -> None:
        super().__init__()
        self.username = username
        self.password = password
        self.reports: dict[int, FakeReport] = {}
        self.submissions = 0
        self._next_report_id = random.randrange(100_000, 9_000_000)
        self._responses: dict[str, deque[int]] = {name: deque() for name in ENDPOINTS}
        self._holds: dict[str, Hold] = {}

    # --- faults ----------------------------------------------------------------------

    def respond_next(self, endpoint: str, code: int, times: int = 1) -> None:
        """The next ``times`` calls to ``endpoint`` ("upload", "finish" ...) answer HTTP 200
        with ``responseCode`` ``code`` and do nothing else.

        Spent only by authenticated calls that no ``fail_next`` fault answered first.
        """
        if endpoint not in ENDPOINTS:
            raise ValueError(f"no endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        with self._lock:
            self._responses[endpoint].extend([code] * times)

    def hold_next(self, endpoint: str) -> Hold:
        """Keep the next authenticated call to ``endpoint`` waiting until the test releases
        or drops it (see ``Hold``)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"no endpoint {endpoint!r}; one of {', '.join(ENDPOINTS)}")
        hold = Hold(endpoint)
        with self._lock:
            self._holds[endpoint] = hold
        return hold

    # --- serving ---------------------------------------------------------------------

    def authorized(self, request: Request) -> Response | None:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if request.headers.get("authorization") == f"Basic {expected}":
            return None
        return _answer(
            AUTHENTICATION_REQUIRED, status=401, headers={"WWW-Authenticate": 'Basic realm="ispws"'}
        )

    def route(self, request: Request) -> Response:
        prefix = self.base_path + "/"
        endpoint = request.path[len(prefix) :] if request.path.startswith(prefix) else ""
        if endpoint not in ENDPOINTS:
            return _answer(RESOURCE_NOT_FOUND, status=404)
        if request.method != ENDPOINTS[endpoint]:
            return _answer(INVALID_REQUEST, f"{endpoint} takes {ENDPOINTS[endpoint]}", status=405)
        with self._lock:
            hold = self._holds.pop(endpoint, None)
        if hold is not None:
            hold.wait()
            if hold.dropped:
                return _answer(SERVER_ERROR, "the call was dropped")
        with self._lock:
            injected = self._responses[endpoint]
            if injected:
                return _answer(injected.popleft())
        handlers = {
            "status": self._status,
            "submit": self._submit,
            "upload": self._upload,
            "fileinfo": self._fileinfo,
            "finish": self._finish,
            "retract": self._retract,
        }
        try:
            return handlers[endpoint](request)
        except _Refused as refused:
            return _answer(refused.code, refused.detail)

    def _status(self, request: Request) -> Response:
        return _answer(SUCCESS)

    def _submit(self, request: Request) -> Response:
        _parse(request, "report")
        with self._lock:
            report_id = self._next_report_id
            self._next_report_id += 1
            self.reports[report_id] = FakeReport(report_id, request.body)
            self.submissions += 1
        return _answer(SUCCESS, report_id=report_id)

    def _upload(self, request: Request) -> Response:
        fields = _multipart(request)
        report_id = _report_id(
            fields["id"][1].decode("ascii", "replace") if "id" in fields else None
        )
        file = fields.get("file")
        with self._lock:
            report = self._open_report(report_id)
            name, data = file or (None, b"")
            # A plain field is no file, nor is a form's empty file input (no name, no bytes).
            if name is None or (not name and not data):
                raise _Refused(MALFORMED_FILE, "no file in the field 'file'")
            file_id = uuid.uuid4().hex
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            report.files[file_id] = FakeFile(name, data, md5)
        return _answer(SUCCESS, report_id=report_id, file_id=file_id, md5=md5)

    def _fileinfo(self, request: Request) -> Response:
        root = _parse(request, "fileDetails")
        report_id = int(root.findtext("reportId", "").strip())
        file_id = root.findtext("fileId", "").strip()
        with self._lock:
            report = self._open_report(report_id)
            file = report.files.get(file_id)
            if file is None:
                raise _Refused(FILE_DOES_NOT_EXIST, f"no file {file_id!r} in report {report_id}")
            file.fileinfo_xml = request.body
        return _answer(SUCCESS, report_id=report_id)

    def _finish(self, request: Request) -> Response:
        report_id = _report_id(_form(request).get("id"))
        with self._lock:
            report = self._open_report(report_id)
            report.finished = True
            file_ids = list(report.files)
        files = "".join(f"<fileId>{escape(file_id)}</fileId>" for file_id in file_ids)
        return _xml(
            200,
            "<reportDoneResponse>"
            f"<responseCode>{SUCCESS}</responseCode>"
            f"<reportId>{report_id}</reportId>"
            f"<files>{files}</files>"
            "</reportDoneResponse>",
        )

    def _retract(self, request: Request) -> Response:
        report_id = _report_id(_form(request).get("id"))
        with self._lock:
            self._open_report(report_id).retracted = True
        return _answer(SUCCESS, report_id=report_id)

    def _open_report(self, report_id: int) -> FakeReport:
        """The report, if it may still change; the caller holds the lock."""
        report = self.reports.get(report_id)
        if report is None:
            raise _Refused(REPORT_DOES_NOT_EXIST, f"no report {report_id}")
        if report.retracted:
            raise _Refused(REPORT_RETRACTED, f"report {report_id} was retracted")
        if report.finished:
            raise _Refused(REPORT_FINISHED, f"report {report_id} was finished")
        return report


# --- reading requests ----------------------------------------------------------------


def _content_type(request: Request) -> Message:
    header = Message()
    header["Content-Type"] = request.headers.get("content-type", "")
    return header


def _parse(request: Request, root_name: str) -> Element:
    """The body as a ``root_name`` document that follows the schema, else refused."""
    if _content_type(request).get_content_type() != "text/xml":
        raise _Refused(INVALID_REQUEST, "the body must be sent as text/xml")
    try:
        root: Element = defusedxml.ElementTree.fromstring(request.body)
    except (ParseError, defusedxml.DefusedXmlException) as exc:
        raise _Refused(MALFORMED_XML, str(exc)) from None
    try:
        validate(root, root_name)
    except Invalid as exc:
        raise _Refused(VALIDATION_FAILED, str(exc)) from None
    return root


def _report_id(value: str | None) -> int:
    if value is None or not value.strip().isdigit():
        raise _Refused(INVALID_REQUEST, "id must name a report")
    return int(value)


def _form(request: Request) -> dict[str, str]:
    if _content_type(request).get_content_type() != "application/x-www-form-urlencoded":
        raise _Refused(INVALID_REQUEST, "the body must be a form")
    form = parse_qs(request.body.decode("ascii", "replace"))
    return {name: values[0] for name, values in form.items()}


def _multipart(request: Request) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename or None, bytes).

    Parsed on bytes, so a file arrives exactly as sent; anything malformed is code 4200.
    """
    content_type = _content_type(request)
    boundary = content_type.get_param("boundary")
    if content_type.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        raise _Refused(MALFORMED_FILE, "the body must be multipart/form-data")
    delimiter = b"\r\n--" + boundary.encode("ascii", "replace")
    # The first delimiter has no CRLF before it; the last one is followed by "--".
    sections = (b"\r\n" + request.body).split(delimiter)
    if len(sections) < 2 or not sections[-1].startswith(b"--"):
        raise _Refused(MALFORMED_FILE, "the multipart body is not closed")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for section in sections[1:-1]:
        _, newline, part = section.partition(b"\r\n")  # transport padding after the delimiter
        head, blank, content = part.partition(b"\r\n\r\n")
        if not newline or not blank:
            raise _Refused(MALFORMED_FILE, "a part without headers")
        headers = HeaderParser().parsestr(head.decode("utf-8", "replace") + "\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if headers.get_content_disposition() != "form-data" or name is None:
            raise _Refused(MALFORMED_FILE, "a part that is not a form field")
        name = collapse_rfc2231_value(name)
        if name in fields:
            raise _Refused(MALFORMED_FILE, f"the field {name!r} is sent twice")
        fields[name] = (headers.get_filename(), content)
    return fields


# --- writing answers -----------------------------------------------------------------


def _answer(
    code: int,
    detail: str | None = None,
    *,
    report_id: int | None = None,
    file_id: str | None = None,
    md5: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A ``reportResponse`` document; ``detail`` is added to the code's description."""
    description = DESCRIPTIONS.get(code, "Error")
    if detail:
        description += f": {detail}"
    parts = [
        "<reportResponse>",
        f"<responseCode>{code}</responseCode>",
        f"<responseDescription>{escape(description)}</responseDescription>",
    ]
    if report_id is not None:
        parts.append(f"<reportId>{report_id}</reportId>")
    if file_id is not None:
        parts.append(f"<fileId>{escape(file_id)}</fileId>")
    if md5 is not None:
        parts.append(f"<hash>{md5}</hash>")
    parts.append("</reportResponse>")
    return _xml(status, "".join(parts), headers)


def _xml(status: int, document: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, (_XML_DECLARATION + document).encode(), "text/xml", headers or {})
