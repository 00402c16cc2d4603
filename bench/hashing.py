"""Image hashing throughput: Bastion vs python-threatexchange vs a plain decode.

Usage:  python bench/hashing.py [--repeats N] [--limit N]

Builds the photo corpus (../shared/scripts/photo-corpus) once into
bench/.cache, re-encodes it as baseline JPEG (quality 90) at three sizes -
512 px, 1920 px (longest side) and the 8-18 MP originals - and measures,
single process, in one run:

  floor    Pillow full decode to RGB (what any hasher must at least do naively)
  bastion  bastion.hash_file: MD5 + SHA-1 + SHA-256 + PDQ + quality
  tx       python-threatexchange PdqSignal.hash_from_file (what HMA uses)

Each (method, size) runs in its own fresh subprocess so peak memory (max RSS)
is that method's own; repeats are interleaved and the median is reported.
Ratios compare methods measured in this same run, never across runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
CORPUS_SCRIPT = ROOT.parent / "shared" / "scripts" / "photo-corpus"
SIZES = {"512px": 512, "1920px": 1920, "original": None}
ORIGINAL_MP = (8e6, 18.5e6)
METHODS = ("floor", "bastion", "tx")


def build_sets() -> dict[str, list[Path]]:
    """Re-encoded benchmark sets, built once and cached."""
    from PIL import Image

    photos = CACHE / "photos"
    if not any(photos.glob("*.*")):
        photos.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(CORPUS_SCRIPT), str(photos)], check=True, stdout=subprocess.DEVNULL)
    sources = sorted(p for p in photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    sets: dict[str, list[Path]] = {}
    for name, side in SIZES.items():
        out_dir = CACHE / "sets" / name
        out_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for src in sources:
            dest = out_dir / (src.stem + ".jpg")
            with Image.open(src) as image:
                pixels = image.width * image.height
                if side is None and not ORIGINAL_MP[0] <= pixels <= ORIGINAL_MP[1]:
                    continue
                if side is not None and max(image.size) < side:
                    continue
                if not dest.exists():
                    rgb = image.convert("RGB")
                    if side is not None:
                        rgb.thumbnail((side, side), Image.Resampling.LANCZOS)
                    rgb.save(dest, "JPEG", quality=90)
            files.append(dest)
        sets[name] = files
    return sets


def run_method(method: str, files: list[Path]) -> dict[str, float]:
    """Time one method over ``files`` in this process (called in a subprocess)."""
    if method == "floor":
        from PIL import Image

        def work(path: Path) -> object:
            with Image.open(path) as image:
                return image.convert("RGB")

    elif method == "bastion":
        from bastion import hash_file

        def work(path: Path) -> object:
            return hash_file(path)

    else:
        from threatexchange.signal_type.pdq.signal import PdqSignal

        def work(path: Path) -> object:
            return PdqSignal.hash_from_file(path)

    work(files[0])  # warm up imports and caches
    start = time.perf_counter()
    for path in files:
        work(path)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "images_per_s": len(files) / elapsed, "peak_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory.

    VmHWM belongs to the address space created at exec, unlike ru_maxrss,
    which Linux carries over from the parent that forked us.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="at most N images per set")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "SET"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    sets = build_sets()
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    if args.child:
        method, name = args.child
        print(json.dumps(run_method(method, sets[name])))
        return

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.repeats):
        for name in sets:
            for method in METHODS:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", method, name, "--limit", str(args.limit)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results.setdefault((name, method), []).append(json.loads(out.stdout))

    print(f"single process, median of {args.repeats} interleaved runs")
    header = f"{'set':<9} {'n':>3} " + " ".join(f"{m + ' img/s':>13}" for m in METHODS)
    print(header + f" {'bastion/tx':>11} {'bastion/floor':>14}   peak MB (floor/bastion/tx)")
    for name, files in sets.items():
        rate = {
            m: statistics.median(r["images_per_s"] for r in results[(name, m)]) for m in METHODS
        }
        peak = {m: max(r["peak_mb"] for r in results[(name, m)]) for m in METHODS}
        print(
            f"{name:<9} {len(files):>3} "
            + " ".join(f"{rate[m]:>13.1f}" for m in METHODS)
            + f" {rate['bastion'] / rate['tx']:>10.2f}x {rate['bastion'] / rate['floor']:>13.2f}x"
            + f"   {peak['floor']:.0f}/{peak['bastion']:.0f}/{peak['tx']:.0f}"
        )


if __name__ == "__main__":
    main()
