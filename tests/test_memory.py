"""Peak memory of hashing a 100-megapixel image, measured in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.images import photo_like

MEASURE = """
import sys
from pathlib import Path
from bastion import hash_file
fp = hash_file(sys.argv[1])
assert fp.error is None and fp.pdq, fp
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        print(int(line.split()[1]) // 1024)
"""


@pytest.mark.slow
def test_100_megapixel_jpeg_under_300_mb(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    big = photo_like(1000, 1000, seed=4).resize((10_000, 10_000), Image.Resampling.BILINEAR)
    big.save(path, "JPEG", quality=85)
    del big
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    peak_mb = int(done.stdout.strip())
    assert peak_mb < 300, f"peak resident memory {peak_mb} MB"
