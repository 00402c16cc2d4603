"""Reporting from the review UI in Debian's headless Chromium: a curator claims,
reveals and confirms an AI-generated upload, reveals its EXIF, sees generativeAi
preselected with why, presses "Report to NCMEC", and reads the finished report.

Driven by Playwright with the system browser, like ``tests/service/test_browser``;
the report goes to the loopback fake CyberTipline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from bastion.review.context import UploadContext
from bastion.service.doors import scan_upload
from tests.cases.evidence import a1111_png, picture
from tests.reports.conftest import REPORTER, context, credentials_file
from tests.reports.fakes.cybertip import FakeCyberTipline
from tests.service.conftest import PASSWORD
from tests.service.live import LiveServer, live_server
from tests.service.test_browser import SHOTS, chromium_page
from tests.service.test_browser import browser_server as _plain_server  # noqa: F401


@pytest.fixture
def reporting_server(
    _plain_server: LiveServer,  # noqa: F811 (skips or fails when Chromium is missing)
    tmp_path: Path,
    cybertip: FakeCyberTipline,
) -> Iterator[LiveServer]:
    settings = replace(
        _plain_server.state.settings,
        home=tmp_path / "reporting-home",
        cybertip_url=cybertip.url,
        cybertip_credentials=credentials_file(tmp_path),
    )
    with live_server(settings) as server:
        server.state.reports.set_reporter(REPORTER, "test")
        yield server


def test_confirm_then_report_to_ncmec_from_the_item_page(
    reporting_server: LiveServer, cybertip: FakeCyberTipline
) -> None:
    from playwright.sync_api import expect, sync_playwright

    state = reporting_server.state
    state.accounts.add_user("curator1", "curator", PASSWORD, actor="test")
    data = a1111_png(picture(31))
    [(_, scanned)] = scan_upload(state, data, "made.png")  # as /v1/scan reads it
    item = state.queue.enqueue(
        scanned,
        data,
        submitted_by="key:test",
        name="made.png",
        context=UploadContext.from_mapping(context("uploader-7")),
    )
    url = reporting_server.url
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright, chromium_page(playwright) as (page, errors):
        page.goto(f"{url}/ui/login")
        page.get_by_label("User name").fill("curator1")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        page.keyboard.press("n")  # claim
        expect(page).to_have_url(f"{url}/ui/items/{item.id}")
        page.keyboard.press("r")  # reveal: the report will say a person viewed it
        expect(page.get_by_role("img")).to_have_attribute("alt", "Queued image, revealed: full")
        page.get_by_label("Category").select_option("ncmec:A2")
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()

        page.goto(f"{url}/ui/items/{item.id}")
        panel = page.locator("#report-panel")
        expect(panel).to_contain_text("viewed by a person")
        generative = panel.get_by_role("checkbox", name="generativeAi")
        expect(generative).to_be_checked()  # preselected, and why
        expect(panel).to_contain_text("suggested: ")
        expect(panel.get_by_role("checkbox", name="viral")).not_to_be_checked()
        page.get_by_role("button", name="Reveal EXIF (recorded)").click()
        expect(page.locator("#exif")).to_be_visible()
        page.get_by_label("Incident type").select_option(index=0)
        page.screenshot(path=str(SHOTS / "report-panel.png"), full_page=True)

        page.get_by_role("button", name="Report to NCMEC").click()
        expect(page.locator("#report-state")).to_have_text("finished")
        remote_id = int(page.locator("#remote-id").inner_text())
        expect(page.locator("tbody")).to_contain_text("generativeAi")
        expect(page.locator("tbody")).to_contain_text(f"CyberTipline report {remote_id} (")
        page.screenshot(path=str(SHOTS / "report-finished.png"), full_page=True)

        page.goto(f"{url}/ui/items/{item.id}")
        expect(page.locator("#hold")).to_contain_text("until")
        expect(page.locator("#report-panel")).to_contain_text(f"CyberTipline report {remote_id}")

    assert not errors, errors
    remote = cybertip.reports[remote_id]
    assert remote.finished
    [sent] = remote.files.values()
    assert sent.data == data
    details = ET.fromstring(sent.fileinfo_xml or b"")
    assert details.findtext("fileViewedByEsp") == "true"
    assert details.findtext("exifViewedByEsp") == "true"
    assert details.findtext("industryClassification") == "A2"
    assert [flag.tag for flag in details.iterfind("fileAnnotations/*")] == ["generativeAi"]
    assert ET.fromstring(remote.xml).findtext("personOrUserReported/espIdentifier") == "uploader-7"
