"""The /v1 API: the same answers as the library, and the limits that protect it."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.service.limits import RateLimiter, Timeout
from tests.service.conftest import Service, image_bytes, start_service


def test_hash_matches_the_library(service: Service) -> None:
    data = image_bytes(1)
    answer = service.client.post(
        "/v1/hash", files={"file": ("a.jpg", data, "image/jpeg")}, headers=service.auth("client")
    )
    assert answer.status_code == 200
    expected = hash_bytes(data, name="a.jpg").to_dict()
    assert answer.json() == json.loads(json.dumps(expected))


def test_scan_matches_banks_and_queues_hits(service: Service) -> None:
    known, other = image_bytes(2), image_bytes(3)
    curator = service.auth("curator")
    assert (
        service.client.post("/v1/banks", json={"name": "known"}, headers=curator).status_code == 201
    )
    pdq = hash_bytes(known).pdq
    added = service.client.post(
        "/v1/banks/known/entries",
        json={"signals": [{"type": "pdq", "value": pdq}], "labels": ["ncmec:A2"]},
        headers=curator,
    )
    assert added.json()["added"] == 1
    [bank] = service.client.get("/v1/banks", headers=curator).json()
    assert list(bank) == ["name", "kind", "description", "pdq_threshold", "created_at"]
    client = service.auth("client")
    hit = service.client.post(
        "/v1/scan",
        files={"file": ("k.jpg", known, "image/jpeg")},
        data={"enqueue": "true"},
        headers=client,
    ).json()
    assert hit["verdict"] == "known"
    assert hit["queued"] is not None
    assert hit["result"]["matches"][0]["labels"] == ["ncmec:A2"]
    miss = service.client.post(
        "/v1/scan",
        files={"file": ("o.jpg", other, "image/jpeg")},
        data={"enqueue": "true"},
        headers=client,
    ).json()
    assert miss["verdict"] == "unknown"
    assert miss["queued"] is None  # only hits are queued
    assert service.state.queue.counts()["open"] == 1


def test_match_by_hash_applies_allowlists(service: Service) -> None:
    curator = service.auth("curator")
    pdq = hash_bytes(image_bytes(4)).pdq
    for name, kind in (("block", "blocklist"), ("allow", "allowlist")):
        service.client.post("/v1/banks", json={"name": name, "kind": kind}, headers=curator)
    body = {"signals": [{"type": "pdq", "value": pdq}]}
    service.client.post("/v1/banks/block/entries", json=body, headers=curator)
    found = service.client.post("/v1/match", json=body, headers=service.auth("client")).json()
    assert found["matched"]
    assert found["matches"][0]["bank"] == "block"
    service.client.post("/v1/banks/allow/entries", json=body, headers=curator)
    suppressed = service.client.post("/v1/match", json=body, headers=service.auth("client")).json()
    assert not suppressed["matched"]
    assert suppressed["suppressed"][0]["bank"] == "block"


def test_bank_export_streams_entries(service: Service) -> None:
    curator = service.auth("curator")
    service.client.post("/v1/banks", json={"name": "b"}, headers=curator)
    md5s = [f"{i:032x}" for i in range(1, 6)]
    body = {"signals": [{"type": "md5", "value": v} for v in md5s]}
    service.client.post("/v1/banks/b/entries", json=body, headers=curator)
    lines = service.client.get(
        "/v1/banks/b/entries", headers=service.auth("client")
    ).text.splitlines()
    assert sorted(json.loads(line)["value"] for line in lines) == md5s


def test_bad_media_is_422_with_the_reason(service: Service) -> None:
    answer = service.client.post(
        "/v1/hash",
        files={"file": ("x.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")},
        headers=service.auth("client"),
    )
    assert answer.status_code == 422
    assert answer.json()["message"]


def test_bad_hash_is_400(service: Service) -> None:
    answer = service.client.post(
        "/v1/match",
        json={"signals": [{"type": "pdq", "value": "xyz"}]},
        headers=service.auth("client"),
    )
    assert answer.status_code == 400
    assert "pdq" in answer.json()["message"].lower()


def test_unknown_bank_is_404(service: Service) -> None:
    answer = service.client.get("/v1/banks/nothing-here", headers=service.auth("client"))
    assert answer.status_code == 404
    assert "nothing-here" in answer.json()["message"]


def test_uploads_over_the_limit_are_413(service_settings: Settings) -> None:
    for service in start_service(replace(service_settings, max_upload_bytes=10_000)):
        answer = service.client.post(
            "/v1/hash",
            files={"file": ("big.jpg", image_bytes(5, size=512), "image/jpeg")},
            headers=service.auth("client"),
        )
        assert answer.status_code == 413
        assert "BASTION_MAX_UPLOAD_BYTES" in answer.json()["message"]


def test_rate_limit_per_key_is_429(service_settings: Settings) -> None:
    for service in start_service(replace(service_settings, rate_limit=2)):
        statuses = [
            service.client.get("/v1/banks", headers=service.auth("client")).status_code
            for _ in range(8)
        ]
        assert statuses[:4] == [200] * 4  # a burst of twice the rate
        assert 429 in statuses
        limited = service.client.get("/v1/banks", headers=service.auth("client"))
        assert limited.headers["Retry-After"]
        # Another key has its own bucket.
        assert service.client.get("/v1/banks", headers=service.auth("admin")).status_code == 200


def test_rate_limiter_refills() -> None:
    limiter = RateLimiter(1000, burst=1)
    assert limiter.wait_time("k") == 0
    assert limiter.wait_time("k") > 0
    assert limiter.wait_time("other") == 0


def test_timeout_answers_503() -> None:
    async def slow(scope: object, receive: object, send: object) -> None:
        await asyncio.sleep(5)

    app = Timeout(slow, 0.05)  # type: ignore[arg-type]
    answer = TestClient(app).get("/anything")  # type: ignore[arg-type]
    assert answer.status_code == 503
    assert "BASTION_REQUEST_TIMEOUT" in answer.json()["message"]


def test_health_and_readiness_need_no_credentials(service: Service) -> None:
    assert service.client.get("/v1/health").json() == {"status": "ok"}
    assert service.client.get("/v1/ready").status_code == 200
    assert service.client.get("/status").text == "I-AM-ALIVE"


def test_status_is_503_until_the_index_is_loaded(service_settings: Settings) -> None:
    from bastion.service.app import create_app

    app = create_app(service_settings)
    state = app.state.bastion
    client = TestClient(app)  # not started: the index never loads
    assert client.get("/status").status_code == 503
    assert client.get("/v1/ready").status_code == 503
    state.store.dispose()


@pytest.mark.parametrize("path", ["/ui/", "/docs", "/openapi.json"])
def test_pages_need_a_login(service: Service, path: str) -> None:
    answer = service.client.get(path, follow_redirects=False)
    assert answer.status_code in (401, 303)
