"""PDQ matching at scale: Bastion's multi-index vs faiss brute force vs python-threatexchange.

Usage:  python bench/matching.py [--sizes 1000000 10000000] [--queries 10000]
                                 [--single 300] [--import-lines 10000000]

Banks are built to look like real hash lists, not uniform noise: clusters of
near-duplicates (a seed and variants 1-40 bits away, as a list holds several
edits of one image) around seeds that include the PDQ hashes of transformed
photos from the benign corpus.  Half of the queries are planted 0-31 bits
from a bank entry, half are unrelated.  Ground truth is faiss
IndexBinaryFlat's exhaustive range search.

Measured for each method in fresh subprocesses (so memory is its own):
build time, snapshot load time (Bastion: memory-mapping the saved index in a
new process), single-query throughput on one thread, batched throughput,
recall against brute force, resident memory after the queries.

  bastion  bastion.matching.pdq_mih.PdqMultiIndex (12 x 21-bit multi-index)
  flat     faiss.IndexBinaryFlat (brute force; the floor every index must beat)
  tx       python-threatexchange PDQIndex (faiss IndexBinaryMultiHash; what HMA uses)

``--import-lines`` also times `bastion bank import` of a CSV of that many
PDQ lines into SQLite (lines/s and peak memory).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "matching"
PHOTOS = ROOT / "bench" / ".cache" / "photos"
RADIUS = 31
METHODS = ("bastion", "flat", "tx")


def memory_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def corpus_hashes() -> np.ndarray:
    """PDQ of the benign photo corpus under common edits (resize, crop, re-encode, tone)."""
    import io

    from PIL import Image, ImageEnhance, ImageOps

    from bastion import hash_bytes
    from bastion.matching.pdq_mih import codes_from_hex

    if not any(PHOTOS.glob("*.*")):
        PHOTOS.mkdir(parents=True, exist_ok=True)
        script = ROOT.parent / "shared" / "scripts" / "photo-corpus"
        subprocess.run([str(script), str(PHOTOS)], check=True, stdout=subprocess.DEVNULL)
    edits = [
        lambda im: im,
        lambda im: im.resize((im.width // 3, im.height // 3)),
        lambda im: im.crop((im.width // 20, im.height // 20, im.width, im.height)),
        lambda im: ImageOps.grayscale(im).convert("RGB"),
        lambda im: ImageEnhance.Brightness(im).enhance(1.3),
        lambda im: ImageEnhance.Contrast(im).enhance(0.7),
        lambda im: ImageOps.mirror(im),
        lambda im: im.rotate(3, expand=False),
    ]
    hexes = []
    for path in sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png")):
        with Image.open(path) as original:
            base = original.convert("RGB")
            base.thumbnail((1024, 1024))
        for edit in edits:
            buffer = io.BytesIO()
            edit(base).save(buffer, "JPEG", quality=40)
            pdq = hash_bytes(buffer.getvalue()).pdq
            if pdq:
                hexes.append(pdq)
    return codes_from_hex(hexes)


def make_bank(size: int, queries: int) -> tuple[Path, Path]:
    bank_path = CACHE / f"bank-{size}.npy"
    query_path = CACHE / f"queries-{size}-{queries}.npy"
    if bank_path.exists() and query_path.exists():
        return bank_path, query_path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(size)
    photos = corpus_hashes()
    # Cluster sizes: most images appear once or twice, a few many times.
    sizes = np.minimum(rng.geometric(0.35, size=size), 40)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), size - len(photos)) + 1]
    seeds = rng.integers(0, 2**64, size=(len(sizes), 4), dtype=np.uint64)
    seeds[: min(len(photos), len(seeds))] = photos[: len(seeds)]
    members = np.repeat(seeds, sizes, axis=0)
    is_seed = np.zeros(len(members), dtype=bool)
    is_seed[np.concatenate([[0], np.cumsum(sizes)[:-1]])] = True
    counts = np.where(is_seed, 0, rng.integers(1, 41, size=len(members)))
    variants = _flip_vectorised(members, counts, rng)
    bank = np.concatenate([photos, variants])[:size]
    rng.shuffle(bank)
    planted_from = bank[rng.integers(0, size, size=queries // 2)]
    planted = _flip_vectorised(
        planted_from, rng.integers(0, RADIUS + 1, size=len(planted_from)), rng
    )
    unrelated = rng.integers(0, 2**64, size=(queries - len(planted), 4), dtype=np.uint64)
    np.save(bank_path, bank)
    np.save(query_path, np.concatenate([planted, unrelated]))
    return bank_path, query_path


def _flip_vectorised(codes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip ``counts[i]`` distinct random bits of row i (random keys, keep the smallest)."""
    out = np.empty_like(codes)
    for first in range(0, len(codes), 100_000):
        block = slice(first, first + 100_000)
        ranks = np.argsort(np.argsort(rng.random((len(codes[block]), 256)), axis=1), axis=1)
        bits = ranks < counts[block, None]  # which bits of each row to flip
        out[block] = codes[block] ^ np.packbits(bits, axis=1).view(">u8").astype(np.uint64)
    return out


def ground_truth(bank_path: Path, query_path: Path) -> Path:
    out = query_path.with_suffix(".truth.npz")
    if out.exists():
        return out
    import faiss

    index = faiss.IndexBinaryFlat(256)
    index.add(_as_bytes(np.load(bank_path)))
    limits, distances, labels = index.range_search(_as_bytes(np.load(query_path)), RADIUS + 1)
    np.savez(out, limits=limits, labels=labels, distances=distances)
    return out


def _as_bytes(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes.astype(">u8")).view(np.uint8)


def _hex(codes: np.ndarray) -> list[str]:
    return [row.tobytes().hex() for row in codes.astype(">u8")]


def truth_pairs(truth_path: Path, count: int) -> set[tuple[int, int]]:
    truth = np.load(truth_path)
    limits, labels = truth["limits"], truth["labels"]
    return {(q, int(labels[i])) for q in range(count) for i in range(limits[q], limits[q + 1])}


# --- one method, in its own process -------------------------------------------------


def run(method: str, size: int, queries_n: int, single_n: int) -> dict[str, object]:
    bank_path, query_path = make_bank(size, queries_n)
    truth_path = ground_truth(bank_path, query_path)
    queries = np.load(query_path)
    result: dict[str, object] = {"method": method, "size": size}
    if method == "bastion-build":
        from bastion.matching.pdq_mih import PdqMultiIndex

        bank = np.load(bank_path)
        started = time.perf_counter()
        index = PdqMultiIndex.build(bank)
        snapshot = CACHE / f"snapshot-{size}"
        snapshot.mkdir(exist_ok=True)
        index.save(snapshot)
        result["build_s"] = time.perf_counter() - started
        result["build_peak_mb"] = memory_mb()["VmHWM"]
        return result
    if method == "bastion":
        from bastion.matching.pdq_mih import PdqMultiIndex

        started = time.perf_counter()
        index = PdqMultiIndex.load(CACHE / f"snapshot-{size}")
        index.search(queries[:1], RADIUS)
        result["load_s"] = time.perf_counter() - started

        def single(q: np.ndarray) -> set[int]:
            return set(index.search(q[None, :], RADIUS)[0].tolist())

        def batch(qs: np.ndarray) -> list[set[int]]:
            rows, _, owners = index.search_batch(qs, RADIUS)
            found: list[set[int]] = [set() for _ in range(len(qs))]
            for owner, row in zip(owners.tolist(), rows.tolist(), strict=True):
                found[owner].add(row)
            return found

    elif method == "flat":
        import faiss

        started = time.perf_counter()
        flat = faiss.IndexBinaryFlat(256)
        flat.add(_as_bytes(np.load(bank_path)))
        result["build_s"] = time.perf_counter() - started

        def single(q: np.ndarray) -> set[int]:
            faiss.omp_set_num_threads(1)
            _, _, labels = flat.range_search(_as_bytes(q[None, :]), RADIUS + 1)
            return set(labels.tolist())

        def batch(qs: np.ndarray) -> list[set[int]]:
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            limits, _, labels = flat.range_search(_as_bytes(qs), RADIUS + 1)
            return [set(labels[limits[i] : limits[i + 1]].tolist()) for i in range(len(qs))]

    else:
        import faiss
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        hexes = _hex(np.load(bank_path))
        started = time.perf_counter()
        tx_index = PDQIndex(((h, i) for i, h in enumerate(hexes)))
        result["build_s"] = time.perf_counter() - started
        del hexes

        def single(q: np.ndarray) -> set[int]:
            faiss.omp_set_num_threads(1)
            return {m.metadata for m in tx_index.query(_hex(q[None, :])[0])}

        def batch(qs: np.ndarray) -> list[set[int]]:
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            texts = _hex(qs)
            found = tx_index.index.search_with_distance_in_result(texts, RADIUS)
            return [{tx_index.local_id_to_entry[i][1] for i, _, _ in found[t]} for t in texts]

    truth = truth_pairs(truth_path, len(queries))
    picks = np.linspace(0, len(queries) - 1, min(single_n, len(queries))).astype(int)
    # Untimed warm-up on other queries: every method starts with its data
    # resident (a memory-mapped index maps its pages on first touch).
    started = time.perf_counter()
    for number in range(1, min(len(queries), 2000), 7):
        single(queries[number])
    result["warmup_s"] = time.perf_counter() - started
    started = time.perf_counter()
    single_found = {(int(q), row) for q in picks for row in single(queries[q])}
    result["single_qps"] = len(picks) / (time.perf_counter() - started)
    batch_n = len(queries) if method != "flat" else min(len(queries), 1000)
    started = time.perf_counter()
    batch_found = batch(queries[:batch_n])
    result["batch_qps"] = batch_n / (time.perf_counter() - started)
    expected_single = {(q, r) for q, r in truth if q in set(picks.tolist())}
    found = {(q, r) for q, rows in enumerate(batch_found) for r in rows} | single_found
    expected = {(q, r) for q, r in truth if q < batch_n} | expected_single
    result["recall"] = len(found & expected) / max(1, len(expected))
    result["false_hits"] = len(found - expected)
    result["pairs"] = len(expected)
    result.update({"rss_mb": memory_mb()["VmRSS"], "peak_mb": memory_mb()["VmHWM"]})
    return result


def run_import(lines: int) -> dict[str, object]:
    """`bastion bank import` of a generated CSV into a fresh SQLite store."""
    path = CACHE / f"import-{lines}.csv"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(lines)
        with path.open("w") as out:
            out.write("signal_type,value,labels\n")
            for first in range(0, lines, 100_000):
                block = rng.integers(
                    0, 2**64, size=(min(100_000, lines - first), 4), dtype=np.uint64
                )
                out.writelines(f"pdq,{h},ncmec:A1\n" for h in _hex(block))
    from bastion.banks import Banks
    from bastion.config import Settings
    from bastion.formats import get_format
    from bastion.store import Store

    with tempfile.TemporaryDirectory(dir=CACHE) as home:
        store = Store.open(Settings(home=Path(home)))
        Banks(store, actor="system:bench").create("bench")
        started = time.perf_counter()
        with path.open("rb") as stream:
            report = Banks(store, actor="system:bench").import_records(
                "bench", get_format("csv").read(stream), source=path.name, format="csv"
            )
        seconds = time.perf_counter() - started
    return {
        "method": "import",
        "lines": lines,
        "added": report.added,
        "seconds": seconds,
        "lines_per_s": lines / seconds,
        "peak_mb": memory_mb()["VmHWM"],
    }


def in_subprocess(*args: str) -> dict[str, object]:
    output = subprocess.run(
        [sys.executable, __file__, "--run", *args], check=True, capture_output=True, text=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--single", type=int, default=300, help="queries timed one at a time")
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--import-lines", type=int, default=0)
    parser.add_argument("--run", nargs="+", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run:
        if options.run[0] == "import":
            print(json.dumps(run_import(int(options.run[1]))))
        else:
            method, size, queries, single = options.run
            print(json.dumps(run(method, int(size), int(queries), int(single))))
        return
    for size in options.sizes:
        print(f"== {size:,} PDQ hashes, {options.queries:,} queries (radius {RADIUS})", flush=True)
        make_bank(size, options.queries)
        ground_truth(*make_bank(size, options.queries))
        rows = {}
        args = (str(size), str(options.queries), str(options.single))
        if "bastion" in options.methods:
            build = in_subprocess("bastion-build", *args)
            rows["bastion"] = {**in_subprocess("bastion", *args), **build}
        for method in options.methods:
            if method != "bastion":
                rows[method] = in_subprocess(method, *args)
        header = "method    build s  load s  single q/s  batch q/s  recall  rss MB  peak MB"
        print(header)
        for method, row in rows.items():
            print(
                f"{method:<8} {row.get('build_s', 0):8.1f} {row.get('load_s', 0):7.3f} "
                f"{row['single_qps']:11.0f} {row['batch_qps']:10.0f} {row['recall']:7.4f} "
                f"{row['rss_mb']:7.0f} {max(row['peak_mb'], row.get('build_peak_mb', 0)):8.0f}",
                flush=True,
            )
        if "bastion" in rows and "flat" in rows:
            b, f = rows["bastion"], rows["flat"]
            print(f"bastion vs brute force, single query: {b['single_qps'] / f['single_qps']:.1f}x")
        if "bastion" in rows and "tx" in rows:
            b, t = rows["bastion"], rows["tx"]
            single, batch = b["single_qps"] / t["single_qps"], b["batch_qps"] / t["batch_qps"]
            print(f"bastion vs python-threatexchange: single {single:.1f}x, batch {batch:.1f}x")
        print(json.dumps(rows), flush=True)
    if options.import_lines:
        row = in_subprocess("import", str(options.import_lines))
        print(
            f"== import of {row['lines']:,} CSV lines into SQLite: {row['seconds']:.0f} s, "
            f"{row['lines_per_s']:,.0f} lines/s, peak {row['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
