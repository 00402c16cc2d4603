"""The review UI in Debian's headless Chromium: log in, claim, reveal, choose, decide, undo.

Driven by Playwright with the system browser (no browser download); the
run saves a screenshot of the item page before and after the reveal.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bastion.config import Settings
from bastion.pipeline import ScanItem, scan_item
from bastion.review.vault import new_key
from bastion.samples import encode, photo_like
from tests.service.conftest import PASSWORD
from tests.service.live import LiveServer, live_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Set by .ci/run: a missing browser fails the run instead of skipping.
REQUIRE_BROWSER = os.environ.get("BASTION_REQUIRE_BROWSER") == "1"
#: Where the screenshots go (kept for people to look at; not committed).
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
#: Flags for a browser that must not reach the network (see the machine notes).
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page(playwright: Any) -> Iterator[tuple[Any, list[str]]]:
    """A page of Debian's Chromium, kept off the network, and the errors it logs
    (console errors and uncaught exceptions): a page the CSP broke says so."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, errors
    finally:
        browser.close()


@pytest.fixture
def browser_server(tmp_path: Path) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (make setup-browser installs it)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    settings = Settings(home=tmp_path / "home", media_keys=new_key())
    with live_server(settings) as server:
        yield server


def test_log_in_claim_reveal_decide(browser_server: LiveServer) -> None:
    from playwright.sync_api import expect, sync_playwright

    state = browser_server.state
    state.accounts.add_user("reviewer1", "reviewer", PASSWORD, actor="test")
    data = encode(photo_like(640, 480, seed=7))
    scanned = scan_item(ScanItem("upload.jpg", "upload", data=data), state.index, state.settings)
    item = state.queue.enqueue(scanned, data, submitted_by="key:test", name="upload.jpg")
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright, chromium_page(playwright) as (page, errors):
        page.goto(f"{browser_server.url}/ui/")
        expect(page).to_have_url(f"{browser_server.url}/ui/login")
        page.get_by_label("User name").fill("reviewer1")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()

        page.keyboard.press("n")  # claim, by keyboard
        expect(page).to_have_url(f"{browser_server.url}/ui/items/{item.id}")
        image = page.get_by_role("img")
        expect(image).to_have_attribute("alt", "Queued image, blurred and in greyscale")
        expect(page.locator("#reveal-count")).to_contain_text("Revealed this session: 0")
        page.screenshot(path=str(SHOTS / "review-protected.png"))

        page.keyboard.press("r")  # reveal, deliberately
        expect(image).to_have_attribute("alt", "Queued image, revealed: full")
        expect(page.locator("#reveal-count")).to_contain_text("Revealed this session: 1")
        page.screenshot(path=str(SHOTS / "review-revealed.png"))

        category = page.get_by_label("Category")
        expect(category).to_have_value("")  # nothing preselected: the reviewer chooses
        page.keyboard.press("1")  # the browser refuses to confirm without a category
        expect(page).to_have_url(f"{browser_server.url}/ui/items/{item.id}")
        category.select_option("projectvic:2")
        category.select_option("ncmec:B2")
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
        expect(page.locator("#count-decided")).to_have_text("1")
        expect(page.locator(".done")).to_contain_text(f"Item {item.id}: confirmed ncmec:B2")
        undo = page.get_by_role("button", name="Undo")
        expect(undo).to_be_visible()
        page.screenshot(path=str(SHOTS / "review-decided.png"))

    assert not errors, errors  # the CSP blocked nothing the page needs
    assert (SHOTS / "review-revealed.png").stat().st_size > 10_000
    curator = state.accounts.add_user("curator1", "curator", PASSWORD, actor="test")
    from bastion.accounts import Principal, Role

    report = state.queue.report(item.id, Principal("user", curator.id, "curator1", Role.CURATOR))
    assert report["fileViewedByEsp"] is True
    assert report["category"] == "ncmec:B2"
    assert [e["action"] for e in report["events"]] == ["claim", "view", "reveal", "confirmed"]
