"""vPDQ, Meta's video hash: the PDQ hashes of a video's frames, with time.

A vPDQ hash is a list of *features*: frame number, PDQ quality, PDQ hash and
timestamp.  Two spellings travel between systems and both are read here:

* Meta's text format, one frame per line, ``frame,quality,pdq_hex,timestamp``
  (what the C++ ``vpdq`` tools and the reference files write);
* the ThreatExchange / HMA signal value, a JSON list of ``"pdq_hex,quality,
  timestamp"`` strings, which is what a bank stores as the ``vpdq`` signal.

Matching follows Meta's rule (``python-threatexchange``'s brute-force
matcher, which HMA uses): drop frames under quality 50 and repeated hashes,
then count the query frames within 31 bits of *some* frame of the other
video, and the other way round; a video matches when the first percentage
reaches 80 and the second reaches 0.  :func:`match_percentages` is that rule
by brute force, the reference the indexed matcher is tested against.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bastion.errors import BastionError
from bastion.signals.pdq import hamming

#: Meta's defaults (``vpdq_util.py``): frames under this quality are not matched.
QUALITY_THRESHOLD = 50
#: Two frames match within this many bits.
DISTANCE_THRESHOLD = 31
#: Share of the query's frames that must match the other video, in percent.
QUERY_MATCH_PERCENT = 80.0
#: Share of the other video's frames that must match the query, in percent.
COMPARED_MATCH_PERCENT = 0.0
#: Timestamps are written with millisecond precision, as Meta's tools do.
TIMESTAMP_DECIMALS = 3


class InvalidVpdq(BastionError, ValueError):
    """A vPDQ hash that cannot be read: says which frame and why."""

    code = "invalid-vpdq"
    status = 400


@dataclass(frozen=True, slots=True)
class VpdqFeature:
    """The PDQ hash of one video frame."""

    frame: int
    quality: int
    hex: str
    #: Seconds from the start of the video.
    timestamp: float

    def to_list(self) -> list[object]:
        return [self.frame, self.quality, self.hex, round(self.timestamp, TIMESTAMP_DECIMALS)]


def to_meta_text(features: Iterable[VpdqFeature]) -> str:
    """Meta's text format: ``frame,quality,pdq_hex,timestamp`` lines."""
    return "".join(
        f"{f.frame},{f.quality},{f.hex},{f.timestamp:.{TIMESTAMP_DECIMALS}f}\n" for f in features
    )


def to_signal_value(features: Iterable[VpdqFeature]) -> str:
    """The canonical ``vpdq`` signal value: HMA's JSON list, without spaces.

    Frame numbers are not part of it (HMA's compact feature has none); they
    are numbered again in order when the value is read back.
    """
    items = [f"{f.hex},{f.quality},{f.timestamp:.{TIMESTAMP_DECIMALS}f}" for f in features]
    return json.dumps(items, separators=(",", ":"))


def parse_vpdq(text: str) -> tuple[VpdqFeature, ...]:
    """Features from either spelling (detected by the first character)."""
    text = text.strip()
    if not text:
        raise InvalidVpdq("a vPDQ hash needs at least one frame")
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidVpdq(f"not a JSON list of frames: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidVpdq('expected a JSON list of "pdq_hex,quality,timestamp" strings')
        features = tuple(_compact_feature(n, item) for n, item in enumerate(items))
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        features = tuple(_meta_feature(n, line) for n, line in enumerate(lines))
    if not features:
        raise InvalidVpdq("a vPDQ hash needs at least one frame")
    return features


def _compact_feature(number: int, item: str) -> VpdqFeature:
    parts = item.split(",")
    if len(parts) != 3:
        raise InvalidVpdq(
            f"frame {number}: expected 'pdq_hex,quality,timestamp', got {item[:80]!r}"
        )
    return _feature(number, number, parts[0], parts[1], parts[2])


def _meta_feature(number: int, line: str) -> VpdqFeature:
    parts = line.strip().split(",")
    if len(parts) != 4:
        raise InvalidVpdq(
            f"line {number + 1}: expected 'frame,quality,pdq_hex,timestamp', got {line[:80]!r}"
        )
    try:
        frame = int(parts[0])
    except ValueError:
        raise InvalidVpdq(f"line {number + 1}: frame number {parts[0][:20]!r}") from None
    return _feature(number, frame, parts[2], parts[1], parts[3])


def _feature(number: int, frame: int, pdq: str, quality: str, timestamp: str) -> VpdqFeature:
    pdq = pdq.strip().lower()
    if len(pdq) != 64 or any(c not in "0123456789abcdef" for c in pdq):
        raise InvalidVpdq(f"frame {number}: PDQ hash must be 64 hex digits, got {pdq[:80]!r}")
    try:
        level = int(quality)
        seconds = float(timestamp)
    except ValueError:
        raise InvalidVpdq(f"frame {number}: quality and timestamp must be numbers") from None
    if not 0 <= level <= 100:
        raise InvalidVpdq(f"frame {number}: quality {level} is outside 0-100")
    if not seconds >= 0 or seconds == float("inf"):
        raise InvalidVpdq(f"frame {number}: timestamp {timestamp!r} is not a time in the video")
    if frame < 0:
        raise InvalidVpdq(f"frame {number}: negative frame number {frame}")
    return VpdqFeature(frame, level, pdq, round(seconds, TIMESTAMP_DECIMALS))


def matchable(
    features: Iterable[VpdqFeature], quality: int = QUALITY_THRESHOLD
) -> list[VpdqFeature]:
    """The frames Meta's rule compares: quality high enough, each hash once (first kept)."""
    seen: set[str] = set()
    kept: list[VpdqFeature] = []
    for feature in features:
        if feature.quality >= quality and feature.hex not in seen:
            seen.add(feature.hex)
            kept.append(feature)
    return kept


def prune(features: Iterable[VpdqFeature], bits: int) -> tuple[VpdqFeature, ...]:
    """Drop each frame within ``bits`` of the last frame kept (a still scene
    hashed once instead of once per second)."""
    kept: list[VpdqFeature] = []
    for feature in features:
        if not kept or hamming(kept[-1].hex, feature.hex) > bits:
            kept.append(feature)
    return tuple(kept)


@dataclass(frozen=True, slots=True)
class VideoSimilarity:
    """How much of each video is found in the other, in percent."""

    query_percent: float
    compared_percent: float

    def matches(
        self,
        query_percent: float = QUERY_MATCH_PERCENT,
        compared_percent: float = COMPARED_MATCH_PERCENT,
    ) -> bool:
        return (
            self.query_percent > 0
            and self.query_percent >= query_percent
            and self.compared_percent >= compared_percent
        )


def match_percentages(
    query: Sequence[VpdqFeature],
    compared: Sequence[VpdqFeature],
    *,
    distance: int = DISTANCE_THRESHOLD,
    quality: int = QUALITY_THRESHOLD,
) -> VideoSimilarity:
    """Meta's brute-force vPDQ comparison (every frame against every frame)."""
    left, right = matchable(query, quality), matchable(compared, quality)
    if not left or not right:
        return VideoSimilarity(0.0, 0.0)
    found_left = sum(any(hamming(a.hex, b.hex) <= distance for b in right) for a in left)
    found_right = sum(any(hamming(b.hex, a.hex) <= distance for a in left) for b in right)
    return VideoSimilarity(100.0 * found_left / len(left), 100.0 * found_right / len(right))


def time_ranges(timestamps: Iterable[float], gap: float) -> tuple[tuple[float, float], ...]:
    """Sorted timestamps merged into ``(start, end)`` ranges; a jump over ``gap``
    seconds starts a new range."""
    ranges: list[list[float]] = []
    for moment in sorted(set(timestamps)):
        if ranges and moment - ranges[-1][1] <= gap:
            ranges[-1][1] = moment
        else:
            ranges.append([moment, moment])
    return tuple((round(a, TIMESTAMP_DECIMALS), round(b, TIMESTAMP_DECIMALS)) for a, b in ranges)


@dataclass(frozen=True, slots=True)
class VideoHash:
    """A video's vPDQ hash and what the decoder saw on the way."""

    features: tuple[VpdqFeature, ...]
    #: Frames decoded (hashed or not) before decoding ended.
    frames_decoded: int
    #: Seconds between hashed frames (0: every frame).
    interval: float
    codec: str
    width: int
    height: int
    fps: float | None
    #: Duration the container declares, in seconds.
    duration: float | None
    #: Degrees the frames were turned (counter-clockwise) to stand upright.
    rotation: int = 0
    #: Why hashing stopped before the end when a configured limit stopped it.
    stopped: str | None = None

    @property
    def signal_value(self) -> str:
        return to_signal_value(self.features)

    def summary(self) -> dict[str, object]:
        """JSON-ready description without the frame hashes."""
        return {
            "frames_hashed": len(self.features),
            "frames_decoded": self.frames_decoded,
            "interval": self.interval,
            "codec": self.codec,
            "fps": round(self.fps, 3) if self.fps else None,
            "duration": round(self.duration, TIMESTAMP_DECIMALS) if self.duration else None,
            "rotation": self.rotation,
            "stopped": self.stopped,
        }
