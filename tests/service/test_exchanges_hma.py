"""HMA 2.0's exchange routes answer in HMA's shapes; secrets stay in files."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion.exchanges.ncmec import ENVIRONMENTS
from bastion.exchanges.registry import APIS
from bastion.exchanges.sync import sync_exchange
from tests.exchanges.fakes.ncmec import FakeNcmec
from tests.service.conftest import Service
from tests.service.exchanges import PASSWORD, USER, ncmec, stored_text

__all__ = ["ncmec"]  # the fixture

CREDENTIALS = {"credential_json": {"user": USER, "password": PASSWORD}}


class Answers:
    """Requests as one role, every answer kept (to look for secrets in them)."""

    def __init__(self, service: Service, role: str = "admin") -> None:
        self.service = service
        self.headers = service.auth(role)
        self.seen: list[httpx.Response] = []

    def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.service.client.request(method, path, headers=self.headers, **kwargs)
        self.seen.append(answer)
        return answer

    def assert_no_secret(self) -> None:
        for answer in self.seen:
            assert PASSWORD not in answer.text, answer.request.url


def _home(service: Service) -> Path:
    return service.state.settings.home


def test_apis_and_their_schemas(service: Service) -> None:
    call = Answers(service, "curator")
    assert call("GET", "/c/exchanges/apis").json() == list(APIS)
    schema = call("GET", "/c/exchanges/api/ncmec/schema").json()
    assert set(schema) == {"config_schema", "credentials_schema"}
    config = {f["name"]: f for f in schema["config_schema"]["fields"]}
    assert set(config) == {"url", "environment"}
    assert config["environment"]["type"] == "enum"
    assert ENVIRONMENTS["industry"] in config["environment"]["choices"]
    keys = {"name", "type", "required", "default", "help", "choices"}
    credentials = schema["credentials_schema"]["fields"]
    assert [f["name"] for f in credentials] == ["user", "password"]
    assert all(set(f) == keys and f["required"] for f in credentials)
    stopncii = call("GET", "/c/exchanges/api/stopncii/schema").json()
    names = [f["name"] for f in stopncii["credentials_schema"]["fields"]]
    assert "page_size" in [f["name"] for f in stopncii["config_schema"]["fields"]]
    assert names == ["subscription_key", "function_key"]
    missing = call("GET", "/c/exchanges/api/nope/schema")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Exchange API 'nope' not found"}
    unknown = call("GET", "/c/exchanges/api/nope")
    assert unknown.status_code == 400
    assert unknown.json() == {"message": "no such Exchange API 'nope'"}


def test_api_credentials_live_in_a_file_never_in_the_store_or_an_answer(
    service: Service, ncmec: FakeNcmec
) -> None:
    call = Answers(service)
    unset = {"supports_authentification": True, "has_set_authentification": False}
    assert call("GET", "/c/exchanges/api/ncmec").json() == unset
    assert call("POST", "/c/exchanges/api/ncmec", json=CREDENTIALS).json() == {
        **unset,
        "has_set_authentification": True,
    }
    secret = _home(service) / "secrets" / "ncmec.cred"
    assert secret.read_text() == f"{USER}:{PASSWORD}\n"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700

    body = {"bank": "NCMEC_A", "api": "ncmec", "api_json": {"url": ncmec.url}}
    created = call("POST", "/c/exchanges", json=body)
    assert (created.status_code, created.json()) == (201, {"message": "Created successfully"})
    assert call("GET", "/c/exchanges").json() == ["NCMEC_A"]
    shown = call("GET", "/c/exchange/NCMEC_A").json()
    assert shown == {
        "name": "NCMEC_A",
        "api": "ncmec",
        "enabled": True,
        "bank": "NCMEC_A",
        "url": ncmec.url,
        "credential_status": {"supports_auth": True, "has_credentials": True, "source": "api"},
    }
    never = call("GET", "/c/exchange/NCMEC_A/status").json()
    assert never == {
        "checkpoint_ts": None,
        "running_fetch_start_ts": None,
        "last_fetch_complete_ts": None,
        "last_fetch_succeeded": None,
        "up_to_date": False,
        "fetched_items": 0,
    }
    assert sync_exchange(service.state.store, "NCMEC_A").status == "ok"
    status = call("GET", "/c/exchange/NCMEC_A/status").json()
    assert status["last_fetch_succeeded"] is True
    assert status["up_to_date"] is True
    assert status["fetched_items"] == 3
    assert isinstance(status["checkpoint_ts"], int)
    assert status["last_fetch_complete_ts"] >= status["checkpoint_ts"]
    assert status["running_fetch_start_ts"] is None

    # null leaves the credentials, {} clears them.
    assert call("POST", "/c/exchanges/api/ncmec", json={"credential_json": None}).json()[
        "has_set_authentification"
    ]
    assert call("POST", "/c/exchanges/api/ncmec", json={"credential_json": {}}).json() == unset
    assert not secret.exists()
    call.assert_no_secret()
    assert PASSWORD.encode() not in stored_text(service.state.store)


def test_an_exchange_with_its_own_credentials_and_an_environment(service: Service) -> None:
    call = Answers(service)
    body = {
        "bank": "NCMEC_B",
        "api": "ncmec",
        "api_json": {"environment": ENVIRONMENTS["industry"], "only_esp_ids": []},
        **CREDENTIALS,
    }
    assert call("POST", "/c/exchanges", json=body).status_code == 201
    shown = call("GET", "/c/exchange/NCMEC_B").json()
    assert shown["environment"] == shown["url"] == ENVIRONMENTS["industry"]
    assert shown["credential_status"]["source"] == "exchange"
    own = _home(service) / "secrets" / "exchanges" / "NCMEC_B.cred"
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    # Bastion's name of an environment works as HMA's URL does.
    by_name = {**body, "bank": "NCMEC_C", "api_json": {"environment": "test"}}
    assert call("POST", "/c/exchanges", json=by_name).status_code == 201
    assert call("GET", "/c/exchange/NCMEC_C").json()["url"] == ENVIRONMENTS["test"]

    deleted = call("DELETE", "/c/exchange/NCMEC_B")
    assert (deleted.status_code, deleted.json()) == (200, {"message": "Exchange deleted"})
    assert not own.exists()
    assert call("GET", "/c/bank/NCMEC_B").status_code == 404
    assert call("DELETE", "/c/exchange/NCMEC_B").json() == {"message": "Exchange deleted"}
    for path in ("/c/exchange/NCMEC_B", "/c/exchange/NCMEC_B/status"):
        gone = call("GET", path)
        assert (gone.status_code, gone.json()) == (404, {"message": "Exchange 'NCMEC_B' not found"})
    assert call("GET", "/c/exchanges").json() == ["NCMEC_C"]
    call.assert_no_secret()
    assert PASSWORD.encode() not in stored_text(service.state.store)


def test_put_switches_scheduled_syncs(service: Service) -> None:
    call = Answers(service)
    body = {"bank": "NCMEC_D", "api": "ncmec", "api_json": {"environment": "test"}, **CREDENTIALS}
    assert call("POST", "/c/exchanges", json=body).status_code == 201
    off = call("PUT", "/c/exchange/NCMEC_D", json={"enabled": False})
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert "credential_status" not in off.json()
    assert call("GET", "/c/exchange/NCMEC_D").json()["enabled"] is False
    assert call("PUT", "/c/exchange/NCMEC_D", json={}).json()["enabled"] is False
    assert call("PUT", "/c/exchange/NOPE", json={"enabled": True}).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"api": "ncmec"}, "bank is required"),
        ({"bank": "lower", "api": "ncmec"}, "Field `bank` must match /^[A-Z0-9_]+$/"),
        ({"bank": "B", "api": "ncmec", "api_json": [1]}, "Field `api_json` must be object"),
        ({"bank": "B"}, "Field `api_type` is required"),
        ({"bank": "B", "api": "te"}, "No such exchange type 'te'"),
        (
            {"bank": "B", "api": "ncmec", "api_json": {"environment": "moon"}},
            "Failed to parse `api_json` - ncmec has no environment 'moon' (known: industry, ngo, "
            "exploitative, genai-csam, test, test-ngo, test-exploitative)",
        ),
        (
            {"bank": "B", "api": "ncmec", "api_json": {"url": "ftp://x"}},
            "Failed to parse `api_json` - give url (an http(s) URL) or environment",
        ),
        (
            {"bank": "B", "api": "ncmec", "api_json": {"url": "http://x", "ids": [1]}},
            "Failed to parse `api_json` - option 'ids' must be a string or a number",
        ),
        (
            {"bank": "B", "api": "ncmec", "api_json": {"url": "http://x"}},
            "no credentials for 'B': give its own, or set the ncmec API's first",
        ),
        (
            {
                "bank": "B",
                "api": "ncmec",
                "api_json": {"url": "http://x"},
                "credential_json": {"user": USER, "pass": PASSWORD},
            },
            "`credential_json` has unexpected fields; allowed fields: ['user', 'password']",
        ),
        (
            {
                "bank": "B",
                "api": "ncmec",
                "api_json": {"url": "http://x"},
                "credential_json": {"user": f"a:{PASSWORD}", "password": PASSWORD},
            },
            "`credential_json` field 'user' contains invalid characters",
        ),
    ],
)
def test_create_refusals_are_hmas(service: Service, body: dict[str, Any], message: str) -> None:
    answer = service.client.post("/c/exchanges", json=body, headers=service.auth("admin"))
    assert (answer.status_code, answer.json()) == (400, {"message": message})
    assert not (_home(service) / "secrets" / "exchanges" / "B.cred").exists()


def test_names_taken_are_refused(service: Service) -> None:
    call = Answers(service)
    body = {"bank": "TAKEN", "api": "ncmec", "api_json": {"environment": "test"}, **CREDENTIALS}
    assert call("POST", "/c/exchanges", json=body).status_code == 201
    again = call("POST", "/c/exchanges", json=body)
    assert (again.status_code, again.json()) == (403, {"message": "Exchange already exists"})
    assert call("POST", "/c/banks", json={"name": "MINE"}).status_code == 201
    bank = call("POST", "/c/exchanges", json={**body, "bank": "MINE"})
    assert (bank.status_code, bank.json()) == (403, {"message": "Bank already exists"})


def test_a_failed_sync_shows_in_the_status(service: Service, ncmec: FakeNcmec) -> None:
    call = Answers(service)
    wrong = {"credential_json": {"user": USER, "password": "not-the-password"}}
    body = {"bank": "NCMEC_E", "api": "ncmec", "api_json": {"url": ncmec.url}, **wrong}
    assert call("POST", "/c/exchanges", json=body).status_code == 201
    assert sync_exchange(service.state.store, "NCMEC_E").status == "error"
    status = call("GET", "/c/exchange/NCMEC_E/status").json()
    assert status["last_fetch_succeeded"] is False
    assert status["up_to_date"] is False
    assert isinstance(status["last_fetch_complete_ts"], int)
    assert status["fetched_items"] == 0


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("curator", "GET", "/c/exchanges", True),
        ("curator", "GET", "/c/exchanges/apis", True),
        ("curator", "GET", "/c/exchanges/api/ncmec", True),
        ("curator", "GET", "/c/exchanges/api/ncmec/schema", True),
        ("curator", "POST", "/c/exchanges", False),
        ("curator", "POST", "/c/exchanges/api/ncmec", False),
        ("curator", "PUT", "/c/exchange/X", False),
        ("curator", "DELETE", "/c/exchange/X", False),
        ("client", "GET", "/c/exchanges", False),
        ("reviewer", "GET", "/c/exchanges", False),
        ("admin", "GET", "/c/exchanges", True),
    ],
)
def test_roles(service: Service, role: str, method: str, path: str, allowed: bool) -> None:
    answer = service.client.request(method, path, headers=service.auth(role), json=CREDENTIALS)
    assert (answer.status_code == 403) is not allowed, answer.text
