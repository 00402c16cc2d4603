"""The HMA-compatible routes answer in HMA 2.0's shapes (its documented examples)."""

from __future__ import annotations

import json

from bastion.banks.bank import BankKind, Banks
from bastion.banks.entries import first_entry_id
from bastion.fingerprint import Signal
from bastion.hashing import hash_bytes
from tests.banks.helpers import flip_bits
from tests.service.conftest import Service, image_bytes


def _bank_with_photo(service: Service, name: str = "BANK_A") -> tuple[str, int]:
    admin = service.auth("curator")
    assert service.client.post("/c/banks", json={"name": name}, headers=admin).status_code == 201
    pdq = hash_bytes(image_bytes(11)).pdq
    assert pdq is not None
    added = service.client.post(f"/c/bank/{name}/signal", json={"pdq": pdq}, headers=admin).json()
    assert added["signals"] == {"pdq": pdq}
    return pdq, added["id"]


def test_hash_upload_by_content_type_field(service: Service) -> None:
    data = image_bytes(12)
    answer = service.client.post(
        "/h/hash", files={"photo": ("p.jpg", data, "image/jpeg")}, headers=service.auth("client")
    ).json()
    assert answer == {"pdq": hash_bytes(data).pdq}
    only = service.client.post(
        "/h/hash?types=md5",
        files={"photo": ("p.jpg", data, "image/jpeg")},
        headers=service.auth("client"),
    ).json()
    assert only == {"md5": hash_bytes(data).md5}


def test_raw_lookup_shapes(service: Service) -> None:
    pdq, content_id = _bank_with_photo(service)
    near = flip_bits(pdq, 4)
    params = {"signal_type": "pdq", "signal": near}
    client = service.auth("client")
    assert service.client.get("/m/raw_lookup", params=params, headers=client).json() == {
        "matches": [content_id]
    }
    with_distance = service.client.get(
        "/m/raw_lookup", params={**params, "include_distance": "true"}, headers=client
    ).json()
    # HMA returns the distance as a string here.
    assert with_distance == {"matches": [{"bank_content_id": content_id, "distance": "4"}]}
    other_bank = service.client.get(
        "/m/raw_lookup", params={**params, "banks": "BANK_A"}, headers=client
    ).json()
    assert other_bank["matches"] == [content_id]


def test_lookup_by_signal_and_by_upload(service: Service) -> None:
    pdq, content_id = _bank_with_photo(service)
    client = service.auth("client")
    by_signal = service.client.get(
        "/m/lookup", params={"signal_type": "pdq", "signal": flip_bits(pdq, 9)}, headers=client
    ).json()
    assert by_signal == {"BANK_A": [{"bank_content_id": content_id, "distance": "9"}]}
    by_upload = service.client.post(
        "/m/lookup", files={"photo": ("p.jpg", image_bytes(11), "image/jpeg")}, headers=client
    ).json()
    assert by_upload == {"pdq": {"BANK_A": [{"bank_content_id": content_id, "distance": "0"}]}}


def test_compare(service: Service) -> None:
    a = hash_bytes(image_bytes(13)).pdq
    assert a is not None
    client = service.auth("client")
    answer = service.client.post("/m/compare", json={"pdq": [a, flip_bits(a, 9)]}, headers=client)
    assert answer.json() == {"pdq": [True, {"distance": 9}]}
    far = service.client.post("/m/compare", json={"pdq": [a, flip_bits(a, 100)]}, headers=client)
    assert far.json() == {"pdq": [False, {"distance": 100}]}
    three = service.client.post("/m/compare", json={"pdq": [a, a, a]}, headers=client)
    assert three.status_code == 400
    assert "message" in three.json()


def test_index_status(service: Service) -> None:
    _bank_with_photo(service)
    status = service.client.get("/m/index/status", headers=service.auth("client")).json()
    assert status["pdq"]["present"] is True
    assert status["pdq"]["size"] == 1
    assert isinstance(status["pdq"]["built_to"], int)


def test_curation_round_trip(service: Service) -> None:
    curator = service.auth("curator")
    assert (
        service.client.post(
            "/c/banks", json={"name": "TEST_BANK", "enabled_ratio": 1.0}, headers=curator
        ).status_code
        == 201
    )
    again = service.client.post("/c/banks", json={"name": "TEST_BANK"}, headers=curator)
    assert again.status_code == 403
    names = [b["name"] for b in service.client.get("/c/banks", headers=curator).json()]
    assert "TEST_BANK" in names
    assert (
        service.client.get("/c/bank/TEST_BANK", headers=curator).json()["matching_enabled_ratio"]
        == 1.0
    )
    assert service.client.get("/c/bank/NOPE", headers=curator).status_code == 404
    added = service.client.post(
        "/c/bank/TEST_BANK/content",
        params={"metadata": '{"content_id": "abc-1", "content_uri": "https://example.org/x"}'},
        files={"photo": ("p.jpg", image_bytes(14), "image/jpeg")},
        headers=curator,
    ).json()
    assert set(added["signals"]) == {"pdq"}
    content = service.client.get(
        f"/c/bank/TEST_BANK/content/{added['id']}?include_signals=true", headers=curator
    ).json()
    assert content["disable_until_ts"] == 1
    assert content["signals"] == added["signals"]
    disabled = service.client.put(
        f"/c/bank/TEST_BANK/content/{added['id']}", json={"disable_until_ts": 0}, headers=curator
    ).json()
    assert disabled["disable_until_ts"] == 0
    restored = service.client.put(
        f"/c/bank/TEST_BANK/content/{added['id']}", json={"disable_until_ts": 1}, headers=curator
    ).json()
    assert restored["disable_until_ts"] == 1
    deleted = service.client.delete(f"/c/bank/TEST_BANK/content/{added['id']}", headers=curator)
    assert deleted.json() == {"deleted": 1}
    assert service.client.delete("/c/bank/TEST_BANK", headers=curator).json() == {"message": "Done"}


def test_errors_are_json_messages(service: Service) -> None:
    client = service.auth("client")
    bad_type = service.client.get(
        "/m/raw_lookup", params={"signal_type": "nope", "signal": "00"}, headers=client
    )
    # HMA's body exactly: its clients read "message" (Bastion's /v1 adds "code").
    assert bad_type.status_code == 400
    assert set(bad_type.json()) == {"message"}
    missing = service.client.get("/m/raw_lookup", params={"signal_type": "pdq"}, headers=client)
    assert missing.status_code == 400
    assert set(missing.json()) == {"message"}
    assert missing.json()["message"]


def test_status_text(service: Service) -> None:
    answer = service.client.get("/status")
    assert answer.status_code == 200
    assert answer.text == "I-AM-ALIVE"


def test_allowlist_entries_never_appear_as_matches(service: Service) -> None:
    """An allowlist bank's entries are never answered as matches; they still suppress."""
    pdq, blocked_id = _bank_with_photo(service)
    Banks(service.state.store, actor="test").create("ALLOWED", kind=BankKind.ALLOWLIST)
    Banks(service.state.store, actor="test").add_signals(
        "ALLOWED", [Signal("pdq", pdq)], external_ids=["fp"]
    )
    service.state.refresh_now()
    allowed_id = first_entry_id(service.state.store, "ALLOWED", "fp")
    client = service.auth("client")
    params = {"signal_type": "pdq", "signal": pdq}
    raw = service.client.get("/m/raw_lookup", params=params, headers=client).json()
    assert raw == {"matches": [blocked_id]}
    assert allowed_id not in raw["matches"]
    with_distance = service.client.get(
        "/m/raw_lookup", params={**params, "include_distance": "true"}, headers=client
    ).json()
    assert [m["bank_content_id"] for m in with_distance["matches"]] == [blocked_id]
    only_allowlist = service.client.get(
        "/m/raw_lookup", params={**params, "banks": "ALLOWED"}, headers=client
    )
    assert only_allowlist.status_code == 400
    assert "allowlist" in only_allowlist.json()["message"]
    # /m/lookup applies the allowlist: the blocklist match is suppressed, and the
    # allowlist entry is not answered in its place.
    assert service.client.get("/m/lookup", params=params, headers=client).json() == {}
    by_upload = service.client.post(
        "/m/lookup", files={"photo": ("p.jpg", image_bytes(11), "image/jpeg")}, headers=client
    ).json()
    assert "ALLOWED" not in json.dumps(by_upload)
