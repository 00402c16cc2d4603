"""vPDQ against Meta's reference hashes (../shared/testdata/vpdq)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.hashing import hash_file
from bastion.media.video import VideoOptions
from bastion.signals.pdq import hamming
from bastion.signals.vpdq import VpdqFeature, match_percentages, parse_vpdq

VIDEOS = [
    "chair-19-sd-bar",
    "chair-20-sd-bar",
    "doorknob-hd-no-bar",
    "pattern-sd-grey-bar",
    "test-padded-dimensions",
]


def reference(testdata: Path, name: str) -> tuple[VpdqFeature, ...]:
    return parse_vpdq((testdata / "vpdq" / f"{name}.vpdq.txt").read_text())


def every_frame(testdata: Path, name: str) -> tuple[VpdqFeature, ...]:
    fingerprint = hash_file(testdata / "vpdq" / f"{name}.mp4", video=VideoOptions(interval=0))
    assert fingerprint.error is None
    assert fingerprint.video is not None
    return fingerprint.video.features


@pytest.mark.parametrize("name", VIDEOS)
def test_every_frame_matches_meta_reference(testdata: Path, name: str) -> None:
    ours = every_frame(testdata, name)
    theirs = reference(testdata, name)
    assert [f.frame for f in ours] == [f.frame for f in theirs]
    for mine, meta in zip(ours, theirs, strict=True):
        assert mine.timestamp == pytest.approx(meta.timestamp, abs=0.001)
    good = [meta for meta in theirs if meta.quality >= 50]
    close = [
        mine
        for mine, meta in zip(ours, theirs, strict=True)
        if meta.quality >= 50 and hamming(mine.hex, meta.hex) <= 31
    ]
    assert len(close) >= 0.95 * len(good)
    # Quality is the reference's too (within rounding of the luma range).
    assert all(
        abs(mine.quality - meta.quality) <= 2 for mine, meta in zip(ours, theirs, strict=True)
    )


def test_one_frame_a_second_is_metas_frame_selection(testdata: Path) -> None:
    fingerprint = hash_file(testdata / "vpdq" / "chair-19-sd-bar.mp4")
    assert fingerprint.video is not None
    # 30 fps: Meta's vPDQ hashes frames 0, 30, 60 ... at one frame a second.
    assert [f.frame for f in fingerprint.video.features] == list(range(0, 564, 30))
    assert [f.timestamp for f in fingerprint.video.features] == [float(s) for s in range(19)]


def test_edits_of_one_clip_match_and_other_clips_do_not(testdata: Path) -> None:
    hashes = {name: every_frame(testdata, name) for name in VIDEOS[:4]}
    chair = match_percentages(hashes["chair-19-sd-bar"], hashes["chair-20-sd-bar"])
    assert chair.matches()
    assert match_percentages(hashes["chair-20-sd-bar"], hashes["chair-19-sd-bar"]).matches()
    for chair_clip in ("chair-19-sd-bar", "chair-20-sd-bar"):
        for other in ("doorknob-hd-no-bar", "pattern-sd-grey-bar"):
            assert not match_percentages(hashes[chair_clip], hashes[other]).matches()
            assert not match_percentages(hashes[other], hashes[chair_clip]).matches()


def test_reference_hashes_agree_with_ours_under_metas_rule(testdata: Path) -> None:
    # Our hash of chair-19 against Meta's own hash of chair-20: interoperable.
    ours = every_frame(testdata, "chair-19-sd-bar")
    assert match_percentages(ours, reference(testdata, "chair-20-sd-bar")).matches()
    assert match_percentages(ours, reference(testdata, "chair-19-sd-bar")).query_percent == 100
