"""A confirmed item becomes a CyberTipline report: built from review records,
sent step by step, retried, resumed, retracted, receipted and preserved."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from bastion.hashing import hash_bytes
from bastion.store.models import ReviewUpload
from tests.cases.evidence import a1111_png, camera_exif, jpeg, picture
from tests.provenance.test_c2pa_signing import make_ca
from tests.reports.conftest import Reporters, context
from tests.reports.fakes.cybertip import FakeCyberTipline
from tests.service.conftest import image_bytes


def _report(reporters: Reporters, items: list[int], **body: Any) -> Any:
    answer = reporters.curator.post(
        "/v1/reports", json={"items": items, **body}, headers={"X-CSRF-Token": reporters.token}
    )
    return answer


def _sent(reporters: Reporters, items: list[int], **body: Any) -> dict[str, Any]:
    answer = _report(reporters, items, **body)
    assert answer.status_code == 200, answer.text
    record: dict[str, Any] = answer.json()
    return record


def _details(xml: bytes | str) -> dict[str, Any]:
    """A ``fileDetails`` document as {child: text or [texts]}."""
    root = ET.fromstring(xml)
    found: dict[str, Any] = {}
    for child in root:
        found.setdefault(child.tag, []).append(child)
    return found


def test_a_report_says_what_the_review_records_say(
    reporters: Reporters, cybertip: FakeCyberTipline
) -> None:
    seen = image_bytes(101)
    camera = jpeg(picture(9), camera_exif(make="Placeholder Cam"))
    unseen = image_bytes(102)
    first = reporters.item(seen, upload_context=context(), reveal=True)
    second = reporters.item(unseen, upload_context=context(), reveal=False)
    third = reporters.item(camera, upload_context=context(), reveal=False, exif=True)

    record = _sent(reporters, [first, second, third])

    assert record["state"] == "finished"
    remote = cybertip.reports[record["remote_id"]]
    assert remote.finished
    assert cybertip.submissions == 1
    # The exact documents sent are kept, and are what NCMEC received.
    assert record["report_xml"].encode() == remote.xml
    sent = list(remote.files.values())
    assert [f.data for f in sent] == [seen, unseen, camera]
    assert [f["file_id"] for f in record["files"]] == list(remote.files)
    assert [f["md5"] for f in record["files"]] == [
        hashlib.md5(d).hexdigest() for d in (seen, unseen, camera)
    ]
    for file, kept in zip(sent, record["files"], strict=True):
        assert file.fileinfo_xml is not None
        assert file.fileinfo_xml == kept["fileinfo_xml"].encode()

    seen_details, unseen_details, camera_details = (_details(f.fileinfo_xml or b"") for f in sent)
    # fileViewedByEsp is true exactly when a person revealed the file.
    assert seen_details["fileViewedByEsp"][0].text == "true"
    assert unseen_details["fileViewedByEsp"][0].text == "false"
    assert camera_details["fileViewedByEsp"][0].text == "false"
    # exifViewedByEsp, and the EXIF pairs, only when a person revealed the EXIF.
    assert seen_details["exifViewedByEsp"][0].text == "false"
    assert "details" not in seen_details
    assert camera_details["exifViewedByEsp"][0].text == "true"
    pairs = {
        p.findtext("name"): p.findtext("value")
        for p in camera_details["details"][0].iter("nameValuePair")
    }
    assert pairs["make"] == "Placeholder Cam"
    assert pairs["serial"] == "SN-0001"

    hashes = {h.get("hashType"): h.text for h in seen_details["originalFileHash"]}
    digest = hash_bytes(seen)
    assert hashes["MD5"] == digest.md5
    assert hashes["SHA1"] == digest.sha1
    assert hashes["PDQ"] == digest.pdq
    assert seen_details["industryClassification"][0].text == "A1"
    assert seen_details["fileRelevance"][0].text == "Reported"
    assert seen_details["publiclyAvailable"][0].text == "true"
    assert seen_details["locationOfFile"][0].text == "https://example.org/p/user-1"
    assert seen_details["uploadedToEspTimestamp"][0].text == "2026-11-30T08:00:01+00:00"
    assert seen_details["originalFileName"][0].text == "upload.jpg"
    upload_event = seen_details["ipCaptureEvent"][0]
    assert upload_event.findtext("ipAddress") == "192.0.2.10"
    assert upload_event.findtext("eventName") == "Upload"
    assert upload_event.findtext("port") == "443"

    report = ET.fromstring(remote.xml)
    assert report.findtext("incidentSummary/incidentType") == (
        "Child Pornography (possession, manufacture, and distribution)"
    )
    assert report.findtext("incidentSummary/incidentDateTime") == "2026-11-30T08:00:01+00:00"
    assert report.findtext("internetDetails/webPageIncident/url") == "https://example.org/p/user-1"
    assert report.findtext("reporter/reportingPerson/email") == "reports@example.org"
    assert report.findtext("reporter/legalURL") == "https://example.org/legal"
    user = report.find("personOrUserReported")
    assert user is not None
    assert user.findtext("espIdentifier") == "user-1"
    assert user.findtext("screenName") == "user-1-name"
    assert user.findtext("espService") == "Example Photos"
    assert user.findtext("personOrUserReportedPerson/email") == "user-1@example.org"
    assert [e.findtext("ipAddress") for e in user.iter("ipCaptureEvent")] == [
        "192.0.2.10",
        "2001:db8::1",
    ]
    assert [e.findtext("dateTime") for e in user.iter("ipCaptureEvent")] == [
        "2026-11-30T08:00:00+00:00",
        "2026-11-30T07:55:00+01:00",
    ]

    # Preserved for a year from the finish, with the reason shown on the item.
    for file in record["files"]:
        until = datetime.fromisoformat(file["hold_until"])
        assert until - datetime.fromisoformat(record["finished_at"]) == timedelta(days=365)
        assert f"CyberTipline report {record['remote_id']}" in file["hold_reason"]
    item = reporters.curator.get(f"/v1/review/items/{first}").json()
    assert item["hold_until"] == record["files"][0]["hold_until"]


def test_generative_ai_is_suggested_by_provenance(
    reporters: Reporters, cybertip: FakeCyberTipline, tmp_path: Any
) -> None:
    ca = make_ca("Reports Test")
    signed = reporters.item(
        ca.sign("trainedAlgorithmicMedia", jpeg(picture(21))), upload_context=context()
    )
    declared = reporters.item(a1111_png(picture(22)), upload_context=context(), name="x.png")
    plain = reporters.item(jpeg(picture(23)), upload_context=context())

    suggestions = reporters.service.state.reports.suggestions
    assert "ai-generated" in suggestions(signed)["generativeAi"]
    assert "ai-generated" in suggestions(declared)["generativeAi"]
    assert suggestions(plain) == {}

    record = _sent(reporters, [signed, declared, plain])
    annotated = [
        [flag.tag for flag in ET.fromstring(f.fileinfo_xml or b"").iterfind("fileAnnotations/*")]
        for f in cybertip.reports[record["remote_id"]].files.values()
    ]
    assert annotated == [["generativeAi"], ["generativeAi"], []]
    assert [f["annotations"] for f in record["files"]] == [["generativeAi"], ["generativeAi"], []]


def test_the_reviewer_s_annotations_replace_the_suggested_ones(reporters: Reporters) -> None:
    item = reporters.item(a1111_png(picture(24)), upload_context=context(), name="x.png")
    answer = _report(reporters, [item], annotations=["viral", "potentialMeme"], dry_run=True)
    assert answer.status_code == 200, answer.text
    details = ET.fromstring(answer.json()["files"][0]["fileinfo_xml"])
    # In the schema's order, whatever order they were given in.
    assert [flag.tag for flag in details.iterfind("fileAnnotations/*")] == [
        "potentialMeme",
        "viral",
    ]
    refused = _report(reporters, [item], annotations=["not-a-flag"], dry_run=True)
    assert refused.status_code == 400
    assert "not-a-flag" in refused.json()["message"]


def test_a_server_error_at_upload_is_retried(
    reporters: Reporters, cybertip: FakeCyberTipline
) -> None:
    item = reporters.item(upload_context=context())
    cybertip.respond_next("upload", 1000)
    record = _sent(reporters, [item])
    assert record["state"] == "finished"
    assert len(cybertip.reports[record["remote_id"]].files) == 1


def test_a_report_stopped_by_server_errors_resumes_without_duplicates(
    reporters: Reporters, cybertip: FakeCyberTipline
) -> None:
    items = [reporters.item(upload_context=context()) for _ in range(2)]
    cybertip.respond_next("upload", 1000, times=4)  # the first file's 3 attempts, then one more
    answer = _report(reporters, items)
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "cybertip-unavailable"
    listed = reporters.curator.get("/v1/reports").json()
    assert [r["state"] for r in listed] == ["submitted"]
    report_id = listed[0]["id"]
    assert "1000" in listed[0]["error"]

    resumed = reporters.curator.post(
        f"/v1/reports/{report_id}/resume", headers={"X-CSRF-Token": reporters.token}
    )
    assert resumed.status_code == 200, resumed.text
    record = resumed.json()
    assert record["state"] == "finished"
    assert record["error"] is None
    assert cybertip.submissions == 1
    remote = cybertip.reports[record["remote_id"]]
    assert len(remote.files) == 2
    assert all(f.fileinfo_xml is not None for f in remote.files.values())


def test_a_permanent_refusal_retracts_the_report(
    reporters: Reporters, cybertip: FakeCyberTipline
) -> None:
    item = reporters.item(upload_context=context())
    cybertip.respond_next("fileinfo", 4000)
    answer = _report(reporters, [item])
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "cybertip-refused"
    [record] = reporters.curator.get("/v1/reports").json()
    assert record["state"] == "retracted"
    assert "4000" in record["error"]
    assert cybertip.reports[record["remote_id"]].retracted
    # A retracted report does not count: the item can be reported again.
    again = _sent(reporters, [item])
    assert again["state"] == "finished"
    assert again["id"] != record["id"]


def test_an_item_is_reported_once(reporters: Reporters) -> None:
    item = reporters.item(upload_context=context())
    first = _sent(reporters, [item])
    answer = _report(reporters, [item])
    assert answer.status_code == 400
    assert f"already in report {first['id']} (finished)" in answer.json()["message"]


def test_only_confirmed_items_of_one_uploader_make_a_report(reporters: Reporters) -> None:
    mine = reporters.item(upload_context=context("user-1"))
    also_mine = reporters.item(upload_context=context("user-1"))
    theirs = reporters.item(upload_context=context("user-2"))
    assert reporters.service.state.reports.same_uploader(mine) == [also_mine]
    answer = _report(reporters, [mine, theirs], dry_run=True)
    assert answer.status_code == 400
    assert "different users" in answer.json()["message"]

    queued = reporters.service.client.post(
        "/v1/scan",
        files={"file": ("x.jpg", image_bytes(555), "image/jpeg")},
        data={"enqueue_all": "true"},
        headers=reporters.service.auth("client"),
    ).json()["queued"]
    answer = _report(reporters, [queued], dry_run=True)
    assert answer.status_code == 400
    assert "not confirmed" in answer.json()["message"]


def test_who_may_report(reporters: Reporters, cybertip: FakeCyberTipline) -> None:
    service = reporters.service
    item = reporters.item(upload_context=context())
    body = {"items": [item], "dry_run": True}
    refused = service.client.post("/v1/reports", json=body, headers=service.auth("client"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "report-forbidden"

    service.add_user("reviewer1", "reviewer")
    reviewer, token = service.log_in("reviewer1")
    as_reviewer = reviewer.post("/v1/reports", json=body, headers={"X-CSRF-Token": token})
    assert as_reviewer.status_code == 403
    assert "BASTION_REVIEWERS_REPORT" in as_reviewer.json()["message"]

    allowed = service.client.post("/v1/reports", json=body, headers=service.auth("admin"))
    assert allowed.status_code == 200, allowed.text
    assert cybertip.submissions == 0  # a dry run sends nothing


def test_reviewers_report_when_configured(report_settings: Any, cybertip: FakeCyberTipline) -> None:
    from tests.reports.conftest import REPORTER, fast_client
    from tests.service.conftest import start_service

    settings = replace(report_settings, reviewers_report=1)
    for service in start_service(settings):
        service.state.reports.client_factory = fast_client(settings)
        service.state.reports.set_reporter(REPORTER, "test")
        service.add_user("reviewer1", "reviewer")
        reviewer, token = service.log_in("reviewer1")
        reporters = Reporters(service, reviewer, token)
        item = reporters.item(upload_context=context())
        record = _sent(reporters, [item])
        assert record["state"] == "finished"
        assert record["created_by"] == "user:reviewer1"


def test_preservation_holds_block_the_purge(reporters: Reporters) -> None:
    queue = reporters.service.state.queue
    # Confirmed items kept for 30 days, so a report's year-long hold is what keeps one.
    queue.settings = replace(queue.settings, retention_confirmed_days=30)
    item = reporters.item(upload_context=context())
    unreported = reporters.item(upload_context=context())
    record = _sent(reporters, [item])
    finished = datetime.fromisoformat(record["finished_at"])

    assert queue.purge(now=finished + timedelta(days=29)) == []
    assert queue.purge(now=finished + timedelta(days=31)) == [unreported]
    assert queue._fresh(item).media_state == "kept"
    # The context went with the media of the purged item, and stays with the held one.
    with reporters.service.state.store.sessions() as session:
        blobs = {
            upload.item_id: upload.context_blob
            for upload in session.query(ReviewUpload).filter(
                ReviewUpload.item_id.in_([item, unreported])
            )
        }
    assert blobs[unreported] is None
    assert blobs[item] is not None

    # A person may extend the hold, never shorten it.
    later = finished + timedelta(days=500)
    extended = reporters.service.client.post(
        f"/v1/review/items/{item}/hold-until",
        json={"until": later.isoformat(), "reason": "preservation request 42"},
        headers=reporters.service.auth("curator"),
    )
    assert extended.status_code == 200, extended.text
    assert extended.json()["hold_reason"] == "preservation request 42"
    shorter = reporters.service.client.post(
        f"/v1/review/items/{item}/hold-until",
        json={"until": (finished + timedelta(days=10)).isoformat(), "reason": "no"},
        headers=reporters.service.auth("curator"),
    )
    assert shorter.status_code == 400
    assert queue.purge(now=finished + timedelta(days=400)) == []
    assert queue.purge(now=later + timedelta(seconds=1)) == [item]


def test_retracting_an_unfinished_report(reporters: Reporters, cybertip: FakeCyberTipline) -> None:
    item = reporters.item(upload_context=context())
    cybertip.respond_next("upload", 1000, times=3)
    assert _report(reporters, [item]).status_code == 503
    [record] = reporters.curator.get("/v1/reports").json()
    retracted = reporters.curator.post(
        f"/v1/reports/{record['id']}/retract", headers={"X-CSRF-Token": reporters.token}
    )
    assert retracted.status_code == 200, retracted.text
    assert retracted.json()["state"] == "retracted"
    assert cybertip.reports[record["remote_id"]].retracted


@pytest.mark.parametrize("bad", [{"uploader": {"nick": "x"}}, {"ip_events": [{"address": "no"}]}])
def test_scan_refuses_a_context_it_cannot_use(reporters: Reporters, bad: dict[str, Any]) -> None:
    import json

    answer = reporters.service.client.post(
        "/v1/scan",
        files={"file": ("x.jpg", image_bytes(1), "image/jpeg")},
        data={"enqueue_all": "true", "context": json.dumps(bad)},
        headers=reporters.service.auth("client"),
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "upload-context"
