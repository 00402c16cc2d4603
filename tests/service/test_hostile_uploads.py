"""A hostile upload is a 422 with the reason on every media door, never a 500."""

from __future__ import annotations

import pytest

from bastion import hashing
from tests.media.hostile import unknown_codec_mp4
from tests.service.conftest import Service, image_bytes

DOORS = [
    ("/v1/hash", "file"),
    ("/v1/scan", "file"),
    ("/v1/match/upload", "file"),
    ("/h/hash", "photo"),
]


@pytest.mark.parametrize(("path", "field"), DOORS)
def test_video_without_a_decoder_is_422(service: Service, path: str, field: str) -> None:
    answer = service.client.post(
        path,
        files={field: ("v.mp4", unknown_codec_mp4(), "video/mp4")},
        headers=service.auth("client"),
    )
    assert answer.status_code == 422, answer.text
    assert "corrupt-video" in answer.text


@pytest.mark.parametrize(("path", "field"), DOORS)
def test_unexpected_exception_in_hashing_is_422(
    service: Service, path: str, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("decoder fell over")

    monkeypatch.setattr(hashing, "decode_for_pdq", explode)
    answer = service.client.post(
        path,
        files={field: ("p.jpg", image_bytes(5), "image/jpeg")},
        headers=service.auth("client"),
    )
    assert answer.status_code == 422, answer.text
    assert "internal: RuntimeError: decoder fell over" in answer.text
