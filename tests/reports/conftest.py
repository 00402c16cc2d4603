"""A service whose reports go to a loopback fake CyberTipline, and confirmed items to report.

Items are queued through ``/v1/scan`` with the platform's context, claimed,
revealed (or not) and confirmed by a logged-in curator, so every report is
built from real review records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bastion.config import Settings
from bastion.reports.client import CyberTipClient
from bastion.reports.tipline import Person, Reporter
from bastion.review.vault import new_key
from tests.reports.fakes.cybertip import FakeCyberTipline
from tests.service.conftest import Service, image_bytes, start_service

USER, PASSWORD = "esp-user", "a test password"

#: The reporter every test installation reports as (placeholder people).
REPORTER = Reporter(
    Person("Pat", "Placeholder", ("reports@example.org",), ("+1 555 0100",)),
    Person("Sam", "Contact", ("legal@example.org",)),
    company_template="Example Platform: legal process to legal@example.org",
    terms_of_service="Uploads must follow the example terms.",
    legal_url="https://example.org/legal",
    esp_service="Example Photos",
)


def context(uploader: str = "user-1", **extra: Any) -> dict[str, Any]:
    """An upload's context as a platform sends it."""
    document: dict[str, Any] = {
        "uploader": {
            "id": uploader,
            "screen_name": f"{uploader}-name",
            "email": f"{uploader}@example.org",
        },
        "ip_events": [
            {"address": "192.0.2.10", "event": "Upload", "at": "2026-11-30T08:00:00Z", "port": 443},
            {"address": "2001:db8::1", "event": "Login", "at": "2026-11-30T07:55:00+01:00"},
        ],
        "uploaded_at": "2026-11-30T08:00:01Z",
        "url": f"https://example.org/p/{uploader}",
        "public": True,
    }
    document.update(extra)
    return document


@pytest.fixture
def cybertip() -> Iterator[FakeCyberTipline]:
    with FakeCyberTipline(username=USER, password=PASSWORD) as fake:
        yield fake


def credentials_file(folder: Path) -> Path:
    path = folder / "cybertip-credentials"
    path.write_text(f"{USER}:{PASSWORD}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def report_settings(settings: Settings, tmp_path: Path, cybertip: FakeCyberTipline) -> Settings:
    return replace(
        settings,
        media_keys=new_key(),
        index_refresh_seconds=1,
        cybertip_url=cybertip.url,
        cybertip_credentials=credentials_file(tmp_path),
    )


@dataclass
class Reporters:
    """The service, a logged-in curator, and how to make confirmed items."""

    service: Service
    curator: Any
    token: str
    seed: int = 0

    def item(
        self,
        data: bytes | None = None,
        *,
        upload_context: dict[str, Any] | None = None,
        reveal: bool = True,
        exif: bool = False,
        category: str = "ncmec:A1",
        name: str = "upload.jpg",
    ) -> int:
        """A confirmed item: scanned with its context, claimed, perhaps revealed, decided."""
        self.seed += 1
        form = {"enqueue_all": "true"}
        if upload_context is not None:
            form["context"] = json.dumps(upload_context)
        answer = self.service.client.post(
            "/v1/scan",
            files={"file": (name, data or image_bytes(self.seed), "application/octet-stream")},
            data=form,
            headers=self.service.auth("client"),
        )
        assert answer.status_code == 200, answer.text
        item = int(answer.json()["queued"])
        claimed = self.curator.post("/v1/review/claim", headers=self._csrf)
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["id"] == item
        if reveal:
            shown = self.curator.get(f"/v1/review/items/{item}/media", params={"reveal": "full"})
            assert shown.status_code == 200, shown.text
        if exif:
            fields = self.curator.post(f"/v1/review/items/{item}/exif", headers=self._csrf)
            assert fields.status_code == 200, fields.text
        decided = self.curator.post(
            f"/v1/review/items/{item}/decision",
            json={"decision": "confirmed", "category": category},
            headers=self._csrf,
        )
        assert decided.status_code == 200, decided.text
        return item

    @property
    def _csrf(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.token}


def fast_client(settings: Settings) -> Callable[[], CyberTipClient]:
    """The configured client without real waits between retries."""
    assert settings.cybertip_credentials is not None

    def make() -> CyberTipClient:
        return CyberTipClient(
            settings.cybertip_url, (USER, PASSWORD), attempts=3, backoff=0.0, sleep=lambda _: None
        )

    return make


@pytest.fixture
def reporters(report_settings: Settings) -> Iterator[Reporters]:
    for service in start_service(report_settings):
        service.state.reports.client_factory = fast_client(report_settings)
        service.state.reports.set_reporter(REPORTER, "test")
        service.add_user("curator1", "curator")
        curator, token = service.log_in("curator1")
        yield Reporters(service, curator, token)
