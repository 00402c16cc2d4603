"""Review decisions never unlist known material (issue 15).

No single person's click may take a hash off a list: a false positive on an
exact digest hit is list feedback for the curator, a perceptual one is
allowlisted only by a curator or when a second reviewer agrees, and then
only the perceptual hash that matched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bastion.accounts import Accounts, Principal, Role
from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.provenance.evidence import Origin, Strength
from bastion.review import decisions as review_decisions
from bastion.review.items import Decision, ReviewError, Status
from bastion.review.queue import ReviewQueue
from bastion.store import Store
from tests.service.conftest import Service, image_bytes, start_service
from tests.service.scanned import scan_result


def _scan(service: Service, data: bytes, name: str = "x.jpg", **form: str) -> dict[str, Any]:
    answer = service.client.post(
        "/v1/scan",
        files={"file": (name, data, "image/jpeg")},
        data=form or {"enqueue": "true"},
        headers=service.auth("client"),
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _bank(service: Service, signal: str, value: str, labels: list[str] | None = None) -> None:
    curator = service.auth("curator")
    service.client.post("/v1/banks", json={"name": "known"}, headers=curator)
    added = service.client.post(
        "/v1/banks/known/entries",
        json={"signals": [{"type": signal, "value": value}], "labels": labels or []},
        headers=curator,
    )
    assert added.status_code == 200, added.text


def _decide(
    client: TestClient, token: str, item: int, decision: str, category: str | None = None
) -> dict[str, Any]:
    answer = client.post(
        f"/v1/review/items/{item}/decision",
        json={"decision": decision, "category": category},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _claim(client: TestClient, token: str) -> int | None:
    answer = client.post("/v1/review/claim", headers={"X-CSRF-Token": token})
    if answer.status_code == 204:
        return None
    item: int = answer.json()["id"]
    return item


def _allowlist(service: Service) -> dict[str, Any]:
    answer = service.client.get("/v1/banks/review-false-positives", headers=service.auth("curator"))
    if answer.status_code == 404:
        return {"active": 0, "by_signal_type": {}}
    result: dict[str, Any] = answer.json()
    return result


def _person(store: Store, name: str, role: str = "reviewer") -> Principal:
    info = Accounts(store).add_user(name, role, "a long test password", actor="test")
    return Principal("user", info.id, info.name, Role(role))


# --- 1. a false positive never unlists an exact hit ---------------------------------


def test_false_positive_on_an_exact_hit_is_list_feedback_not_an_allowlisting(
    service: Service,
) -> None:
    data = image_bytes(41)
    md5 = hash_bytes(data).md5
    assert md5 is not None
    _bank(service, "md5", md5, ["ncmec:A1"])
    first = _scan(service, data)
    assert first["verdict"] == "known"
    service.add_user("rita")
    service.add_user("sam")
    rita, rita_token = service.log_in("rita")
    sam, sam_token = service.log_in("sam")
    assert _claim(rita, rita_token) == first["queued"]
    _decide(rita, rita_token, first["queued"], "confirmed", "ncmec:A1")

    second = _scan(service, data)
    assert second["queued"] != first["queued"]  # the first item is decided
    assert _claim(sam, sam_token) == second["queued"]
    decided = _decide(sam, sam_token, second["queued"], "false-positive")
    assert decided["status"] == "decided"
    assert decided["decision"] == "false-positive"

    # Still known everywhere: one click took nothing off the list.
    again = _scan(service, data)
    assert again["verdict"] == "known"
    assert again["queued"] is not None
    lookup = service.client.get(
        "/m/lookup", params={"signal_type": "md5", "signal": md5}, headers=service.auth("client")
    ).json()
    assert list(lookup) == ["known"]
    assert _allowlist(service)["active"] == 0

    # ... and the curator hears of it as feedback on the list entry.
    feedback = service.client.get("/v1/review/feedback", headers=service.auth("curator"))
    assert feedback.status_code == 200, feedback.text
    [record] = feedback.json()
    assert record["item"] == second["queued"]
    assert record["bank"] == "known"
    assert record["signal_type"] == "md5"
    assert record["decision"] == "false-positive"
    assert record["user"] == "sam"
    refused = service.client.get("/v1/review/feedback", headers=service.auth("reviewer"))
    assert refused.status_code == 403


def test_a_perceptual_false_positive_needs_a_second_reviewer(service: Service) -> None:
    data = image_bytes(42)
    found = hash_bytes(data)
    assert found.pdq is not None
    _bank(service, "pdq", found.pdq)
    first = _scan(service, data)
    assert first["verdict"] == "known"
    item = first["queued"]
    for name in ("vic", "wes"):
        service.add_user(name)
    vic, vic_token = service.log_in("vic")
    wes, wes_token = service.log_in("wes")

    assert _claim(vic, vic_token) == item
    proposed = _decide(vic, vic_token, item, "false-positive")
    assert proposed["status"] == "open"  # waits for a second reviewer
    assert proposed["decision"] is None
    assert _scan(service, data)["verdict"] == "known"  # nothing allowlisted yet
    assert _allowlist(service)["active"] == 0
    assert _claim(vic, vic_token) is None  # not back to the one who proposed it

    assert _claim(wes, wes_token) == item
    shown = wes.get(f"/v1/review/items/{item}").json()
    assert [p["user"] for p in shown["proposals"]] == ["vic"]
    agreed = _decide(wes, wes_token, item, "false-positive")
    assert agreed["status"] == "decided"
    allow = _allowlist(service)
    assert allow["active"] == 1  # the matched PDQ only, none of the file's digests
    assert allow["by_signal_type"] == {"pdq": 1}
    later = _scan(service, data)
    assert later["verdict"] == "unknown"
    assert later["queued"] is None


def test_a_curator_may_allowlist_the_matched_pdq_alone(service: Service) -> None:
    data = image_bytes(43)
    pdq = hash_bytes(data).pdq
    assert pdq is not None
    _bank(service, "pdq", pdq)
    item = _scan(service, data)["queued"]
    service.add_user("cora", "curator")
    cora, token = service.log_in("cora")
    assert _claim(cora, token) == item
    assert _decide(cora, token, item, "false-positive")["status"] == "decided"
    assert _allowlist(service)["by_signal_type"] == {"pdq": 1}


def test_a_second_reviewer_who_confirms_overrules_the_proposal(service: Service) -> None:
    data = image_bytes(44)
    pdq = hash_bytes(data).pdq
    assert pdq is not None
    _bank(service, "pdq", pdq)
    item = _scan(service, data)["queued"]
    for name in ("ada", "ben"):
        service.add_user(name)
    ada, ada_token = service.log_in("ada")
    ben, ben_token = service.log_in("ben")
    _claim(ada, ada_token)
    _decide(ada, ada_token, item, "false-positive")
    _claim(ben, ben_token)
    decided = _decide(ben, ben_token, item, "confirmed", "iwf:C")
    assert decided["decision"] == "confirmed"
    assert _allowlist(service)["active"] == 0
    assert _scan(service, data)["verdict"] == "known"


def test_item_shows_earlier_decisions_on_the_same_file_or_a_near_pdq(service: Service) -> None:
    from bastion.samples import encode, photo_like

    picture = photo_like(256, 256, seed=45)
    original = encode(picture)
    recoded = encode(picture, "PNG")  # other bytes, nearly the same PDQ
    service.add_user("eli")
    eli, token = service.log_in("eli")
    first = _scan(service, original, enqueue_all="true")["queued"]
    _claim(eli, token)
    _decide(eli, token, first, "confirmed", "iwf:B")
    near = _scan(service, recoded, "y.png", enqueue_all="true")["queued"]
    same = _scan(service, original, enqueue_all="true")["queued"]
    unrelated = _scan(service, image_bytes(46), "z.jpg", enqueue_all="true")["queued"]
    assert len({first, near, same, unrelated}) == 4
    service.add_user("fay", "curator")
    fay, _ = service.log_in("fay")
    shown = {item: fay.get(f"/v1/review/items/{item}").json() for item in (near, same, unrelated)}
    assert [(e["item"], e["same"]) for e in shown[same]["earlier"]] == [(first, "sha256")]
    [seen] = shown[near]["earlier"]
    assert seen["item"] == first
    assert seen["same"] == "pdq"
    assert seen["category"] == "iwf:B"
    assert shown[unrelated]["earlier"] == []
    # The reviewer's page shows them too.
    _claim(eli, token)
    page = eli.get(f"/ui/items/{near}").text
    assert "Earlier decisions" in page
    assert "iwf:B" in page


# --- 2. the same content is queued once --------------------------------------------


def test_the_same_file_is_linked_to_its_open_item(service: Service) -> None:
    data = image_bytes(47)
    first = _scan(service, data, "a.jpg", enqueue_all="true")["queued"]
    second = _scan(service, data, "b.jpg", enqueue_all="true")["queued"]
    assert second == first
    counts = service.client.get("/v1/review/counts", headers=service.auth("reviewer")).json()
    assert counts["open"] == 1
    service.add_user("gus", "curator")
    gus, _ = service.log_in("gus")
    shown = gus.get(f"/v1/review/items/{first}").json()
    assert shown["uploads"] == 2
    assert [u["name"] for u in shown["upload_log"]] == ["a.jpg", "b.jpg"]


def test_a_decided_file_is_queued_again(store: Store, settings: Settings) -> None:
    queue = ReviewQueue(store, settings)
    row = scan_result("ab" * 32)
    first = queue.enqueue(row, b"x", submitted_by="t", name="a").id
    assert queue.enqueue(row, b"x", submitted_by="t", name="b").id == first
    reviewer = _person(store, "hal")
    assert queue.claim(reviewer) is not None
    assert queue.enqueue(row, b"x", submitted_by="t", name="c").id == first  # claimed: open
    queue.decide(first, reviewer, Decision.CONFIRMED, category="iwf:C")
    assert queue.enqueue(row, b"x", submitted_by="t", name="d").id != first


# --- 3. escalated items stay escalated ---------------------------------------------


def test_an_escalated_item_skipped_by_an_admin_stays_escalated(
    store: Store, settings: Settings
) -> None:
    queue = ReviewQueue(store, settings)
    item = queue.enqueue(scan_result(matched=[[]]), b"x", submitted_by="t", name=None).id
    reviewer, admin = _person(store, "ida"), _person(store, "jon", "admin")
    other = _person(store, "kim")
    assert queue.claim(reviewer) is not None
    queue.decide(item, reviewer, Decision.ESCALATED)
    assert queue.claim(admin) is not None
    skipped = queue.decide(item, admin, Decision.SKIPPED)
    assert skipped.status == Status.ESCALATED
    assert queue.claim(other) is None
    curator = _person(store, "lea", "curator")
    assert queue.claim(curator) is not None
    queue.release(item, curator)
    assert queue.counts()["escalated"] == 1
    assert queue.claim(other) is None


def test_a_stale_claim_on_an_escalated_item_goes_to_curators_only(
    store: Store, settings: Settings
) -> None:
    queue = ReviewQueue(store, replace(settings, claim_minutes=0))
    item = queue.enqueue(scan_result(matched=[[]]), b"x", submitted_by="t", name=None).id
    reviewer, other = _person(store, "max"), _person(store, "ned")
    curator = _person(store, "ola", "curator")
    assert queue.claim(reviewer) is not None
    queue.decide(item, reviewer, Decision.ESCALATED)
    assert queue.claim(curator) is not None  # and the claim goes stale at once
    assert queue.claim(other) is None
    again = queue.claim(_person(store, "pia", "admin"))
    assert again is not None
    assert again.id == item


# --- 4. the reviewer chooses; a decision can be undone for a moment ----------------


def test_the_decision_form_preselects_nothing(service: Service) -> None:
    _scan(service, image_bytes(48), enqueue_all="true")
    service.add_user("quin")
    client, token = service.log_in("quin")
    item = _claim(client, token)
    page = client.get(f"/ui/items/{item}").text
    assert "selected" not in page
    assert '<option value="" disabled selected' not in page
    assert '<option value="">Choose' in page
    for code in ("ncmec:A1", "iwf:C", "projectvic:1", "projectvic:4", "not-abusive"):
        assert f'<option value="{code}"' in page
    refused = client.post(
        f"/ui/items/{item}/decide",
        data={"csrf_token": token, "decision": "confirmed", "category": ""},
    )
    assert refused.status_code == 400


def test_not_abusive_is_an_outcome(store: Store, settings: Settings) -> None:
    queue = ReviewQueue(store, settings)
    queue.enqueue(
        scan_result(origin=Origin.AI_GENERATED, strength=Strength.DECLARED),
        b"x",
        submitted_by="t",
        name=None,
    )
    reviewer = _person(store, "rex")
    item = queue.claim(reviewer)
    assert item is not None
    decided = queue.decide(item.id, reviewer, Decision.NOT_ABUSIVE)
    assert decided.status == Status.DECIDED
    assert decided.decision == "not-abusive"


def test_a_decision_can_be_undone_by_its_reviewer_for_a_moment(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = ReviewQueue(store, settings)
    item = queue.enqueue(scan_result(matched=[[]]), b"x", submitted_by="t", name=None).id
    reviewer, other = _person(store, "sid"), _person(store, "tom")
    queue.claim(reviewer)
    queue.decide(item, reviewer, Decision.CONFIRMED, category="ncmec:A2")
    with pytest.raises(ReviewError, match=r"only .* who decided"):
        queue.undo(item, other)
    undone = queue.undo(item, reviewer)
    assert undone.status == Status.CLAIMED
    assert undone.decision is None
    assert undone.category is None
    assert undone.claimed_by == reviewer.id
    queue.decide(item, reviewer, Decision.CONFIRMED, category="ncmec:B2")
    monkeypatch.setattr(review_decisions, "UNDO_SECONDS", 0)
    with pytest.raises(ReviewError, match="undo"):
        queue.undo(item, reviewer)
    curator = _person(store, "uri", "curator")
    actions = [e["action"] for e in queue.report(item, curator)["events"]]
    assert actions == ["claim", "confirmed", "undo", "confirmed"]


def test_the_ui_offers_an_undo_after_each_decision(service: Service) -> None:
    item = _scan(service, image_bytes(49), enqueue_all="true")["queued"]
    service.add_user("val")
    client, token = service.log_in("val")
    _claim(client, token)
    page = client.post(
        f"/ui/items/{item}/decide",
        data={"csrf_token": token, "decision": "confirmed", "category": "projectvic:2"},
    )
    assert page.url.path == "/ui/"
    assert f"Item {item}: confirmed projectvic:2" in page.text
    assert f'action="/ui/items/{item}/undo"' in page.text
    back = client.post(f"/ui/items/{item}/undo", data={"csrf_token": token})
    assert back.url.path == f"/ui/items/{item}"
    assert client.get(f"/v1/review/items/{item}").json()["status"] == "claimed"


# --- 5. the break suggestion is readable -------------------------------------------


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_formula() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#8a1c1c", "#23313f") == pytest.approx(1.43, abs=0.01)  # the old styling


def test_the_break_suggestion_is_readable() -> None:
    import re
    from pathlib import Path

    import bastion.service

    css = (Path(bastion.service.__file__).parent / "static" / "bastion.css").read_text()
    rule = re.search(r"^\.break\s*\{([^}]*)\}", css, re.MULTILINE)
    assert rule, "no .break rule of its own"
    declared = {
        name.strip(): value.strip()
        for name, _, value in (p.partition(":") for p in rule.group(1).split(";") if ":" in p)
    }
    # Its own colour on its own background: it does not inherit the navy header.
    assert contrast(declared["color"], declared["background"]) >= 4.5
    assert "bold" not in declared.get("font-weight", "")


# --- 6. without media keys, say so ---------------------------------------------------


def test_api_answers_say_media_is_not_kept(service_settings: Settings) -> None:
    for service in start_service(replace(service_settings, media_keys="")):
        answer = _scan(service, image_bytes(50), enqueue_all="true")
        assert answer["media"] == "not kept (BASTION_MEDIA_KEYS unset)"
        service.add_user("wyn", "curator")
        client, _ = service.log_in("wyn")
        item = client.get(f"/v1/review/items/{answer['queued']}").json()
        assert item["media"] == "not kept (BASTION_MEDIA_KEYS unset)"


def test_serve_warns_when_media_keys_are_unset(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from bastion.cli import app

    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **_: started.append(target))
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("BASTION_MEDIA_KEYS", "")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    assert started
    assert "BASTION_MEDIA_KEYS is unset" in result.output
    monkeypatch.setenv("BASTION_MEDIA_KEYS", settings.media_keys or _key())
    quiet = CliRunner().invoke(app, ["serve"])
    assert "BASTION_MEDIA_KEYS" not in quiet.output


def _key() -> str:
    from bastion.review.vault import new_key

    return new_key()


# --- 7. browsers get pages, API clients JSON ------------------------------------------


def test_browser_errors_are_pages_with_a_way_back(service: Service) -> None:
    service.add_user("xia")
    client, _ = service.log_in("xia")
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    missing = client.get("/ui/items/999", headers=html)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert 'href="/ui/"' in missing.text
    assert "no review item 999" in missing.text
    not_yours = _scan(service, image_bytes(51), enqueue_all="true")["queued"]
    forbidden = client.get(f"/ui/items/{not_yours}", headers=html)
    assert forbidden.status_code == 403
    assert 'href="/ui/login"' in forbidden.text
    invalid = client.get("/ui/items/abc", headers=html)
    assert invalid.status_code == 400
    assert invalid.headers["content-type"].startswith("text/html")
    nowhere = client.get("/ui/nowhere", headers=html)
    assert nowhere.status_code == 404
    assert nowhere.headers["content-type"].startswith("text/html")
    # API clients keep JSON, also on UI routes.
    plain = client.get("/ui/items/999", headers={"Accept": "application/json"})
    assert plain.json() == {"message": "no review item 999", "code": "review-not-found"}
    api = client.get("/v1/review/items/999", headers=html)
    assert api.json() == {"message": "no review item 999", "code": "review-not-found"}
