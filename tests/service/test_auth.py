"""Every route but health needs credentials; roles limit what each may do."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import select

from bastion import audit
from bastion.accounts import AccountError, Accounts, passwords, sessions
from bastion.service import security
from bastion.store import Store
from bastion.store.models import ApiKey, User
from tests.service.conftest import PASSWORD, Service, csrf_in

HEALTH = {"/v1/health", "/v1/ready", "/status", "/status/live"}


def _example(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_in_the_schema_rejects_anonymous_requests(service: Service) -> None:
    schema = service.client.get("/openapi.json", headers=service.auth("client")).json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method in operations:
            answer = service.client.request(method, _example(path))
            if path in HEALTH:
                assert answer.status_code in (200, 503), (method, path)
                continue
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
            assert "message" in answer.json()
            checked += 1
    assert checked >= 40  # the API, the HMA routes and the review queue


def test_every_route_rejects_a_wrong_key(service: Service) -> None:
    schema = service.client.get("/openapi.json", headers=service.auth("client")).json()
    wrong = {"Authorization": "Bearer bst_000000000000_not-a-real-secret"}
    for path, operations in schema["paths"].items():
        if path in HEALTH:
            continue
        for method in operations:
            assert service.client.request(method, _example(path), headers=wrong).status_code == 401


@pytest.mark.parametrize(
    ("role", "method", "path", "allowed"),
    [
        ("client", "get", "/v1/review/counts", False),
        ("client", "post", "/v1/review/claim", False),
        ("client", "get", "/v1/banks", True),
        ("client", "post", "/v1/banks", False),
        ("reviewer", "post", "/v1/banks", False),
        ("reviewer", "post", "/c/banks", False),
        ("reviewer", "get", "/v1/users", False),
        ("curator", "get", "/v1/users", False),
        ("curator", "post", "/v1/apikeys", False),
        ("curator", "get", "/v1/audit", False),
        ("admin", "get", "/v1/users", True),
        ("admin", "get", "/v1/audit/verify", True),
    ],
)
def test_roles(service: Service, role: str, method: str, path: str, allowed: bool) -> None:
    body = (
        {"name": "newbank"}
        if path in ("/v1/banks", "/c/banks")
        else {"name": "k", "role": "client"}
    )
    answer = service.client.request(
        method, path, headers=service.auth(role), json=body if method == "post" else None
    )
    if allowed:
        assert answer.status_code < 400, answer.text
    else:
        assert answer.status_code == 403, (answer.status_code, answer.text)


def test_keys_are_stored_as_digests_and_revocable(service: Service) -> None:
    created = service.client.post(
        "/v1/apikeys", json={"name": "temp", "role": "client"}, headers=service.auth("admin")
    ).json()
    secret, prefix = created["key"], created["prefix"]
    with service.state.store.sessions() as session:
        stored = session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one()
    assert secret.split("_")[-1] not in (stored.digest, stored.prefix)
    auth = {"Authorization": f"Bearer {secret}"}
    assert service.client.get("/v1/banks", headers=auth).status_code == 200
    service.client.delete(f"/v1/apikeys/{prefix}", headers=service.auth("admin"))
    service.client.app.state.key_cache = security.KeyCache()  # what 5 s would do
    assert service.client.get("/v1/banks", headers=auth).status_code == 401


def test_passwords_are_argon2_hashed(service: Service) -> None:
    service.add_user("carol")
    with service.state.store.sessions() as session:
        stored = session.execute(select(User).where(User.name == "carol")).scalar_one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    with pytest.raises(AccountError, match="at least 12"):
        Accounts(service.state.store).add_user("dave", "reviewer", "short", actor="test")


def test_ui_posts_need_the_csrf_token(service: Service) -> None:
    service.add_user("erin")
    client, token = service.log_in("erin")
    assert client.post("/ui/claim", data={}, follow_redirects=False).status_code == 403
    assert (
        client.post("/ui/claim", data={"csrf_token": "forged"}, follow_redirects=False).status_code
        == 403
    )
    ok = client.post("/ui/claim", data={"csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    # The JSON API over the session cookie needs the header.
    assert client.post("/v1/review/claim").status_code == 403
    assert client.post("/v1/review/claim", headers={"X-CSRF-Token": token}).status_code in (
        200,
        204,
    )


def test_login_failures_are_audited_and_give_no_session(service: Service) -> None:
    service.add_user("frank")
    client = service.client
    token = csrf_in(client.get("/ui/login").text)
    answer = client.post(
        "/ui/login",
        data={"name": "frank", "password": "wrong password!", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 200
    assert "Wrong name or password" in answer.text
    assert "bastion_session" not in answer.cookies
    actions = [r["action"] for r in client.get("/v1/audit", headers=service.auth("admin")).json()]
    assert "login.failed" in actions


def test_logout_ends_the_session(service: Service) -> None:
    service.add_user("gina")
    client, token = service.log_in("gina")
    assert client.get("/ui/", follow_redirects=False).status_code == 200
    cookie = client.cookies["bastion_session"]
    client.post("/ui/logout", data={"csrf_token": token}, follow_redirects=False)
    # The old cookie, sent again, is dead: the session ended on the server.
    replayed = service.client.get("/v1/review/counts", cookies={"bastion_session": cookie})
    assert replayed.status_code == 401


def _failed_logins(store: Store) -> list[dict[str, Any]]:
    return [
        {"actor": r.actor, **json.loads(r.detail)}
        for r in reversed(audit.recent(store, limit=1000))
        if r.action == "login.failed"
    ]


def _wrong_logins(service: Service, names: list[str]) -> list[int]:
    """Statuses of wrong logins through the form (each answer carries the next token)."""
    page = service.client.get("/ui/login")
    statuses = []
    for name in names:
        page = service.client.post(
            "/ui/login",
            data={"name": name, "password": "wrong password!", "csrf_token": csrf_in(page.text)},
            follow_redirects=False,
        )
        statuses.append(page.status_code)
    return statuses


def test_a_login_flood_is_throttled_by_address_and_audited_in_one_record(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 wrong logins with 200 names from one address: the address is throttled
    (429) and the audit log gets two records that count them all."""
    monkeypatch.setattr(passwords, "verify_password", lambda stored, password: False)
    statuses = _wrong_logins(service, [f"name{i}" for i in range(200)])
    assert statuses == [200] * 10 + [429] * 190
    assert len(_failed_logins(service.state.store)) == 1  # the first, at once
    service.state.accounts.flush_failed_logins()  # as when the window ends or the service stops
    first, rest = _failed_logins(service.state.store)
    assert first["actor"] == "user:name0"
    assert rest["actor"] == "address:testclient"
    assert (rest["failed"], rest["throttled"]) == (9, 190)
    assert len(rest["names"]) == sessions.NAMES_RECORDED


def test_one_name_is_throttled_too(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "verify_password", lambda stored, password: False)
    statuses = _wrong_logins(service, ["frank"] * 6)
    assert statuses == [200] * 5 + [429]


def test_failed_logins_are_counted_per_window(store: Store) -> None:
    now = [0.0]
    users = Accounts(store, clock=lambda: now[0])
    for name in ("a1", "a2", "a3"):
        assert users.open_session(name, "wrong password!", hours=1, address="192.0.2.1") is None
    assert users.open_session("b1", "wrong password!", hours=1, address="192.0.2.2") is None
    assert [r["actor"] for r in _failed_logins(store)] == ["user:a1", "user:b1"]
    now[0] = sessions.FAILED_LOGIN_WINDOW + 1
    # A failure after the window records the window's count and opens a new one.
    assert users.open_session("a4", "wrong password!", hours=1, address="192.0.2.1") is None
    records = _failed_logins(store)
    assert [r["actor"] for r in records] == [
        "user:a1",
        "user:b1",
        "address:192.0.2.1",
        "user:a4",
    ]
    assert (records[2]["failed"], records[2]["names"]) == (2, ["a2", "a3"])


def test_every_login_checks_one_password_hash(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown, disabled and known users cost the same: one Argon2 check each, so
    the answer's time does not tell which names exist."""
    users = Accounts(store)
    users.add_user("known", "reviewer", PASSWORD, actor="test")
    users.add_user("gone", "reviewer", PASSWORD, actor="test")
    users.disable_user("gone", actor="test")
    checked: list[str] = []
    real = passwords.verify_password

    def spy(stored: str, password: str) -> bool:
        checked.append(stored)
        return real(stored, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    for name in ("nobody", "gone", "known"):
        checked.clear()
        assert users.open_session(name, "wrong password!", hours=1) is None
        assert len(checked) == 1, name
        assert checked[0].startswith("$argon2id$")
    assert users.open_session("known", PASSWORD, hours=1) is not None
