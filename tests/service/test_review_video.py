"""Queued videos have a preview: a contact sheet of keyframes with their times,
protected like images, with the vPDQ's matched times marked on a timeline."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.review.items import Reveal
from bastion.review.render import TILE_SIDE, TIMELINE_HEIGHT, contact_sheet, matched_ranges
from bastion.samples import encode_video, panning_frames
from bastion.video_hashing import video_limits
from tests.service.conftest import Service


def _video() -> bytes:
    return encode_video(panning_frames(320, 240, 90, scene_seconds=1))


def _sharpness(image: Image.Image) -> float:
    """Inside the first keyframe's tile (not its frame or label, which are always sharp)."""
    grey = np.asarray(image.convert("L"), dtype=np.float64)[4:140, 4 : TILE_SIDE - 4]
    return float(np.abs(np.diff(grey, axis=1)).mean())


def test_a_queued_video_shows_a_protected_contact_sheet(service: Service) -> None:
    data = _video()
    found = hash_bytes(data)
    assert found.video is not None
    curator = service.auth("curator")
    service.client.post("/v1/banks", json={"name": "videos"}, headers=curator)
    service.client.post(
        "/v1/banks/videos/entries",
        json={"signals": [{"type": "vpdq", "value": found.video.signal_value}]},
        headers=curator,
    )
    scanned = service.client.post(
        "/v1/scan",
        files={"file": ("clip.mp4", data, "video/mp4")},
        data={"enqueue": "true"},
        headers=service.auth("client"),
    ).json()
    assert scanned["verdict"] == "known"
    assert matched_ranges(scanned["result"])  # the match says where in the video
    service.add_user("vera")
    client, token = service.log_in("vera")
    item = client.post("/v1/review/claim", headers={"X-CSRF-Token": token}).json()["id"]

    protected = client.get(f"/v1/review/items/{item}/media")
    assert protected.status_code == 200, protected.text
    assert protected.headers["content-type"] == "image/jpeg"
    assert protected.headers["X-Bastion-Reveals"] == "0"
    sheet = Image.open(io.BytesIO(protected.content))
    assert sheet.mode == "L"
    full = client.get(f"/v1/review/items/{item}/media", params={"reveal": "full"})
    assert full.headers["X-Bastion-Reveals"] == "1"  # a reveal, recorded like an image's
    shown = Image.open(io.BytesIO(full.content))
    assert _sharpness(sheet) < _sharpness(shown) / 2

    page = client.get(f"/ui/items/{item}").text
    assert 'alt="Contact sheet of the queued video, blurred and in greyscale"' in page


def test_matched_times_are_marked_on_the_timeline(settings: Settings) -> None:
    data = _video()
    limits = video_limits(settings)

    def timeline(ranges: list[tuple[float, float]]) -> np.ndarray:
        sheet = Image.open(io.BytesIO(contact_sheet(data, None, limits=limits, matched=ranges)))
        band = np.asarray(sheet, dtype=np.float64)[-TIMELINE_HEIGHT + 3 : -3]
        return band.mean(axis=0)

    plain = timeline([])
    marked = timeline([(1.0, 2.0)])
    width = marked.size
    assert plain.max() < 100  # nothing marked
    assert marked[width // 2] > 200  # the middle third of a 3 s video is marked
    assert marked[width // 10] < 100
    assert marked[9 * width // 10] < 100


def test_the_sheet_labels_each_keyframe_with_its_time(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import ImageDraw

    drawn: list[str] = []
    original = ImageDraw.ImageDraw.text

    def spy(self, xy, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(str(text))
        return original(self, xy, text, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    contact_sheet(_video(), Reveal.FULL, limits=video_limits(settings), matched=[(0.0, 0.5)])
    assert drawn == ["0.0 s  match"]  # one keyframe in this short clip, inside the match
