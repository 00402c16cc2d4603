"""Frames are streamed: peak memory does not grow with a video's length."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bastion.samples import encode_video, panning_frames

MEASURE = """
import sys
from pathlib import Path
from bastion import hash_file
from bastion.media.video import VideoOptions
fp = hash_file(sys.argv[1], video=VideoOptions(interval=0))
assert fp.error is None and fp.video is not None, fp.error
print(len(fp.video.features))
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) // 1024)
"""


def peak_mb(path: Path) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    frames, peak = done.stdout.split()
    return int(frames), int(peak)


@pytest.mark.slow
def test_ten_times_longer_video_needs_no_more_memory(tmp_path: Path) -> None:
    lengths = {"short": 60, "long": 600}
    peaks = {}
    for name, frames in lengths.items():
        path = tmp_path / f"{name}.mkv"
        path.write_bytes(
            encode_video(panning_frames(1280, 720, frames, fps=10), fps=10, container="matroska")
        )
        hashed, peaks[name] = peak_mb(path)
        assert hashed == frames
    assert peaks["long"] - peaks["short"] < 25, peaks
