"""``GET /v1/banks/{name}/changes``: a bank's changes in order, a page at a time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bastion.banks.changes import Position
from tests.service.conftest import Service


def md5(number: int) -> str:
    return f"{number:032x}"


def add(service: Service, bank: str, values: list[str], labels: list[str] | None = None) -> None:
    body = {"signals": [{"type": "md5", "value": v} for v in values], "labels": labels or []}
    answer = service.client.post(
        f"/v1/banks/{bank}/entries", json=body, headers=service.auth("curator")
    )
    assert answer.status_code == 200, answer.text


def withdraw(service: Service, bank: str, values: list[str]) -> None:
    body = {"signals": [{"type": "md5", "value": v} for v in values]}
    answer = service.client.post(
        f"/v1/banks/{bank}/entries/withdraw", json=body, headers=service.auth("curator")
    )
    assert answer.status_code == 200, answer.text


def page(
    service: Service, bank: str, role: str = "client", **params: object
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    answer = service.client.get(
        f"/v1/banks/{bank}/changes", params=params, headers=service.auth(role)
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert answer.text.endswith("\n")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    *changes, end = lines
    assert end["op"] == "end"
    return changes, end


def follow(
    service: Service, bank: str, after: str = "0", limit: int = 1000
) -> tuple[list[dict[str, Any]], str]:
    """Every change after ``after``, page by page; and where the follower ends."""
    seen: list[dict[str, Any]] = []
    while True:
        changes, end = page(service, bank, after=after, limit=limit)
        seen.extend(changes)
        if end["more"]:
            assert len(changes) == limit
        after = end["next"]
        if not end["more"]:
            return seen, after


@pytest.fixture
def bank(service: Service) -> str:
    created = service.client.post(
        "/v1/banks", json={"name": "feed"}, headers=service.auth("curator")
    )
    assert created.status_code == 201
    return "feed"


def test_changes_list_adds_and_withdrawals_in_order(service: Service, bank: str) -> None:
    add(service, bank, [md5(1), md5(2), md5(3)], labels=["partner:a"])
    withdraw(service, bank, [md5(2)])
    changes, end = page(service, bank)
    assert [(c["value"], c["op"]) for c in changes] == [
        (md5(1), "add"),
        (md5(3), "add"),
        (md5(2), "withdraw"),  # its latest change is the later one
    ]
    assert changes[0]["labels"] == ["partner:a"]
    assert changes[0]["signal_type"] == "md5"
    assert "external_id" in changes[0]
    positions = [(c["seq"], c["id"]) for c in changes]
    assert positions == sorted(positions)
    assert len(set(positions)) == 3
    assert end == {"op": "end", "next": f"{changes[-1]['seq']}.{changes[-1]['id']}", "more": False}


def test_after_and_limit_page_through_without_gaps_or_repeats(service: Service, bank: str) -> None:
    add(service, bank, [md5(n) for n in range(1, 8)])  # one seq for all seven
    add(service, bank, [md5(n) for n in range(8, 11)])
    everything, _ = page(service, bank)
    paged, last = follow(service, bank, limit=3)
    assert paged == everything
    assert len(paged) == 10
    # A page boundary inside one seq resumes inside it.
    first, end = page(service, bank, limit=3)
    assert end["more"] is True
    assert end["next"] == f"{first[-1]['seq']}.{first[-1]['id']}"
    assert first[-1]["seq"] == everything[3]["seq"]
    # Nothing new: an empty page that keeps the position.
    nothing, still = page(service, bank, after=last)
    assert nothing == []
    assert still == {"op": "end", "next": last, "more": False}
    # A new change comes after the position, and an entry changed again is listed anew.
    withdraw(service, bank, [md5(1)])
    add(service, bank, [md5(11)])
    later, _ = follow(service, bank, after=last)
    assert [(c["value"], c["op"]) for c in later] == [(md5(1), "withdraw"), (md5(11), "add")]
    # "S" alone is after every change numbered S.
    seq = everything[0]["seq"]
    after_seq, _ = page(service, bank, after=str(seq))
    assert all(c["seq"] > seq for c in after_seq)
    assert len(after_seq) == 3 + 2


def test_other_banks_changes_are_not_listed(service: Service, bank: str) -> None:
    service.client.post("/v1/banks", json={"name": "other"}, headers=service.auth("curator"))
    add(service, "other", [md5(1)])
    add(service, bank, [md5(2)])
    changes, _ = page(service, bank)
    assert [c["value"] for c in changes] == [md5(2)]


@pytest.mark.parametrize(
    ("role", "status"), [("client", 200), ("curator", 200), ("admin", 200), ("reviewer", 403)]
)
def test_readable_with_bank_read_access_only(
    service: Service, bank: str, role: str, status: int
) -> None:
    answer = service.client.get(f"/v1/banks/{bank}/changes", headers=service.auth(role))
    assert answer.status_code == status


def test_no_key_or_a_wrong_key_is_401(service: Service, bank: str) -> None:
    assert service.client.get(f"/v1/banks/{bank}/changes").status_code == 401
    wrong = {"Authorization": "Bearer bst_not-a-real-key"}
    assert service.client.get(f"/v1/banks/{bank}/changes", headers=wrong).status_code == 401


def test_unknown_bank_is_404(service: Service) -> None:
    answer = service.client.get("/v1/banks/nowhere/changes", headers=service.auth("client"))
    assert answer.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"after": "x"},
        {"after": "-1"},
        {"after": "1.2.3"},
        {"after": "99999999999999999999"},
        {"after": str(2**63)},
        {"limit": 0},
        {"limit": 10_001},
    ],
)
def test_bad_after_or_limit_is_a_client_error(
    service: Service, bank: str, params: dict[str, object]
) -> None:
    answer = service.client.get(
        f"/v1/banks/{bank}/changes", params=params, headers=service.auth("client")
    )
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["message"]


def test_limit_is_at_most_ten_thousand(service: Service, bank: str) -> None:
    add(service, bank, [md5(n) for n in range(1, 10_003)])
    changes, end = page(service, bank, limit=10_000)
    assert len(changes) == 10_000
    assert end["more"] is True
    default, _ = page(service, bank)
    assert len(default) == 1000


def test_position_text_round_trips() -> None:
    for text in ("0", "17", "17.4", f"{2**63 - 1}.{2**63 - 2}"):
        assert str(Position.parse(text)) == text
    assert Position.parse("5") > Position.parse("5.99") > Position.parse("4")
