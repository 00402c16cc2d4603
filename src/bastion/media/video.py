"""Video frames for hashing: decoded with PyAV, streamed, sampled by time.

PyAV carries its own FFmpeg, so no system FFmpeg is needed.  Frames are
decoded one at a time and handed over as their luma plane (the Y plane of
YUV video, which is what PDQ's luma is, without a conversion to RGB), so a
two-hour 1080p video takes the memory of a few frames.

Sampling is by presentation time, not frame count: a frame is taken when
its timestamp reaches the next multiple of the interval, so variable frame
rate video is sampled evenly.  For constant frame rates this picks the
frames Meta's vPDQ picks (every ``fps * interval``-th frame).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import numpy.typing as npt

from bastion.media.errors import (
    CorruptVideo,
    MediaError,
    NoFrames,
    NoVideoStream,
    TimeBudgetExceeded,
    TooManyPixels,
    TruncatedVideo,
)

# PyAV (FFmpeg, ~25 MB resident) is imported by the methods that decode, so that
# modules needing only VideoOptions or VideoLimits do not load it.
if TYPE_CHECKING:
    import av
    import av.video

#: FFmpeg pixel formats whose first plane is 8-bit luma.
_YUV8 = frozenset(
    {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"}
    | {"yuv410p", "yuv411p", "yuv440p", "yuvj440p", "gray", "yuva420p"}
)
#: Full-range formats: luma already spans 0-255.
_FULL_RANGE = frozenset({"yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "gray"})
#: Limited-range luma spans 16-235; PDQ's quality is measured on 0-255.
LIMITED_RANGE_GAIN = 255 / 219
#: A stream is called truncated when it ends this much before its declared end.
_TRUNCATION_SLACK = 2.0


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """Which frames are hashed."""

    #: Seconds between hashed frames; 0 hashes every frame.
    interval: float = 1.0
    #: Decode only keyframes (much faster; frames between them are never seen).
    keyframes_only: bool = False
    #: Drop a frame within this many bits of the last kept one (None: keep all).
    prune_bits: int | None = None

    def __post_init__(self) -> None:
        if not self.interval >= 0 or math.isinf(self.interval):
            raise ValueError(f"frame interval must be 0 or more seconds, got {self.interval}")
        if self.prune_bits is not None and not 0 <= self.prune_bits <= 256:
            raise ValueError(f"prune distance must be 0-256 bits, got {self.prune_bits}")


@dataclass(frozen=True, slots=True)
class VideoLimits:
    """What one video may cost; reaching a limit stops decoding early."""

    max_pixels: int
    #: Seconds of video hashed; later frames are not decoded.
    max_seconds: float
    #: Frames hashed.
    max_frames: int
    #: Wall-clock seconds spent decoding one video.
    time_budget: float


@dataclass(frozen=True, slots=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    #: Average frame rate, when the container states one.
    fps: float | None
    #: Declared duration of the video track in seconds, when known.
    duration: float | None


@dataclass(frozen=True, slots=True)
class Frame:
    """One sampled frame: its luma, upright, and where it sits in the video."""

    #: Index of the frame among all decoded frames (Meta's frame number).
    number: int
    timestamp: float
    luma: npt.NDArray[np.uint8]
    #: Factor that takes this luma to the 0-255 range of RGB luma.
    luma_gain: float


@dataclass(slots=True)
class DecodeReport:
    """What decoding got through, filled in while frames are read."""

    frames_decoded: int = 0
    last_timestamp: float | None = None
    #: How far into the stream the demuxer got (packet times), in seconds.
    reached: float = 0.0
    #: Why decoding stopped before the end, when a limit stopped it.
    stopped: str | None = None
    #: A problem with the stream that did not stop the frames before it.
    error: MediaError | None = None
    #: Counter-clockwise degrees the display matrix turns frames (0 without one).
    rotation: int = 0


class VideoReader:
    """An open video: ``info``, then :meth:`frames` once.

    Use as a context manager; the container is closed on exit.
    """

    def __init__(self, source: str | BinaryIO, limits: VideoLimits) -> None:
        self.limits = limits
        self.report = DecodeReport()
        import av

        try:
            self._container = av.open(source, mode="r", metadata_errors="ignore")
        except av.error.EOFError:
            raise NoFrames("the file ends before its first frame (empty or cut short)") from None
        except (av.FFmpegError, UnicodeDecodeError) as exc:
            raise CorruptVideo(f"cannot open the video container: {_reason(exc)}") from None
        try:
            self._stream = self._video_stream()
            self.info = self._describe()
        except BaseException:
            self._container.close()
            raise

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *_: object) -> None:
        self._container.close()

    def _video_stream(self) -> av.video.stream.VideoStream:
        streams = self._container.streams
        if not streams.video:
            found = ", ".join(sorted({s.type for s in streams})) or "none"
            raise NoVideoStream(f"the container has no video track (streams: {found})")
        stream = streams.video[0]
        if stream.codec_context is None:
            # FFmpeg knows no decoder for the track's codec tag (a damaged or
            # made-up sample entry): there is nothing to decode frames with.
            raise CorruptVideo("the video track names a codec no decoder is known for")
        stream.thread_type = "AUTO"
        return stream

    def _describe(self) -> VideoInfo:
        import av

        stream = self._stream
        context = stream.codec_context
        width, height = context.width, context.height
        if width <= 0 or height <= 0:
            raise CorruptVideo(f"the video track declares a frame size of {width}x{height}")
        if width * height > self.limits.max_pixels:
            raise TooManyPixels(
                f"{width}x{height} frames exceed the limit of {self.limits.max_pixels:,} pixels "
                "(BASTION_MAX_PIXELS)"
            )
        rate = stream.average_rate or stream.guessed_rate
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration is not None and len(self._container.streams) == 1:
            # The container's duration is the video's only when nothing else
            # (a longer audio track) is in it.
            duration = self._container.duration / av.time_base
        return VideoInfo(
            codec=context.name,
            width=width,
            height=height,
            fps=float(rate) if rate else None,
            duration=duration,
        )

    def frames(self, options: VideoOptions) -> Iterator[Frame]:
        """Sampled frames, in order; ``report`` says how far decoding got.

        Damaged packets are skipped (as players do) and reported once at the
        end; a limit stops decoding and is noted in ``report.stopped``.
        """
        if options.keyframes_only:
            self._stream.codec_context.skip_frame = "NONKEY"
        # Sampling a constant frame rate video can leave out the frames nothing
        # refers to (unless one is due); their numbers follow from their times.
        fps = self.info.fps
        sparse = (
            not options.keyframes_only
            and self._constant_rate()
            and options.interval * (fps or 0) > 1.5
        )
        limits, report = self.limits, self.report
        started = time.monotonic()
        next_due = 0.0
        hashed = bad_packets = 0
        first_bad: float | None = None
        for frame in self._decoded(options.interval if sparse else 0.0):
            if isinstance(frame, _BadPacket):
                bad_packets += 1
                first_bad = report.last_timestamp if first_bad is None else first_bad
                continue
            number = report.frames_decoded
            report.frames_decoded += 1
            moment = self._timestamp(frame, number)
            if (options.keyframes_only or sparse) and fps:
                number = round(moment * fps)  # frames between may have been skipped
            report.last_timestamp = moment
            if moment > limits.max_seconds:
                report.stopped = (
                    f"hashed the first {limits.max_seconds:g} s only (BASTION_MAX_VIDEO_SECONDS)"
                )
                break
            if time.monotonic() - started > limits.time_budget:
                report.error = TimeBudgetExceeded(
                    f"stopped after {limits.time_budget:g} s of decoding, at {moment:.1f} s of "
                    "the video (BASTION_VIDEO_TIME_BUDGET)"
                )
                break
            if options.interval and moment < next_due - 1e-6:
                continue
            if options.interval:
                next_due = (math.floor(moment / options.interval + 1e-6) + 1) * options.interval
            yield self._frame(frame, number, moment)
            hashed += 1
            if hashed >= limits.max_frames:
                report.stopped = (
                    f"hashed the first {limits.max_frames:,} frames only (BASTION_MAX_VIDEO_FRAMES)"
                )
                break
        if report.stopped is None and report.error is None:
            report.error = self._ending_problem(bad_packets, first_bad)

    def _decoded(self, interval: float) -> Iterator[av.VideoFrame | _BadPacket]:
        """Decoded frames, and a marker for each packet that failed.

        With an ``interval``, a packet whose frame is not the first at or
        after a multiple of it is decoded with ``skip_frame=NONREF``: the
        decoder drops it if no other frame refers to it (B-frames, mostly),
        which changes no frame it does decode - only time is saved.
        """
        import av

        start = self._stream.start_time or 0
        context = self._stream.codec_context
        step = 1 / self.info.fps if self.info.fps else 0.0
        try:
            for packet in self._container.demux(self._stream):
                moment = None
                if packet.pts is not None and packet.time_base is not None:
                    moment = float((packet.pts - start) * packet.time_base)
                    end = moment + float((packet.duration or 0) * packet.time_base)
                    self.report.reached = max(self.report.reached, end)
                if interval:
                    due = moment is None or _first_after_boundary(moment, step, interval)
                    context.skip_frame = "DEFAULT" if due else "NONREF"
                try:
                    yield from packet.decode()
                except av.error.InvalidDataError:
                    yield _BadPacket()
        except av.FFmpegError as exc:
            self.report.error = CorruptVideo(
                f"the container could not be read past {self._position()}: {_reason(exc)}"
            )

    def _constant_rate(self) -> bool:
        """Whether the stream's average frame rate is also its base rate (not VFR)."""
        average, base = self._stream.average_rate, self._stream.base_rate
        if not average or not base:
            return False
        return abs(float(average) / float(base) - 1) < 0.01

    def _position(self) -> str:
        moment = self.report.last_timestamp
        return "its start" if moment is None else f"{moment:.1f} s"

    def _ending_problem(self, bad_packets: int, first_bad: float | None) -> MediaError | None:
        report = self.report
        if report.error is not None:
            return report.error
        declared = self.info.duration
        reached = report.reached
        if declared is not None and reached < declared - _TRUNCATION_SLACK:
            return TruncatedVideo(
                f"the video stream ends at {reached:.1f} s of a declared {declared:.1f} s "
                f"({bad_packets} damaged packets); frames before that were hashed"
            )
        if report.frames_decoded == 0:
            return NoFrames("the video track holds no decodable frames")
        if bad_packets:
            where = "the start" if first_bad is None else f"{first_bad:.1f} s"
            return CorruptVideo(
                f"{bad_packets} damaged packets skipped (first near {where}); "
                "the other frames were hashed"
            )
        return None

    def _timestamp(self, frame: av.VideoFrame, number: int) -> float:
        """Seconds from the stream's start; frame count / fps without timestamps."""
        if frame.pts is not None and frame.time_base is not None:
            start = self._stream.start_time or 0
            return max(0.0, float((frame.pts - start) * frame.time_base))
        fps = self.info.fps
        return number / fps if fps else float(number)

    def _frame(self, frame: av.VideoFrame, number: int, moment: float) -> Frame:
        fmt = frame.format.name
        if fmt in _YUV8:
            plane = frame.planes[0]
            rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
            luma = rows[:, : plane.width]
            full = fmt in _FULL_RANGE or frame.color_range == 2  # AVCOL_RANGE_JPEG
            gain = 1.0 if full else LIMITED_RANGE_GAIN
        else:
            # Other formats (RGB, 10-bit ...) through FFmpeg's converter to 8-bit gray.
            luma = np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
            gain = 1.0
        # Hash what a player shows: the display matrix's counter-clockwise turn.
        turns = round(frame.rotation / 90) % 4 if frame.rotation else 0
        if turns:
            self.report.rotation = turns * 90
            luma = np.rot90(luma, turns)
        return Frame(number, moment, luma, gain)


def _first_after_boundary(moment: float, step: float, interval: float) -> bool:
    """Whether a frame at ``moment`` is the first at or after a multiple of ``interval``
    (for frames ``step`` seconds apart)."""
    now = math.floor(moment / interval + 1e-6)
    before = math.floor((moment - step) / interval + 1e-6)
    return moment < 1e-6 or now != before


class _BadPacket:
    """A packet the decoder refused."""


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "strerror", None) or str(exc)
    return str(message).rstrip(".")
