"""vPDQ: decode a video's frames and hash them with PDQ, as Meta's vPDQ does.

Meta's vPDQ converts each frame to RGB and takes PDQ's luma of it; this
hashes the frame's own luma plane instead, which is the same luma up to a
gain and offset that PDQ's hash ignores (the quality is corrected by the
gain).  ``tests/signals/test_vpdq_conformance.py`` holds it to Meta's
reference hashes.
"""

from __future__ import annotations

from typing import BinaryIO

from bastion.config import Settings
from bastion.media.errors import MediaError
from bastion.media.video import VideoLimits, VideoOptions, VideoReader
from bastion.signals.pdq import pdq_from_luma
from bastion.signals.vpdq import VideoHash, VpdqFeature, prune


def video_limits(settings: Settings) -> VideoLimits:
    return VideoLimits(
        max_pixels=settings.max_pixels,
        max_seconds=settings.max_video_seconds,
        max_frames=settings.max_video_frames,
        time_budget=settings.video_time_budget,
    )


def hash_video(
    source: str | BinaryIO, settings: Settings, options: VideoOptions
) -> tuple[VideoHash | None, MediaError | None]:
    """The video's hash and the problem that cut it short, if any.

    A video that cannot be opened at all gives no hash; one damaged or
    stopped part-way keeps the frames hashed before, with the problem.
    """
    try:
        reader = VideoReader(source, video_limits(settings))
    except MediaError as exc:
        return None, exc
    with reader:
        features = [
            VpdqFeature(frame.number, hashed.quality, hashed.hex, frame.timestamp)
            for frame in reader.frames(options)
            for hashed in pdq_from_luma(frame.luma, luma_gain=frame.luma_gain)
        ]
    if options.prune_bits is not None:
        features = list(prune(features, options.prune_bits))
    info, report = reader.info, reader.report
    video = VideoHash(
        features=tuple(features),
        frames_decoded=report.frames_decoded,
        interval=options.interval,
        codec=info.codec,
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration=info.duration,
        rotation=report.rotation,
        stopped=report.stopped,
    )
    return video, report.error
