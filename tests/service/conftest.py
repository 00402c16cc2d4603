"""A running service (in process, on SQLite and on PostgreSQL) and its people."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from fastapi.testclient import TestClient

from bastion.config import Settings
from bastion.review.vault import new_key
from bastion.samples import encode, photo_like
from bastion.service.app import create_app
from bastion.service.state import ServiceState

PASSWORD = "a long test password"


@dataclass
class Service:
    client: TestClient
    state: ServiceState
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def add_user(self, name: str, role: str = "reviewer") -> None:
        self.state.accounts.add_user(name, role, PASSWORD, actor="test")

    def log_in(self, name: str) -> tuple[TestClient, str]:
        """A separate client logged in as ``name``, and its CSRF token."""
        client = TestClient(self.client.app)
        page = client.get("/ui/login")
        token = csrf_in(page.text)
        answer = client.post(
            "/ui/login",
            data={"name": name, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        return client, csrf_in(client.get("/ui/").text)


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def image_bytes(seed: int, size: int = 256) -> bytes:
    return encode(photo_like(size, size, seed=seed))


@pytest.fixture
def service_settings(settings: Settings) -> Settings:
    return replace(settings, media_keys=new_key(), index_refresh_seconds=1)


def start_service(settings: Settings) -> Iterator[Service]:
    app = create_app(settings, wait_for_index=True)
    with TestClient(app) as client:
        state: ServiceState = app.state.bastion
        keys = {
            role: state.accounts.create_key(f"{role}-key", role, actor="test")[0]
            for role in ("client", "reviewer", "curator", "admin")
        }
        yield Service(client, state, keys)


@pytest.fixture
def service(service_settings: Settings) -> Iterator[Service]:
    yield from start_service(service_settings)
