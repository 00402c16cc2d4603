"""Decoding: containers, rotation, variable frame rate, limits and broken files."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bastion.config import Settings
from bastion.hashing import hash_bytes
from bastion.media.video import VideoOptions
from bastion.samples import encode_video, panning_frames
from bastion.signals.pdq import hamming, pdq_from_luma


def clip(frames: int = 90, **kwargs: object) -> bytes:
    return encode_video(panning_frames(320, 240, frames, scene_seconds=1), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("container", "codec", "mime"),
    [
        ("mp4", "libx264", "video/mp4"),
        ("mov", "libx264", "video/quicktime"),
        ("matroska", "libx264", "video/x-matroska"),
        ("webm", "libvpx-vp9", "video/webm"),
        ("avi", "mpeg4", "video/x-msvideo"),
    ],
)
def test_containers_hash_the_same_frames(container: str, codec: str, mime: str) -> None:
    reference = hash_bytes(clip()).video
    fingerprint = hash_bytes(clip(container=container, codec=codec))
    assert fingerprint.media_type == mime
    assert fingerprint.error is None
    assert fingerprint.video is not None
    assert reference is not None
    assert [f.frame for f in fingerprint.video.features] == [0, 30, 60]
    for ours, theirs in zip(fingerprint.video.features, reference.features, strict=True):
        assert hamming(ours.hex, theirs.hex) <= 31


def test_crypto_digests_cover_the_whole_file() -> None:
    import hashlib

    data = clip()
    fingerprint = hash_bytes(data)
    assert fingerprint.md5 == hashlib.md5(data).hexdigest()
    assert fingerprint.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_display_rotation_is_honoured(rotation: int) -> None:
    frames = list(panning_frames(320, 240, 1))
    fingerprint = hash_bytes(encode_video(frames, rotation=rotation))
    assert fingerprint.video is not None
    assert fingerprint.video.rotation == rotation % 360
    # What a player shows: the frame turned counter-clockwise by the rotation.
    gray = frames[0].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    upright = pdq_from_luma(np.rot90(gray, rotation // 90))[0].hex
    unturned = pdq_from_luma(gray)[0].hex
    hashed = fingerprint.video.features[0].hex
    assert hamming(hashed, upright) <= 31 < hamming(hashed, unturned)


def test_variable_frame_rate_is_sampled_by_time() -> None:
    times = [0.0, 0.1, 0.15, 1.2, 1.25, 2.5, 2.6, 3.9]
    fingerprint = hash_bytes(clip(len(times), times=times))
    assert fingerprint.video is not None
    features = fingerprint.video.features
    assert [f.timestamp for f in features] == pytest.approx([0.0, 1.2, 2.5, 3.9])
    assert [f.frame for f in features] == [0, 3, 5, 7]


def test_interval_and_pruning() -> None:
    data = encode_video(panning_frames(320, 240, 120, scene_seconds=8))
    half = hash_bytes(data, video=VideoOptions(interval=0.5)).video
    assert half is not None
    assert [f.timestamp for f in half.features] == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5])
    every = hash_bytes(data, video=VideoOptions(interval=0)).video
    pruned = hash_bytes(data, video=VideoOptions(interval=0, prune_bits=40)).video
    assert every is not None
    assert pruned is not None
    assert len(every.features) == 120
    assert 1 <= len(pruned.features) < 30
    kept = pruned.features
    assert all(hamming(a.hex, b.hex) > 40 for a, b in itertools.pairwise(kept))


def test_keyframes_only_decodes_keyframes() -> None:
    frames = panning_frames(320, 240, 90, scene_seconds=1)
    data = encode_video(frames)
    fingerprint = hash_bytes(data, video=VideoOptions(interval=0, keyframes_only=True))
    assert fingerprint.error is None
    assert fingerprint.video is not None
    assert 1 <= len(fingerprint.video.features) < 90
    assert fingerprint.video.features[0].frame == 0


def test_duration_and_frame_caps_stop_early_without_an_error() -> None:
    data = clip(150)
    capped = hash_bytes(data, settings=Settings(max_video_seconds=2)).video
    assert capped is not None
    assert [f.timestamp for f in capped.features] == [0, 1, 2]
    assert capped.stopped is not None
    assert "BASTION_MAX_VIDEO_SECONDS" in capped.stopped
    few = hash_bytes(data, settings=Settings(max_video_frames=2)).video
    assert few is not None
    assert len(few.features) == 2
    assert few.stopped is not None
    assert "BASTION_MAX_VIDEO_FRAMES" in few.stopped


def test_time_budget_keeps_the_frames_hashed_so_far() -> None:
    fingerprint = hash_bytes(clip(60), settings=Settings(video_time_budget=0))
    assert fingerprint.error is not None
    assert fingerprint.error.code == "time-budget"
    assert "BASTION_VIDEO_TIME_BUDGET" in fingerprint.error.message
    assert fingerprint.md5 is not None


def test_oversized_frames_are_refused_before_decoding() -> None:
    fingerprint = hash_bytes(clip(3), settings=Settings(max_pixels=320 * 240 - 1))
    assert fingerprint.error is not None
    assert fingerprint.error.code == "too-many-pixels"
    assert fingerprint.video is None


def test_truncated_video_keeps_earlier_frames_and_says_where_it_ends() -> None:
    data = clip(300, container="matroska")  # streamable: readable up to the cut
    fingerprint = hash_bytes(data[: len(data) // 2])
    assert fingerprint.error is not None
    assert fingerprint.error.code == "truncated"
    assert "frames before that were hashed" in fingerprint.error.message
    assert fingerprint.video is not None
    assert 3 <= len(fingerprint.video.features) < 10
    assert fingerprint.md5 is not None


@pytest.mark.parametrize("keep", [1000, 0.5])
def test_mp4_cut_before_its_index_is_a_corrupt_container(keep: float) -> None:
    data = clip(60)  # the muxer writes the index (moov) last
    fingerprint = hash_bytes(data[: int(keep if keep > 1 else len(data) * keep)])
    assert fingerprint.error is not None
    assert fingerprint.error.code == "corrupt-video"
    assert "cannot open" in fingerprint.error.message
    assert fingerprint.video is None
    assert fingerprint.md5 is not None


def test_audio_only_file_has_no_video_stream() -> None:
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        stream = output.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 8000
        for _ in range(4):
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    fingerprint = hash_bytes(buffer.getvalue())
    assert fingerprint.error is not None
    assert fingerprint.error.code == "no-video-stream"
    assert "audio" in fingerprint.error.message


def test_video_track_without_frames() -> None:
    import io

    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as output:
        stream = output.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        output.start_encoding()
    fingerprint = hash_bytes(buffer.getvalue())
    assert fingerprint.error is not None
    assert fingerprint.error.code == "no-frames"
    assert fingerprint.video is None


def test_video_options_are_validated() -> None:
    with pytest.raises(ValueError, match="interval"):
        VideoOptions(interval=-1)
    with pytest.raises(ValueError, match="prune"):
        VideoOptions(prune_bits=300)
