"""The service's own protections: body size, however the body is sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bastion.config import Settings
from tests.service.conftest import image_bytes, start_service

BOUNDARY = "test-boundary"


def _multipart(data: bytes, field: str = "file") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _chunked(body: bytes, size: int = 4096) -> Iterator[bytes]:
    """No Content-Length: the client sends the body in chunks."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize(("path", "field"), [("/v1/hash", "file"), ("/h/hash", "photo")])
def test_chunked_uploads_over_the_limit_are_413(
    service_settings: Settings, path: str, field: str
) -> None:
    for service in start_service(replace(service_settings, max_upload_bytes=10_000)):
        answer = service.client.post(
            path,
            content=_chunked(_multipart(image_bytes(5, size=512), field)),
            headers={
                **service.auth("client"),
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
        assert answer.status_code == 413, answer.text
        assert "BASTION_MAX_UPLOAD_BYTES" in answer.json()["message"]
