"""The CyberTipline's reporting web service (``/ispws``), one method per step.

Every answer is an XML ``reportResponse`` (or ``reportDoneResponse``) whose
``responseCode`` 0 means success.  Server-side failures (HTTP 5xx and 429,
a dropped connection, codes 1000-1300) are retried with exponential
backoff; anything else is a permanent refusal, raised at once.  Errors say
what the server answered, never the credentials.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from defusedxml import ElementTree as SafeET

from bastion.reports.errors import CyberTipError, CyberTipRefused, CyberTipUnavailable

#: NCMEC's test environment: where reports go unless production is configured.
TEST_ENDPOINT = "https://exttest.cybertip.org/ispws"

#: Response codes of a server-side failure (server error, save, upload or update failed).
TRANSIENT_CODES = frozenset({1000, 1100, 1110, 1111, 1300})
#: Statuses worth asking again.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
REPORT_ALREADY_RETRACTED = 5101
REPORT_ALREADY_FINISHED = 5102


@dataclass(frozen=True, slots=True)
class Answer:
    """A parsed ``reportResponse`` / ``reportDoneResponse``."""

    code: int
    description: str
    report_id: int | None
    file_id: str | None
    md5: str | None
    file_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Uploaded:
    file_id: str
    md5: str


@dataclass(slots=True)
class CyberTipClient:
    base_url: str
    credentials: tuple[str, str] = field(repr=False)
    attempts: int = 6
    backoff: float = 1.0
    max_wait: float = 60.0
    timeout: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    client: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))

    def status(self) -> None:
        """Whether the service answers and takes the credentials."""
        self._call("GET", "/status")

    def submit(self, report_xml: bytes) -> int:
        """Open a report; NCMEC's ``reportId``."""
        answer = self._call("POST", "/submit", content=report_xml, xml=True)
        if answer.report_id is None:
            raise CyberTipError("the CyberTipline accepted the report but sent no reportId")
        return answer.report_id

    def upload(self, report_id: int, name: str, data: bytes) -> Uploaded:
        """Upload one file to an open report; its ``fileId`` and the MD5 NCMEC received,
        checked against the file's own."""
        answer = self._call(
            "POST", "/upload", data={"id": str(report_id)}, files={"file": (name, data)}
        )
        if not answer.file_id:
            raise CyberTipError("the CyberTipline accepted the upload but sent no fileId")
        expected = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if answer.md5 is not None and answer.md5.lower() != expected:
            raise CyberTipRefused(
                f"the CyberTipline received file {answer.file_id} with MD5 {answer.md5}, "
                f"not the file's {expected} (damaged in transit)"
            )
        return Uploaded(answer.file_id, expected)

    def fileinfo(self, details_xml: bytes) -> None:
        self._call("POST", "/fileinfo", content=details_xml, xml=True)

    def finish(self, report_id: int) -> tuple[str, ...]:
        """Close the report; the file ids NCMEC lists (empty if it was finished before)."""
        answer = self._call(
            "POST", "/finish", data={"id": str(report_id)}, accept=REPORT_ALREADY_FINISHED
        )
        return answer.file_ids

    def retract(self, report_id: int) -> None:
        self._call("POST", "/retract", data={"id": str(report_id)}, accept=REPORT_ALREADY_RETRACTED)

    def close(self) -> None:
        self.client.close()

    # --- one call, retried ---------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        xml: bool = False,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        accept: int | None = None,
    ) -> Answer:
        url = self.base_url.rstrip("/") + path
        headers = {"Content-Type": "text/xml; charset=utf-8"} if xml else None
        last = "no attempt"
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(min(self.max_wait, self.backoff * float(2 ** (attempt - 1))))
            try:
                response = self.client.request(
                    method,
                    url,
                    content=content,
                    data=data,
                    files=files,
                    headers=headers,
                    auth=self.credentials,
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                last = f"cannot reach {url}: {type(exc).__name__}"
                continue
            if response.status_code in (401, 403):
                raise CyberTipRefused(
                    f"{url} refused the credentials (HTTP {response.status_code})", 2000
                )
            if response.status_code in TRANSIENT_STATUSES:
                last = f"{url} answered HTTP {response.status_code}"
                continue
            answer = _answer(url, response)
            if answer.code == 0 or answer.code == accept:
                return answer
            said = f"{url} answered responseCode {answer.code}"
            if answer.description:
                said += f" ({answer.description})"
            if answer.code in TRANSIENT_CODES:
                last = said
                continue
            raise CyberTipRefused(said, answer.code)
        raise CyberTipUnavailable(f"{last} (after {self.attempts} attempts)")


def _answer(url: str, response: httpx.Response) -> Answer:
    if response.status_code != 200:
        raise CyberTipRefused(f"{url} answered HTTP {response.status_code}")
    try:
        root = SafeET.fromstring(response.content)
    except SafeET.ParseError:
        raise CyberTipRefused(f"{url} answered with a document that is not XML") from None
    code = root.findtext("responseCode")
    if code is None or not code.strip().lstrip("-").isdigit():
        raise CyberTipRefused(f"{url} answered without a responseCode")
    report_id = root.findtext("reportId")
    return Answer(
        int(code),
        (root.findtext("responseDescription") or "").strip(),
        int(report_id) if report_id and report_id.strip().isdigit() else None,
        (root.findtext("fileId") or "").strip() or None,
        (root.findtext("hash") or "").strip() or None,
        tuple((e.text or "").strip() for e in root.iter("fileId") if (e.text or "").strip()),
    )
