"""The review queue: one reviewer per item, protected views, recorded reveals,
decisions that take effect, media encrypted and deleted on time."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bastion.accounts import Principal, Role
from bastion.config import Settings
from bastion.provenance.evidence import Origin, Strength
from bastion.review.items import Decision, ReviewError
from bastion.review.queue import ReviewQueue
from bastion.samples import encode
from bastion.store import Store
from bastion.store.models import ReviewMedia
from tests.service.conftest import Service, image_bytes, start_service
from tests.service.scanned import scan_result


def _queue_upload(service: Service, seed: int, data: bytes | None = None) -> int:
    answer = service.client.post(
        "/v1/scan",
        files={"file": (f"{seed}.jpg", data or image_bytes(seed), "image/jpeg")},
        data={"enqueue_all": "true"},
        headers=service.auth("client"),
    ).json()
    item: int = answer["queued"]
    return item


def _person(store: Store, name: str, role: str = "reviewer") -> Principal:
    from bastion.accounts import Accounts

    info = Accounts(store).add_user(name, role, "a long test password", actor="test")
    return Principal("user", info.id, info.name, Role(role))


def test_claim_view_reveal_decide(service: Service) -> None:
    item = _queue_upload(service, 21)
    service.add_user("rita")
    client, token = service.log_in("rita")
    headers = {"X-CSRF-Token": token}
    claimed = client.post("/v1/review/claim", headers=headers).json()
    assert claimed["id"] == item
    protected = client.get(f"/v1/review/items/{item}/media")
    assert protected.headers["content-type"] == "image/jpeg"
    assert protected.headers["cache-control"] == "no-store"
    report = service.client.get(
        f"/v1/review/items/{item}/report", headers=service.auth("curator")
    ).json()
    assert report["fileViewedByEsp"] is False  # seen only blurred and grey
    revealed = client.get(f"/v1/review/items/{item}/media", params={"reveal": "full"})
    assert revealed.headers["X-Bastion-Reveals"] == "1"  # first reveal of this login
    decided = client.post(
        f"/v1/review/items/{item}/decision",
        json={"decision": "confirmed", "category": "ncmec:B1"},
        headers=headers,
    ).json()
    assert decided["status"] == "decided"
    assert decided["category"] == "ncmec:B1"
    report = service.client.get(
        f"/v1/review/items/{item}/report", headers=service.auth("curator")
    ).json()
    assert report["fileViewedByEsp"] is True
    actions = [(e["user"], e["action"]) for e in report["events"]]
    assert actions == [
        ("rita", "claim"),
        ("rita", "view"),
        ("rita", "reveal"),
        ("rita", "confirmed"),
    ]


def test_protected_view_is_grey_and_blurred(service: Service) -> None:
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(22)
    detailed = Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
    item = _queue_upload(service, 22, encode(detailed, "PNG"))
    service.add_user("sam")
    client, token = service.log_in("sam")
    client.post("/v1/review/claim", headers={"X-CSRF-Token": token})
    protected = Image.open(io.BytesIO(client.get(f"/v1/review/items/{item}/media").content))
    full = Image.open(io.BytesIO(client.get(f"/v1/review/items/{item}/media?reveal=full").content))
    colour = Image.open(
        io.BytesIO(client.get(f"/v1/review/items/{item}/media?reveal=colour").content)
    )
    assert protected.mode == "L"
    assert full.mode == "RGB"
    assert colour.mode == "RGB"

    def sharpness(image: Image.Image) -> float:
        grey = np.asarray(image.convert("L"), dtype=np.float64)
        return float(np.abs(np.diff(grey, axis=1)).mean())

    assert sharpness(protected) < sharpness(full) / 3
    assert sharpness(colour) < sharpness(full) / 3  # colour alone stays blurred


def test_confirm_needs_a_category_and_a_claim(service: Service) -> None:
    item = _queue_upload(service, 23)
    service.add_user("tia")
    service.add_user("uma")
    tia, tia_token = service.log_in("tia")
    uma, uma_token = service.log_in("uma")
    tia.post("/v1/review/claim", headers={"X-CSRF-Token": tia_token})
    stolen = uma.post(
        f"/v1/review/items/{item}/decision",
        json={"decision": "false-positive"},
        headers={"X-CSRF-Token": uma_token},
    )
    assert stolen.status_code == 403
    missing = tia.post(
        f"/v1/review/items/{item}/decision",
        json={"decision": "confirmed"},
        headers={"X-CSRF-Token": tia_token},
    )
    assert missing.status_code == 400
    assert "category" in missing.json()["message"]


def test_escalated_items_go_to_curators_and_skips_to_others(
    store: Store, settings: Settings
) -> None:
    queue = ReviewQueue(store, settings)
    first = queue.enqueue(scan_result(), b"x", submitted_by="test", name=None).id
    reviewer, other = _person(store, "wes"), _person(store, "xena")
    curator = _person(store, "yves", "curator")
    claimed = queue.claim(reviewer)
    assert claimed is not None
    assert claimed.id == first
    queue.decide(first, reviewer, Decision.SKIPPED)
    assert queue.claim(reviewer) is None  # not given back to whoever skipped it
    again = queue.claim(other)
    assert again is not None
    assert again.id == first
    queue.decide(first, other, Decision.ESCALATED)
    assert queue.claim(reviewer) is None  # escalated: for curators only
    escalated = queue.claim(curator)
    assert escalated is not None
    assert escalated.id == first


def test_priority_order(store: Store, settings: Settings) -> None:
    queue = ReviewQueue(store, settings)
    rows = {
        "other": scan_result(),
        "declared": scan_result(origin=Origin.AI_GENERATED, strength=Strength.DECLARED),
        "verified": scan_result(origin=Origin.AI_EDITED, strength=Strength.VERIFIED),
        "mild": scan_result(matched=[["ncmec:B2"]]),
        "severe": scan_result(matched=[["iwf:C"], ["ncmec:A1", "a tag"]]),
    }
    ids = {
        name: queue.enqueue(row, b"x", submitted_by="t", name=name).id for name, row in rows.items()
    }
    reviewer = _person(store, "zoe")
    order = []
    for _ in rows:
        item = queue.claim(reviewer)
        assert item is not None
        order.append(item.name)
        queue.decide(item.id, reviewer, Decision.CONFIRMED, category="iwf:C")
    assert order == ["severe", "mild", "verified", "declared", "other"]
    assert ids


def test_media_is_encrypted_at_rest(store: Store, settings: Settings) -> None:
    from bastion.review.vault import new_key

    queue = ReviewQueue(store, replace(settings, media_keys=new_key()))
    data = image_bytes(25)
    item = queue.enqueue(scan_result(), data, submitted_by="t", name=None)
    with store.sessions() as session:
        blob = session.execute(
            select(ReviewMedia.blob).where(ReviewMedia.item_id == item.id)
        ).scalar_one()
    assert data[100:132] not in blob
    assert len(blob) >= len(data)
    # Without the key the item is still queued, with its hashes but no media.
    keyless = ReviewQueue(store, replace(settings, media_keys=""))
    bare = keyless.enqueue(scan_result(), data, submitted_by="t", name=None)
    assert bare.media_state == "not-kept"


def test_retention_deletes_media_unless_on_hold(store: Store, settings: Settings) -> None:
    from bastion.review.vault import new_key

    queue = ReviewQueue(store, replace(settings, media_keys=new_key(), retention_other_days=1))
    reviewer = _person(store, "amy")
    curator = _person(store, "bob", "curator")
    kept, held = (
        queue.enqueue(scan_result(), b"data", submitted_by="t", name=None).id for _ in range(2)
    )
    for _ in range(2):
        item = queue.claim(reviewer)
        assert item is not None
        queue.decide(item.id, reviewer, Decision.FALSE_POSITIVE)
    queue.set_hold(held, curator, True)
    assert queue.purge() == []  # not yet due
    later = datetime.now(UTC) + timedelta(days=2)
    assert queue.purge(later) == [kept]
    with store.sessions() as session:
        left = set(session.execute(select(ReviewMedia.item_id)).scalars())
    assert left == {held}
    assert queue.report(kept, curator)["decision"] == "false-positive"  # the record stays


def test_confirmed_items_are_kept_a_year_by_default(store: Store, settings: Settings) -> None:
    queue = ReviewQueue(store, settings)
    reviewer = _person(store, "cal")
    queue.enqueue(scan_result(matched=[[]]), b"d", submitted_by="t", name=None)
    item = queue.claim(reviewer)
    assert item is not None
    decided = queue.decide(item.id, reviewer, Decision.CONFIRMED, category="ncmec:A2")
    assert decided.retain_until is not None
    assert decided.decided_at is not None
    assert (decided.retain_until - decided.decided_at).days == 365


def test_unknown_category_is_refused(store: Store, settings: Settings) -> None:
    queue = ReviewQueue(store, settings)
    reviewer = _person(store, "dan")
    queue.enqueue(scan_result(matched=[[]]), b"d", submitted_by="t", name=None)
    item = queue.claim(reviewer)
    assert item is not None
    with pytest.raises(ReviewError, match="ncmec"):
        queue.decide(item.id, reviewer, Decision.CONFIRMED, category="ncmec:Z9")


@pytest.mark.parametrize("items", [30, 10])
def test_twenty_reviewers_claiming_at_once_never_share(
    store: Store, settings: Settings, items: int
) -> None:
    queue = ReviewQueue(store, settings)
    for number in range(items):
        queue.enqueue(scan_result(), b"x", submitted_by="t", name=str(number))
    reviewers = [_person(store, f"r{number}") for number in range(20)]
    start = threading.Barrier(len(reviewers))
    claims: dict[str, int | None] = {}
    problems: list[BaseException] = []

    def claim(who: Principal) -> None:
        try:
            start.wait()
            item = queue.claim(who)
            claims[who.name] = item.id if item else None
        except BaseException as exc:  # noqa: BLE001 - reported below
            problems.append(exc)

    threads = [threading.Thread(target=claim, args=(who,)) for who in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not problems
    got = [item for item in claims.values() if item is not None]
    assert len(got) == len(set(got)) == min(items, 20)


def test_ui_counter_suggests_a_break(service_settings: Settings) -> None:
    for service in start_service(replace(service_settings, break_after_reveals=2)):
        for seed in (31, 32):
            _queue_upload(service, seed)
        service.add_user("eve")
        client, token = service.log_in("eve")
        for _ in range(2):
            page = client.post("/ui/claim", data={"csrf_token": token})
            item = int(page.url.path.rsplit("/", 1)[-1])
            client.post(f"/ui/items/{item}/reveal", data={"csrf_token": token, "view": "full"})
            client.post(
                f"/ui/items/{item}/decide",
                data={"csrf_token": token, "decision": "confirmed", "category": "iwf:B"},
            )
        page = client.get("/ui/").text
        assert "Revealed this session: <strong>2</strong>" in page
        assert "take a break" in page
