"""The HMA door behaves as HMA 2.0 does: the shapes, switches and errors its
own API tests check, written here from HMA's blueprints (issue 16, section 7)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bastion.config import Settings
from bastion.hashing import hash_bytes
from tests.banks.helpers import flip_bits
from tests.service.conftest import Service, image_bytes, start_service


def _photo(service: Service, bank: str, seed: int, **params: str) -> dict[str, object]:
    answer = service.client.post(
        f"/c/bank/{bank}/content",
        params=params,
        files={"photo": ("p.jpg", image_bytes(seed), "image/jpeg")},
        headers=service.auth("curator"),
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def _create(service: Service, name: str, **body: object) -> dict[str, object]:
    answer = service.client.post(
        "/c/banks", json={"name": name, **body}, headers=service.auth("curator")
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, object] = answer.json()
    return result


def _lookup(service: Service, pdq: str, **params: str) -> dict[str, object]:
    answer = service.client.get(
        "/m/lookup",
        params={"signal_type": "pdq", "signal": pdq, **params},
        headers=service.auth("client"),
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, object] = answer.json()
    return result


def test_bank_objects_are_name_and_ratio_only(service: Service) -> None:
    assert _create(service, "SHAPE") == {"name": "SHAPE", "matching_enabled_ratio": 1.0}
    listed = service.client.get("/c/banks", headers=service.auth("curator")).json()
    assert listed == [{"name": "SHAPE", "matching_enabled_ratio": 1.0}]
    half = _create(service, "HALF", matching_enabled_ratio=0.5)
    assert half["matching_enabled_ratio"] == 0.5
    off = _create(service, "OFF", enabled=False)
    assert off["matching_enabled_ratio"] == 0.0


@pytest.mark.parametrize("name", ["lower", "1STARTS_WITH_DIGIT", "HAS-DASH", "HAS.DOT", ""])
def test_bank_names_follow_hmas_rule(service: Service, name: str) -> None:
    answer = service.client.post("/c/banks", json={"name": name}, headers=service.auth("curator"))
    assert answer.status_code == 400
    assert set(answer.json()) == {"message"}


def test_disabling_a_bank_stops_its_matches_until_enabled(service: Service) -> None:
    _create(service, "SWITCHED")
    added = _photo(service, "SWITCHED", 21)
    pdq = str(added["signals"]["pdq"])  # type: ignore[index]
    curator = service.auth("curator")
    assert "SWITCHED" in _lookup(service, pdq)
    off = service.client.put("/c/bank/SWITCHED", json={"enabled": False}, headers=curator)
    assert off.json() == {"name": "SWITCHED", "matching_enabled_ratio": 0.0}
    assert (
        service.client.get("/c/bank/SWITCHED", headers=curator).json()["matching_enabled_ratio"]
        == 0.0
    )
    assert _lookup(service, pdq) == {}
    raw = service.client.get(
        "/m/raw_lookup", params={"signal_type": "pdq", "signal": pdq}, headers=curator
    )
    assert raw.json() == {"matches": []}
    on = service.client.put("/c/bank/SWITCHED", json={"enabled": True}, headers=curator)
    assert on.json()["matching_enabled_ratio"] == 1.0
    assert "SWITCHED" in _lookup(service, pdq)
    by_ratio = service.client.put(
        "/c/bank/SWITCHED", json={"matching_enabled_ratio": 0}, headers=curator
    )
    assert by_ratio.json()["matching_enabled_ratio"] == 0.0
    assert _lookup(service, pdq) == {}


def test_renaming_a_bank_is_refused(service: Service) -> None:
    _create(service, "KEEP")
    answer = service.client.put(
        "/c/bank/KEEP", json={"name": "OTHER"}, headers=service.auth("curator")
    )
    assert answer.status_code == 400


def test_lookup_distance_is_a_string_and_banks_filter(service: Service) -> None:
    _create(service, "FIRST")
    _create(service, "SECOND")
    first = _photo(service, "FIRST", 22)
    second = _photo(service, "SECOND", 22)
    near = flip_bits(str(first["signals"]["pdq"]), 3)  # type: ignore[index]
    both = _lookup(service, near)
    assert both == {
        "FIRST": [{"bank_content_id": first["id"], "distance": "3"}],
        "SECOND": [{"bank_content_id": second["id"], "distance": "3"}],
    }
    assert _lookup(service, near, banks="SECOND") == {"SECOND": both["SECOND"]}
    assert _lookup(service, near, banks="NO_SUCH_BANK") == {}
    raw = service.client.get(
        "/m/raw_lookup",
        params={"signal_type": "pdq", "signal": near, "banks": "NO_SUCH_BANK"},
        headers=service.auth("client"),
    )
    assert raw.status_code == 200
    assert raw.json() == {"matches": []}


def test_a_photo_is_hashed_to_pdq_unless_types_asks(service: Service) -> None:
    data = image_bytes(23)
    client = service.auth("client")
    files = {"photo": ("p.jpg", data, "image/jpeg")}
    plain = service.client.post("/h/hash", files=files, headers=client).json()
    assert plain == {"pdq": hash_bytes(data).pdq}
    more = service.client.post("/h/hash?types=pdq,md5", files=files, headers=client).json()
    assert more == {"pdq": hash_bytes(data).pdq, "md5": hash_bytes(data).md5}
    _create(service, "PHOTOS")
    added = _photo(service, "PHOTOS", 23)
    assert set(added["signals"]) == {"pdq"}  # type: ignore[arg-type]
    by_upload = service.client.post("/m/lookup", files=files, headers=client).json()
    assert by_upload == {"pdq": {"PHOTOS": [{"bank_content_id": added["id"], "distance": "0"}]}}


def test_one_item_one_content_id_even_with_a_shared_metadata_content_id(
    service: Service,
) -> None:
    _create(service, "ITEMS")
    curator = service.auth("curator")
    pdq_a = hash_bytes(image_bytes(24)).pdq
    assert pdq_a
    both = service.client.post(
        "/c/bank/ITEMS/signal", json={"pdq": pdq_a, "md5": "a" * 32}, headers=curator
    ).json()
    got = service.client.get(
        f"/c/bank/ITEMS/content/{both['id']}?include_signals=true", headers=curator
    ).json()
    assert got["signals"] == {"pdq": pdq_a, "md5": "a" * 32}
    for signal in ("pdq", "md5"):
        value = pdq_a if signal == "pdq" else "a" * 32
        raw = service.client.get(
            "/m/raw_lookup", params={"signal_type": signal, "signal": value}, headers=curator
        ).json()
        assert raw == {"matches": [both["id"]]}
    metadata = '{"content_id": "same"}'
    first = _photo(service, "ITEMS", 24, metadata=metadata)
    second = _photo(service, "ITEMS", 25, metadata=metadata)
    assert first["id"] != second["id"]
    deleted = service.client.delete(f"/c/bank/ITEMS/content/{both['id']}", headers=curator)
    assert deleted.json() == {"deleted": 1}
    missing = service.client.delete("/c/bank/ITEMS/content/999999", headers=curator)
    assert missing.status_code == 200
    assert missing.json() == {"deleted": 0}


def test_bank_content_has_hmas_shape(service: Service) -> None:
    _create(service, "CONTENT")
    added = _photo(service, "CONTENT", 26)
    curator = service.auth("curator")
    got = service.client.get(f"/c/bank/CONTENT/content/{added['id']}", headers=curator).json()
    assert got == {
        "id": added["id"],
        "disable_until_ts": 1,
        "original_media_uri": None,
        "bank": {"name": "CONTENT", "matching_enabled_ratio": 1.0},
    }
    with_signals = service.client.get(
        f"/c/bank/CONTENT/content/{added['id']}",
        params={"include_signals": "true"},
        headers=curator,
    ).json()
    assert with_signals["signals"] == added["signals"]


def test_index_status_lists_hmas_types(service: Service) -> None:
    client = service.auth("client")
    empty = service.client.get("/m/index/status", headers=client).json()
    assert empty == {
        "pdq": {"present": False, "built_to": -1, "size": 0},
        "video_md5": {"present": False, "built_to": -1, "size": 0},
    }
    _create(service, "INDEXED")
    _photo(service, "INDEXED", 27)
    only = service.client.get("/m/index/status?signal_type=pdq", headers=client).json()
    assert list(only) == ["pdq"]
    assert only["pdq"]["size"] == 1
    assert only["pdq"]["present"] is True
    unknown = service.client.get("/m/index/status?signal_type=nope", headers=client)
    assert unknown.status_code == 400


def test_status_live_and_discovery(service: Service) -> None:
    assert service.client.get("/status/live").status_code == 200
    client = service.auth("client")
    schema = service.client.get("/openapi/openapi.json", headers=client)
    assert schema.status_code == 200
    assert "/m/raw_lookup" in schema.json()["paths"]
    site_map = service.client.get("/site-map", headers=client)
    assert site_map.status_code == 200
    assert "/m/raw_lookup" in site_map.json()


def test_status_says_why_not_ready(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service.state, "readiness", lambda: "the match index is still loading")
    answer = service.client.get("/status")
    assert (answer.status_code, answer.text) == (503, "INDEX-NOT-LOADED")
    assert service.client.get("/status/live").status_code == 200
    monkeypatch.setattr(service.state, "readiness", lambda: "the match index is stale: ...")
    answer = service.client.get("/status")
    assert (answer.status_code, answer.text) == (503, "INDEX-STALE")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:abc/x", "http://[::1", "not a url", "ftp://127.0.0.1/x"]
)
def test_every_url_route_answers_400_for_a_malformed_url(
    service_settings: Settings, url: str
) -> None:
    for service in start_service(replace(service_settings, fetch_hosts="127.0.0.1")):
        _create(service, "URLS")
        curator = service.auth("curator")
        for method, path in (
            ("GET", "/h/hash"),
            ("GET", "/m/lookup"),
            ("POST", "/c/bank/URLS/content"),
        ):
            answer = service.client.request(method, path, params={"url": url}, headers=curator)
            assert answer.status_code == 400, (path, answer.text)
            assert set(answer.json()) == {"message"}


def test_too_large_bodies_say_so(service_settings: Settings) -> None:
    for service in start_service(replace(service_settings, max_upload_bytes=1000)):
        answer = service.client.post(
            "/h/hash",
            files={"photo": ("p.jpg", image_bytes(28), "image/jpeg")},
            headers=service.auth("client"),
        )
        assert answer.status_code == 413
        assert "Content too large" in answer.json()["message"]


def test_metadata_and_notes_are_stored_and_returned(service: Service) -> None:
    _create(service, "NOTED")
    curator = service.auth("curator")
    metadata = {"content_id": "c-1", "content_uri": "https://example.org/c-1", "json": {"a": 1}}
    note = "n" * 255
    by_form = service.client.post(
        "/c/bank/NOTED/content",
        data={"metadata": json.dumps(metadata), "note": note},
        files={"photo": ("p.jpg", image_bytes(29), "image/jpeg")},
        headers=curator,
    ).json()
    got = service.client.get(f"/c/bank/NOTED/content/{by_form['id']}", headers=curator).json()
    assert (got["metadata"], got["note"]) == (metadata, note)
    by_signal = service.client.post(
        "/c/bank/NOTED/signal",
        json={"pdq": flip_bits(str(by_form["signals"]["pdq"]), 40), "note": "short"},
        headers=curator,
    ).json()
    got = service.client.get(f"/c/bank/NOTED/content/{by_signal['id']}", headers=curator).json()
    assert got["note"] == "short"
    assert "metadata" not in got
    changed = service.client.put(
        f"/c/bank/NOTED/content/{by_form['id']}", json={"note": "changed"}, headers=curator
    ).json()
    assert (changed["metadata"], changed["note"], changed["disable_until_ts"]) == (
        metadata,
        "changed",
        1,
    )
    too_long = service.client.post(
        "/c/bank/NOTED/signal",
        json={"pdq": flip_bits(str(by_form["signals"]["pdq"]), 60), "note": "n" * 256},
        headers=curator,
    )
    assert too_long.status_code == 400


@pytest.mark.parametrize("metadata", ['{"content_id": "x", "other": 1}', "[1]", "not json"])
def test_bad_metadata_is_400(service: Service, metadata: str) -> None:
    _create(service, "CHECKED")
    answer = service.client.post(
        "/c/bank/CHECKED/content",
        params={"metadata": metadata},
        files={"photo": ("p.jpg", image_bytes(30), "image/jpeg")},
        headers=service.auth("curator"),
    )
    assert answer.status_code == 400
    assert "metadata" in answer.json()["message"]
