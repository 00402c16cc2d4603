"""Bank changes through ``/v1`` and the HMA routes are in the audit log with who made
them, written in the change's own transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from bastion import audit
from bastion.banks.bank import Banks
from bastion.cli import app
from bastion.config import Settings
from tests.service.conftest import Service

SIGNALS = [{"type": "md5", "value": "ab" * 16}]


def _shown(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Bank records as ``bastion audit show`` prints them, oldest first."""
    monkeypatch.setenv("BASTION_HOME", str(settings.home))
    monkeypatch.setenv("BASTION_DATABASE_URL", settings.store_url)
    runner = CliRunner()
    shown = runner.invoke(app, ["audit", "show", "--limit", "1000"])
    assert shown.exit_code == 0, shown.output
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    records = [json.loads(line) for line in reversed(shown.stdout.splitlines())]
    return [r for r in records if r["action"].startswith("bank.")]


def test_v1_bank_changes_name_the_key_or_the_person(
    service: Service, service_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, curator = service.client, service.auth("curator")
    service.add_user("cora", "curator")
    cora, token = service.log_in("cora")
    as_cora = {"X-CSRF-Token": token}
    answers = [
        client.post("/v1/banks", json={"name": "known"}, headers=curator),
        cora.patch("/v1/banks/known", json={"pdq_threshold": 20}, headers=as_cora),
        client.post("/v1/banks/known/entries", json={"signals": SIGNALS}, headers=curator),
        cora.post("/v1/banks/known/entries/withdraw", json={"signals": SIGNALS}, headers=as_cora),
        client.delete("/v1/banks/known", headers=curator),
    ]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200]
    records = _shown(service_settings, monkeypatch)
    assert [(r["actor"], r["action"], r["target"]) for r in records] == [
        ("key:curator-key", "bank.create", "bank:known"),
        ("user:cora", "bank.update", "bank:known"),
        ("key:curator-key", "bank.add", "bank:known"),
        ("user:cora", "bank.withdraw", "bank:known"),
        ("key:curator-key", "bank.delete", "bank:known"),
    ]
    assert records[1]["detail"] == {"pdq_threshold": 20}
    assert records[2]["detail"]["added"] == 1
    assert records[3]["detail"]["withdrawn"] == 1


def test_hma_bank_changes_name_the_key(
    service: Service, service_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, curator = service.client, service.auth("curator")
    assert client.post("/c/banks", json={"name": "HMA"}, headers=curator).status_code == 201
    added = client.post("/c/bank/HMA/signal", json={"md5": "cd" * 16}, headers=curator)
    assert added.status_code == 200, added.text
    content = f"/c/bank/HMA/content/{added.json()['id']}"
    for enabled in (False, True):
        answer = client.put(content, json={"enabled": enabled}, headers=curator)
        assert answer.status_code == 200, answer.text
    assert client.delete(content, headers=curator).status_code == 200
    assert client.delete("/c/bank/HMA", headers=curator).status_code == 200
    records = _shown(service_settings, monkeypatch)
    assert [(r["actor"], r["action"], r["target"]) for r in records] == [
        ("key:curator-key", "bank.create", "bank:HMA"),
        ("key:curator-key", "bank.add", "bank:HMA"),
        ("key:curator-key", "bank.withdraw", "bank:HMA"),
        ("key:curator-key", "bank.add", "bank:HMA"),
        ("key:curator-key", "bank.withdraw", "bank:HMA"),
        ("key:curator-key", "bank.delete", "bank:HMA"),
    ]
    assert [r["detail"].get("restored") for r in records] == [None, 0, None, 1, None, None]


class _Injected(Exception):
    pass


def test_a_change_whose_record_fails_is_not_made(
    service: Service, service_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record and the change commit together: if writing the record fails, the
    change rolls back with it (and so a change never stands unrecorded)."""
    client, curator = service.client, service.auth("curator")
    assert client.post("/v1/banks", json={"name": "known"}, headers=curator).status_code == 201

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise _Injected

    with monkeypatch.context() as patch:
        patch.setattr(audit, "_digest", failing)
        for change in (
            lambda: client.post("/v1/banks", json={"name": "other"}, headers=curator),
            lambda: client.post(
                "/v1/banks/known/entries", json={"signals": SIGNALS}, headers=curator
            ),
            lambda: client.patch("/v1/banks/known", json={"pdq_threshold": 5}, headers=curator),
            lambda: client.delete("/v1/banks/known", headers=curator),
        ):
            with pytest.raises(_Injected):
                change()
    banks = Banks(service.state.store, actor="test:check")
    assert [bank.name for bank in banks.list()] == ["known"]
    stats = banks.stats("known")
    assert (stats.active, stats.bank.pdq_threshold) == (0, 31)
    assert [r["action"] for r in _shown(service_settings, monkeypatch)] == ["bank.create"]
