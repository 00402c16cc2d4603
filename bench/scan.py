"""Scan throughput: `bastion scan` vs a full-decode floor vs the Ray engine, in one run.

Usage:  python bench/scan.py [--images 20000] [--bank 1000000] [--workers 2]

Builds (once, cached in bench/.cache/scan) a webdataset of corpus photos
resized and cropped to 256-768 px as JPEG, 1,000 samples per shard, and a
bank of 1 M PDQ hashes in which 1 % of the images are planted (their PDQ
with a few bits flipped) among random hashes.  Then measures, in this run:

  floor   2 processes decoding every image at full resolution with Pillow
          (reading the same shards)
  local   bastion scan, local engine, --workers processes
  ray     bastion scan --engine ray --ray-address on a local Ray cluster of
          --workers CPUs, started before (as a real cluster would be) so its
          start-up is not counted; starting the scan's actors is.  Run
          twice: the first scan on the new cluster also starts Ray Data's
          own service actors.

and prints items/s, the ratios the issue asks for, peak memory of the
scan's processes at 5k and at all items, and where one item's time goes
(read, decode, PDQ, crypto hashes, match, write) measured in one process.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "scan"
PHOTOS = ROOT / "bench" / ".cache" / "photos"
PER_SHARD = 1000


def _photos() -> list[Path]:
    if not any(PHOTOS.glob("*.jpg")):
        PHOTOS.mkdir(parents=True, exist_ok=True)
        script = ROOT.parent / "shared" / "scripts" / "photo-corpus"
        subprocess.run([str(script), str(PHOTOS)], check=True, stdout=subprocess.DEVNULL)
    return sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png"))


def _make_shard(args: tuple[int, int, int]) -> None:
    from PIL import Image

    shard, first, count = args
    rng = random.Random(shard)
    photos = _photos()
    sources = {}
    path = CACHE / "shards" / f"data-{shard:06d}.tar"
    with tarfile.open(path.with_suffix(".tmp"), "w") as archive:
        for number in range(first, first + count):
            photo = photos[rng.randrange(len(photos))]
            if photo not in sources:
                with Image.open(photo) as image:
                    sources[photo] = image.convert("RGB").reduce(2)
            image = sources[photo]
            side = rng.randint(256, 768)
            left = rng.randint(0, image.width // 4)
            top = rng.randint(0, image.height // 4)
            crop = image.crop((left, top, image.width - left // 2, image.height - top // 2))
            crop.thumbnail((side, side))
            buffer = io.BytesIO()
            crop.save(buffer, "JPEG", quality=rng.randint(70, 92))
            data = buffer.getvalue()
            for name, payload in ((f"{number:08d}.jpg", data), (f"{number:08d}.txt", b"caption")):
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
    path.with_suffix(".tmp").rename(path)


def build_dataset(images: int) -> str:
    (CACHE / "shards").mkdir(parents=True, exist_ok=True)
    shards = (images + PER_SHARD - 1) // PER_SHARD
    todo = [
        (s, s * PER_SHARD, min(PER_SHARD, images - s * PER_SHARD))
        for s in range(shards)
        if not (CACHE / "shards" / f"data-{s:06d}.tar").exists()
    ]
    if todo:
        with multiprocessing.Pool(os.cpu_count()) as pool:
            pool.map(_make_shard, todo)
    return str(CACHE / "shards" / f"data-{{000000..{shards - 1:06d}}}.tar")


def build_bank(pattern: str, size: int) -> Path:
    """A store whose bank holds 1 % of the images' PDQs (a few bits off) among random ones."""
    home = CACHE / f"home-{size}"
    if (home / "ready").exists():
        return home
    from bastion.banks import Banks
    from bastion.config import Settings
    from bastion.formats.records import Record
    from bastion.hashing import hash_bytes
    from bastion.scan.sources import SourceOptions, iter_items
    from bastion.signals.types import normalize_signal
    from bastion.store import Store

    settings = Settings(home=home)
    store = Store.open(settings)
    Banks(store, actor="system:bench").create("bench")
    rng = random.Random(size)
    planted = []
    for number, item in enumerate(iter_items([pattern], SourceOptions(), settings)):
        if number % 100 == 0 and item.data:
            value = int(hash_bytes(item.data, name=item.name).pdq or "0", 16)
            for bit in rng.sample(range(256), rng.randint(0, 8)):
                value ^= 1 << bit
            planted.append(f"{value:064x}")
    records = (
        Record(f"row {n}", normalize_signal("pdq", value), ("ncmec:A1",))
        for n, value in enumerate(
            planted + [f"{rng.getrandbits(256):064x}" for _ in range(size - len(planted))]
        )
    )
    Banks(store, actor="system:bench").import_records(
        "bench", records, source="bench", format="generated"
    )
    (home / "ready").write_text(str(len(planted)))
    return home


def _decode_all(shard: str) -> int:
    from PIL import Image

    count = 0
    with tarfile.open(shard, "r|") as archive:
        for info in archive:
            if info.name.endswith(".jpg"):
                member = archive.extractfile(info)
                with Image.open(io.BytesIO(member.read() if member else b"")) as image:
                    image.convert("RGB")
                count += 1
    return count


def floor(pattern: str, workers: int) -> float:
    from bastion.scan.webdataset import expand_shards

    shards = expand_shards(pattern)
    started = time.perf_counter()
    with multiprocessing.Pool(workers) as pool:
        count = sum(pool.map(_decode_all, shards))
    return count / (time.perf_counter() - started)


def scan(
    pattern: str, home: Path, engine: str, workers: int, out: Path, *extra: str
) -> dict[str, float]:
    """`bastion scan` in a subprocess; items/s and peak RSS of it and its workers."""
    env = {**os.environ, "BASTION_HOME": str(home), "RAY_AUTH_MODE": "disabled"}
    env.pop("BASTION_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "bastion", "scan", pattern, "--out", str(out),
        "--engine", engine, "--workers", str(workers), *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode not in (0, 1):
        raise SystemExit(f"bastion scan exited {done.returncode}:\n{done.stderr[-4000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    # Status 1 is expected: some crops are too flat for PDQ (counted as
    # low_quality); an error or skipped item would make the figures wrong.
    if summary["errored"] or summary["skipped"]:
        raise SystemExit(f"bastion scan left items unchecked:\n{done.stderr[-4000:]}")
    return {
        "items": summary["seen"],
        "matched": summary["matched"],
        "items_per_s": summary["seen"] / seconds,
        "scan_items_per_s": summary["items_per_s"],
        "peak_mb": max(peak, before) / 1024,
    }


@contextmanager
def ray_cluster(cpus: int) -> Iterator[str]:
    """A local Ray head node for the duration of the block; yields its address."""
    ray = str(Path(sys.executable).with_name("ray"))
    # Token authentication (Ray >= 2.51's default for `ray start`) is for
    # shared clusters; this one lives for a benchmark on one machine.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    subprocess.run(
        [ray, "start", "--head", f"--num-cpus={cpus}", "--port=6391",
         "--include-dashboard=false", "--disable-usage-stats"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    try:
        yield "auto"
    finally:
        subprocess.run([ray, "stop", "--force"], check=True, capture_output=True, env=env)


def breakdown(pattern: str, home: Path, count: int = 1500) -> dict[str, float]:
    """Microseconds per item for each stage, in one process set up like a scan worker."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from bastion.config import Settings
    from bastion.matching import Index
    from bastion.matching.match import match_outcome
    from bastion.media.image import decode_for_pdq
    from bastion.pipeline import scan_item
    from bastion.scan.results import UnitParts, prepare_parts
    from bastion.scan.sources import SourceOptions, iter_items
    from bastion.signals.pdq import pdq_from_luma
    from bastion.store import Store

    settings = Settings(home=home)
    index = Index.open(Store.open(settings), settings)
    started = time.perf_counter()
    items = list(islice(iter_items([pattern], SourceOptions(), settings), count))
    times = {"read": time.perf_counter() - started}
    payloads = [item.data or b"" for item in items]
    started = time.perf_counter()
    decoded = [decode_for_pdq(io.BytesIO(p), max_pixels=settings.max_pixels) for p in payloads]
    times["decode"] = time.perf_counter() - started
    started = time.perf_counter()
    for image in decoded:
        pdq_from_luma(image.luma)
    times["pdq"] = time.perf_counter() - started
    started = time.perf_counter()
    for payload in payloads:
        for name in ("md5", "sha1", "sha256"):
            hashlib.new(name, payload).digest()
    times["crypto"] = time.perf_counter() - started
    results = [scan_item(item, None, settings) for item in items]
    started = time.perf_counter()
    for result in results:
        assert result.fingerprint is not None
        match_outcome(result.fingerprint, index)
    times["match"] = time.perf_counter() - started
    rows = [result.to_row() for result in results]
    started = time.perf_counter()
    shutil.rmtree(CACHE / "breakdown-out", ignore_errors=True)
    prepare_parts(CACHE / "breakdown-out")
    UnitParts(CACHE / "breakdown-out", 0).write(rows)
    times["write"] = time.perf_counter() - started
    return {stage: seconds / count * 1e6 for stage, seconds in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--bank", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()

    pattern = build_dataset(options.images)
    home = build_bank(pattern, options.bank)
    small = pattern.replace(
        f"{{000000..{(options.images + PER_SHARD - 1) // PER_SHARD - 1:06d}}}", "{000000..000004}"
    )
    results = {"floor_items_per_s": floor(pattern, options.workers)}
    for name, source in (("local_5k", small), ("local", pattern)):
        out = CACHE / f"out-{name}"
        shutil.rmtree(out, ignore_errors=True)
        results[name] = scan(source, home, "local", options.workers, out)  # type: ignore[assignment]
    with ray_cluster(options.workers) as address:
        # The first scan on a new cluster also starts Ray Data's own actors
        # (stats, autoscaling, usage), about a second of CPU each; a cluster
        # in service has them already.  Both are reported.
        for name in ("ray_new_cluster", "ray"):
            shutil.rmtree(CACHE / f"out-{name}", ignore_errors=True)
            results[name] = scan(  # type: ignore[assignment]
                pattern,
                home,
                "ray",
                options.workers,
                CACHE / f"out-{name}",
                "--ray-address",
                address,
            )
    results["breakdown_us"] = breakdown(pattern, home)  # type: ignore[assignment]
    local, ray = results["local"], results["ray"]
    print(json.dumps(results, indent=2))
    floor_rate = results["floor_items_per_s"]
    print(f"floor (Pillow full decode, {options.workers} processes): {floor_rate:,.0f} images/s")
    local_rate, ray_rate = local["items_per_s"], ray["items_per_s"]  # type: ignore[index]
    print(f"local engine: {local_rate:,.0f} items/s = {local_rate / floor_rate:.2f}x the floor")
    print(f"ray engine:   {ray_rate:,.0f} items/s = {ray_rate / local_rate:.2f}x local")
    cold = results["ray_new_cluster"]["items_per_s"]  # type: ignore[index]
    print(f"  (first scan on a new cluster: {cold:,.0f} items/s = {cold / local_rate:.2f}x local)")


if __name__ == "__main__":
    main()
