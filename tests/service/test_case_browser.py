"""The case UI in Debian's headless Chromium: log in, open the case and its
first cluster, claim, reveal, categorise with a digit key, undo - by keyboard.

Driven by Playwright with the system browser, like ``test_browser``; the run
saves screenshots of the grid and of the cluster before and after the reveal
and the decision.
"""

from __future__ import annotations

import re
from pathlib import Path

from bastion.cases.reading import CaseReader
from bastion.config import Settings
from tests.cases.conftest import ca  # noqa: F401 (a fixture)
from tests.cases.evidence import bank_evidence, new_case, scan_into_case, write_evidence
from tests.provenance.test_c2pa_signing import SigningCA, _pem
from tests.service.conftest import PASSWORD
from tests.service.live import LiveServer
from tests.service.test_browser import SHOTS, browser_server, chromium_page  # noqa: F401


def _build_case(server: LiveServer, folder: Path, authority: SigningCA) -> str:
    """A case of the benign evidence of ``tests.cases``, built in the server's store."""
    anchors = folder / "anchors.pem"
    anchors.write_bytes(_pem(authority.root))
    settings = Settings(
        home=server.state.settings.home,
        database_url=server.state.settings.database_url,
        trust_anchors=anchors,
    )
    store = server.state.store
    evidence = write_evidence(folder / "evidence", authority)
    bank_evidence(store, evidence)
    case = new_case(store, folder)
    scan_into_case(store, settings, case, [evidence.folder])
    return case.name


def test_open_a_cluster_claim_reveal_categorise_undo(
    browser_server: LiveServer,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    ca: SigningCA,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    state = browser_server.state
    state.accounts.add_user("analyst1", "reviewer", PASSWORD, actor="test")
    name = _build_case(browser_server, tmp_path, ca)
    first = CaseReader(state.store).page(name, limit=1).clusters[0]
    home = f"{browser_server.url}/ui/cases/{name}"
    SHOTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright, chromium_page(playwright) as (page, errors):
        page.goto(f"{browser_server.url}/ui/cases")
        page.get_by_label("User name").fill("analyst1")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.get_by_role("link", name="Cases", exact=True).click()
        page.get_by_role("link", name=name).click()
        expect(page).to_have_url(home)
        expect(page.get_by_role("heading", name=f"Case {name}")).to_be_visible()
        expect(page.locator("#undecided-1")).to_have_text("2")  # the counts, loaded after
        thumbnail = page.get_by_alt_text(f"Cluster {first.id}, blurred and in greyscale")
        expect(thumbnail).to_have_js_property("complete", True)
        assert thumbnail.evaluate("image => image.naturalWidth") > 0  # the server's JPEG
        page.screenshot(path=str(SHOTS / "case-grid.png"), full_page=True)

        page.keyboard.press("j")  # the first cluster, by keyboard
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{home}/clusters/{first.id}")
        expect(page.locator("#cluster-state")).to_contain_text("Status: open")

        page.keyboard.press("c")  # claim
        expect(page.locator("#cluster-state")).to_contain_text("held by analyst1")
        member = page.locator(".member").first
        expect(member.get_by_role("img")).to_have_attribute(
            "alt", f"Member {first.first_item}, blurred and in greyscale"
        )
        page.screenshot(path=str(SHOTS / "case-cluster-protected.png"))

        page.keyboard.press("r")  # reveal the first member, on purpose
        expect(member.get_by_role("img")).to_have_attribute(
            "alt", f"Member {first.first_item}, revealed: full"
        )
        others = page.locator(".member").nth(1).get_by_role("img")
        expect(others).to_have_attribute("alt", re.compile("blurred and in greyscale"))
        page.keyboard.press("m")  # and its metadata
        expect(page.locator("#metadata")).to_contain_text("revealed")
        page.screenshot(path=str(SHOTS / "case-cluster-revealed.png"))

        page.keyboard.press("2")  # the scheme's second category
        expect(page.locator("#cluster-state")).to_contain_text("Status: decided")
        expect(page.locator("#cluster-state")).to_contain_text("Child Exploitive")
        page.screenshot(path=str(SHOTS / "case-cluster-decided.png"))

        page.keyboard.press("u")  # undo
        expect(page.locator("#cluster-state")).to_contain_text("Status: open")

    # The only refusal is the thumbnail of the unreadable file (422): no script
    # error, and nothing blocked by the Content-Security-Policy.
    assert all("status of 422" in error for error in errors), errors
    members = CaseReader(state.store).cluster(name, first.id).members
    assert {m.category for m in members} == {None}
    assert (SHOTS / "case-cluster-revealed.png").stat().st_size > 10_000
