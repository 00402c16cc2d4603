"""URL fetching: off by default; allowed hosts only; no redirects inward; capped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.service.errors import ApiError
from bastion.service.fetch import fetch
from tests.service.conftest import image_bytes

IMAGE = image_bytes(41)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/image.jpg":
            self.send_response(200)
            self.send_header("Content-Length", str(len(IMAGE)))
            self.end_headers()
            self.wfile.write(IMAGE)
        elif self.path == "/inward":
            self.send_response(302)
            self.send_header("Location", "http://localhost:1/secret")
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_off_by_default(origin: str) -> None:
    with pytest.raises(ApiError, match="BASTION_FETCH_HOSTS") as caught:
        fetch(f"{origin}/image.jpg", Settings())
    assert caught.value.status == 400


def test_allowed_host(origin: str) -> None:
    data, name = fetch(f"{origin}/image.jpg", Settings(fetch_hosts="127.0.0.1"))
    assert data == IMAGE
    assert name == "image.jpg"


def test_other_hosts_are_refused(origin: str) -> None:
    with pytest.raises(ApiError, match="not in BASTION_FETCH_HOSTS"):
        fetch(f"{origin}/image.jpg", Settings(fetch_hosts="example.org"))


def test_no_redirect_to_a_private_address(origin: str) -> None:
    settings = Settings(fetch_hosts="127.0.0.1,localhost")
    with pytest.raises(ApiError, match="not a public address"):
        fetch(f"{origin}/inward", settings)


def test_size_cap(origin: str) -> None:
    settings = Settings(fetch_hosts="127.0.0.1", max_upload_bytes=1000)
    with pytest.raises(ApiError) as caught:
        fetch(f"{origin}/image.jpg", settings)
    assert caught.value.status == 413


def test_hma_hash_by_url(origin: str, service_settings: Settings) -> None:
    from tests.service.conftest import start_service

    for service in start_service(replace(service_settings, fetch_hosts="127.0.0.1")):
        answer = service.client.get(
            "/h/hash", params={"url": f"{origin}/image.jpg"}, headers=service.auth("client")
        )
        assert answer.json()["pdq"] == hash_bytes(IMAGE).pdq
        refused = service.client.get(
            "/h/hash", params={"url": "file:///etc/passwd"}, headers=service.auth("client")
        )
        assert refused.status_code == 400
