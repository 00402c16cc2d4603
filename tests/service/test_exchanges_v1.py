"""/v1/exchanges: admins manage and sync, curators read; secrets are never shown or stored."""

from __future__ import annotations

import stat
from typing import Any

import pytest

from bastion.exchanges import lease
from bastion.exchanges.registry import APIS, exchange_row
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.service.conftest import Service
from tests.service.exchanges import PASSWORD, USER, ncmec, stored_text

__all__ = ["ncmec"]  # the fixture


def _add(service: Service, fake: FakeNcmec, name: str = "nc", secret: str | None = None) -> Any:
    body = {"name": name, "api": "ncmec", "bank": name.upper(), "url": fake.url}
    body["credentials"] = secret or f"{USER}:{PASSWORD}"
    answer = service.client.post("/v1/exchanges", json=body, headers=service.auth("admin"))
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_add_show_and_sync_now(service: Service, ncmec: FakeNcmec) -> None:
    added = _add(service, ncmec)
    own = service.state.settings.home / "secrets" / "exchanges" / "nc.cred"
    assert added["credentials"] == str(own)
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    admin, curator = service.auth("admin"), service.auth("curator")
    answers = [service.client.get("/v1/exchanges", headers=curator)]
    assert [info["name"] for info in answers[0].json()] == ["nc"]
    assert "credentials" not in answers[0].json()[0]
    answers.append(service.client.get("/v1/exchanges/nc", headers=curator))
    assert "credentials" not in answers[-1].json()
    answers.append(service.client.post("/v1/exchanges/nc/sync", headers=admin))
    started = answers[-1]
    assert started.status_code == 202
    assert started.json() == {
        "exchange": "nc",
        "status": "started",
        "status_url": "/v1/exchanges/nc",
    }
    assert started.headers["location"] == "/v1/exchanges/nc"
    # The test client runs the background sync before it answers.
    answers.append(service.client.get("/v1/exchanges/nc", headers=admin))
    done = answers[-1].json()
    assert done["last_status"] == "ok", done["last_error"]
    assert done["last_counts"]["added"] == 6
    assert done["syncing_by"] is None
    bank = service.client.get("/v1/banks/NC", headers=curator).json()
    assert bank["active"] == 6
    assert all(PASSWORD not in answer.text for answer in answers)
    assert PASSWORD.encode() not in stored_text(service.state.store)


def test_a_failed_sync_shows_its_error(service: Service, ncmec: FakeNcmec) -> None:
    _add(service, ncmec, secret=f"{USER}:not-the-password")
    admin = service.auth("admin")
    assert service.client.post("/v1/exchanges/nc/sync", headers=admin).status_code == 202
    info = service.client.get("/v1/exchanges/nc", headers=service.auth("curator")).json()
    assert info["last_status"] == "error"
    assert info["last_error"]
    assert info["last_success_at"] is None


def test_a_running_sync_makes_another_a_409(service: Service, ncmec: FakeNcmec) -> None:
    _add(service, ncmec)
    store = service.state.store
    with store.sessions() as session:
        exchange_id = exchange_row(session, "nc").id
    lease.take(store, exchange_id, "elsewhere:1:running")
    answer = service.client.post("/v1/exchanges/nc/sync", headers=service.auth("admin"))
    assert answer.status_code == 409
    assert answer.json()["code"] == "exchange-busy"
    info = service.client.get("/v1/exchanges/nc", headers=service.auth("admin")).json()
    assert info["last_status"] is None
    assert info["syncing_by"] == "elsewhere:1:running"


def test_api_credentials_are_the_default(service: Service, ncmec: FakeNcmec) -> None:
    admin = service.auth("admin")
    apis = service.client.get("/v1/exchanges/apis", headers=service.auth("curator")).json()
    assert {api["name"]: api["credentials_set"] for api in apis} == dict.fromkeys(APIS, False)
    assert {"ncmec", "stopncii", "url", "bastion"} <= set(APIS)
    body = {"name": "nc", "api": "ncmec", "bank": "NC", "url": ncmec.url}
    refused = service.client.post("/v1/exchanges", json=body, headers=admin)
    assert refused.status_code == 400
    assert refused.json()["code"] == "exchange-config"
    secret = {"credentials": f"{USER}:{PASSWORD}"}
    answer = service.client.put("/v1/exchanges/apis/ncmec/credentials", json=secret, headers=admin)
    assert answer.json() == {"api": "ncmec", "credentials_set": True}
    added = service.client.post("/v1/exchanges", json=body, headers=admin).json()
    assert added["credentials"] == str(service.state.settings.home / "secrets" / "ncmec.cred")
    malformed = {"credentials": "no-separator"}
    wrong = service.client.put(
        "/v1/exchanges/apis/ncmec/credentials", json=malformed, headers=admin
    )
    assert (wrong.status_code, wrong.json()["message"]) == (
        400,
        "credentials must be user:password",
    )
    assert PASSWORD not in answer.text + refused.text + wrong.text


def test_remove_keeps_the_bank_only_when_asked(service: Service, ncmec: FakeNcmec) -> None:
    admin = service.auth("admin")
    _add(service, ncmec, "kept")
    _add(service, ncmec, "gone")
    kept = service.client.delete("/v1/exchanges/kept", params={"keep_bank": True}, headers=admin)
    assert kept.json() == {"deleted": "kept", "bank": "KEPT", "bank_kept": True}
    assert service.client.get("/v1/banks/KEPT", headers=admin).status_code == 200
    assert service.client.delete("/v1/exchanges/gone", headers=admin).status_code == 200
    assert service.client.get("/v1/banks/GONE", headers=admin).status_code == 404
    secrets = service.state.settings.home / "secrets" / "exchanges"
    assert sorted(path.name for path in secrets.iterdir()) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/exchanges/nope"),
        ("DELETE", "/v1/exchanges/nope"),
        ("POST", "/v1/exchanges/nope/sync"),
    ],
)
def test_unknown_exchanges_are_404(service: Service, method: str, path: str) -> None:
    answer = service.client.request(method, path, headers=service.auth("admin"))
    assert (answer.status_code, answer.json()["code"]) == (404, "exchange-not-found")


def test_a_name_cannot_reach_outside_the_secrets_folder(service: Service) -> None:
    body = {"name": "../x", "api": "ncmec", "bank": "X", "env": "test", "credentials": "u:p"}
    answer = service.client.post("/v1/exchanges", json=body, headers=service.auth("admin"))
    assert answer.status_code == 400
    assert not (service.state.settings.home / "secrets" / "x.cred").exists()


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("curator", "GET", "/v1/exchanges", True),
        ("curator", "GET", "/v1/exchanges/apis", True),
        ("curator", "POST", "/v1/exchanges", False),
        ("curator", "POST", "/v1/exchanges/x/sync", False),
        ("curator", "DELETE", "/v1/exchanges/x", False),
        ("curator", "PUT", "/v1/exchanges/apis/ncmec/credentials", False),
        ("client", "GET", "/v1/exchanges", False),
        ("reviewer", "GET", "/v1/exchanges", False),
    ],
)
def test_roles(service: Service, role: str, method: str, path: str, allowed: bool) -> None:
    body = {"name": "x", "api": "ncmec", "bank": "X", "env": "test", "credentials": "u:p"}
    answer = service.client.request(method, path, headers=service.auth(role), json=body)
    assert (answer.status_code == 403) is not allowed, answer.text
