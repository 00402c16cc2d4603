"""Video hashing speed against the decode floor, in one run.

Usage:  python bench/video.py [--minutes 10] [--repeats 3]

Videos: Meta's five vPDQ reference videos (../shared/testdata/vpdq) and a
generated 1080p video of ``--minutes`` minutes at 30 fps (x264 ``veryfast``:
B-frames, a keyframe at each scene cut and at most every 250 frames),
written once to bench/.cache/video/.  Methods, all from the file on disk:

  decode      PyAV decoding every frame, threads as Bastion sets them (the floor)
  every       bastion hash --every-frame (vPDQ of every frame + MD5/SHA-1/SHA-256)
  1fps        bastion hash (the default: one frame a second)
  keyframes   bastion hash --keyframes --every-frame (only keyframes are decoded)

Requirements (issue 6): every-frame hashing >= 0.5x the decode floor, and
1 fps sampling of the 10-minute 1080p video >= 3x faster than every frame.
For keyframes, also: how many of its frames match the every-frame hash of
the same video (within 31 bits), and what share of the 1 fps frames a
keyframe lies within 31 bits of.  Methods alternate per repeat; the median
is reported and ratios compare methods of this same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from bastion.hashing import hash_file
from bastion.media.video import VideoOptions
from bastion.samples import panning_frames
from bastion.signals.vpdq import VideoHash, match_percentages

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "testdata" / "vpdq"
CACHE = ROOT / "bench" / ".cache" / "video"


def generated_video(minutes: float) -> Path:
    """A 1080p30 video of slow pans, one synthetic scene every 4 s (cached)."""
    path = CACHE / f"generated-1080p-{minutes:g}min.mp4"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    frames = round(minutes * 60 * 30)
    print(f"generating {path.name} ({frames:,} frames, once) ...", flush=True)
    with av.open(str(partial), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {"preset": "veryfast"}
        for rgb in panning_frames(1920, 1080, frames, scene_seconds=4):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    partial.rename(path)
    return path


def decode_only(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def bastion(options: VideoOptions) -> Callable[[Path], VideoHash]:
    def run(path: Path) -> VideoHash:
        fingerprint = hash_file(path, video=options)
        assert fingerprint.video is not None, fingerprint.error
        return fingerprint.video

    return run


METHODS: dict[str, Callable[[Path], object]] = {
    "decode": decode_only,
    "every": bastion(VideoOptions(interval=0)),
    "1fps": bastion(VideoOptions(interval=1)),
    "keyframes": bastion(VideoOptions(interval=0, keyframes_only=True)),
}


def measure(path: Path, repeats: int) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds per method, and each method's last result."""
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, method in METHODS.items():
            start = time.perf_counter()
            results[name] = method(path)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    videos = [*sorted(REFERENCE.glob("*.mp4")), generated_video(args.minutes)]
    header = (
        f"{'video':<34} {'frames':>7} {'decode':>9} {'every':>9} {'1fps':>9} {'keyfr':>9}"
        f" {'every/floor':>11} {'1fps speed-up':>13} {'key speed-up':>12}"
        f" {'key~every':>9} {'1fps~key':>8}"
    )
    print("frames per second of video decoded (fps of the source frames covered)")
    print(header)
    for path in videos:
        seconds, results = measure(path, args.repeats)
        every, keyframes, sampled = results["every"], results["keyframes"], results["1fps"]
        assert isinstance(every, VideoHash)
        assert isinstance(keyframes, VideoHash)
        assert isinstance(sampled, VideoHash)
        frames = every.frames_decoded
        rate = {name: frames / value for name, value in seconds.items()}
        # Keyframe hashes against the every-frame hash of the same video:
        # share of keyframes matched, and share of 1 fps frames a keyframe covers.
        key_in_every = match_percentages(keyframes.features, every.features, quality=0)
        sampled_by_key = match_percentages(sampled.features, keyframes.features, quality=0)
        print(
            f"{path.name[:34]:<34} {frames:>7} {rate['decode']:>9.0f} {rate['every']:>9.0f}"
            f" {rate['1fps']:>9.0f} {rate['keyframes']:>9.0f}"
            f" {seconds['decode'] / seconds['every']:>10.2f}x"
            f" {seconds['every'] / seconds['1fps']:>12.2f}x"
            f" {seconds['every'] / seconds['keyframes']:>11.1f}x"
            f" {key_in_every.query_percent:>8.0f}% {sampled_by_key.query_percent:>7.0f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
