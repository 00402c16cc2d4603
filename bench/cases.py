"""Cases at scale: clustering a case's items, Bastion vs all-pairs brute force vs faiss.

Usage:  PYTHONPATH=src:. python bench/cases.py [--sections clusters]
            [--sizes 100000 1000000] [--brute-size 50000]
            [--faiss-flat-max 1000000] [--faiss-hash-max 1000000] [--workers N]

Sections (``--sections``, default all):

  clusters  bastion.cases.clusters.cluster on synthetic cases of --sizes
            items, read from a results.parquet as a case reads its scan.

The cases look like a seized drive, not uniform noise: clusters of
near-duplicates (a seed image and variants 1-40 bits away, cluster sizes
geometric up to 40, so most images appear once), 15 % of the variants exact
copies of their seed (same SHA-256 and PDQ), 2 % low-quality rows whose PDQ
are a few bits from a handful of flat hashes (linked only by SHA-256, which
they do not share), 1 % error rows without hashes; in random order.  PDQ
radius 31, the banks' default.

Each method runs in its own subprocess, so its peak memory (ru_maxrss) is
its own; each reads the same Parquet file with ClusterInput.from_parquet
(the read is timed apart) and writes its labels, which are compared here:

  bastion     cluster(): SHA-256 and identical PDQ grouped by sorting, the
              PdqMultiIndex over the distinct codes, scipy components
  brute       brute_force_clusters(), the reference of the tests (every pair
              of PDQ compared by popcount, one numpy row at a time; plain
              union-find), at --brute-size only: it is quadratic
  faiss-flat  faiss.IndexBinaryFlat.range_search of every linkable code
              against all of them (exhaustive), SHA-256 grouped by
              np.unique, scipy components; up to --faiss-flat-max items
  faiss-hash  the same with faiss.IndexBinaryMultiHash (16 tables of 16
              bits, one bit flipped per table: exact at radius 31, the
              index python-threatexchange uses); up to --faiss-hash-max
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench.matching import _flip_vectorised

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache" / "cases"
RADIUS = 31
#: Per item: how it was made (the generator's mix, see the module docstring).
COPY_SHARE, LOW_QUALITY_SHARE, ERROR_SHARE = 0.15, 0.02, 0.01
REQUIRED_SECONDS, REQUIRED_MB = 300, 2048


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the synthetic case -----------------------------------------------------------------


def case_path(size: int) -> Path:
    return CACHE / f"case-{size}.parquet"


def make_case(size: int) -> Path:
    """A results.parquet of ``size`` items (see the module docstring), built once."""
    path = case_path(size)
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bastion.scan.results import SCHEMA

    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(size)
    sizes = np.minimum(rng.geometric(0.35, size=size), 40)
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), size) + 1]
    seeds = rng.integers(0, 2**64, size=(len(sizes), 4), dtype=np.uint64)
    seed_of = np.repeat(np.arange(len(sizes)), sizes)[:size]
    is_seed = np.r_[True, seed_of[1:] != seed_of[:-1]]
    is_copy = ~is_seed & (rng.random(size) < COPY_SHARE)
    flips = np.where(is_seed | is_copy, 0, rng.integers(1, 41, size=size))
    pdq = _flip_vectorised(seeds[seed_of], flips, rng)
    sha256 = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    first_of_seed = np.flatnonzero(is_seed)[np.cumsum(is_seed) - 1]
    sha256[is_copy] = sha256[first_of_seed[is_copy]]
    kind = rng.random(size)
    low_quality = kind < LOW_QUALITY_SHARE
    flat = rng.integers(0, 2**64, size=(8, 4), dtype=np.uint64)
    pdq[low_quality] = _flip_vectorised(
        flat[rng.integers(0, len(flat), size=int(low_quality.sum()))],
        rng.integers(0, 6, size=int(low_quality.sum())),
        rng,
    )
    error = (kind >= LOW_QUALITY_SHARE) & (kind < LOW_QUALITY_SHARE + ERROR_SHARE)
    order = rng.permutation(size)
    hexes = {
        "sha256": [row.tobytes().hex() for row in sha256[order]],
        "pdq": [row.tobytes().hex() for row in pdq[order].astype(">u8")],
    }
    error = error[order]
    columns: dict[str, Any] = {
        "item_id": [f"item-{n}" for n in range(size)],
        "status": np.where(error, "error", "hashed").tolist(),
        "sha256": [None if e else h for e, h in zip(error, hexes["sha256"], strict=True)],
        "pdq": [None if e else h for e, h in zip(error, hexes["pdq"], strict=True)],
        "low_quality": np.where(error, None, low_quality[order]).tolist(),
    }
    arrays = [
        pa.array(columns[field.name], field.type)
        if field.name in columns
        else pa.nulls(size, field.type)
        for field in SCHEMA
    ]
    temporary = path.with_suffix(".tmp")
    pq.write_table(pa.Table.from_arrays(arrays, schema=SCHEMA), temporary)
    temporary.rename(path)
    return path


# --- one method, in its own process -----------------------------------------------------


def labels_path(method: str, size: int) -> Path:
    return CACHE / f"labels-{method}-{size}.npy"


def run(method: str, size: int, workers: int | None) -> dict[str, Any]:
    from bastion.cases.clusters import ClusterInput, brute_force_clusters, cluster

    started = time.perf_counter()
    data = ClusterInput.from_parquet([case_path(size)])
    result: dict[str, Any] = {"method": method, "size": size}
    result["read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    if method == "bastion":
        labels = cluster(data, pdq_radius=RADIUS, workers=workers)
        result["workers"] = workers
    elif method == "brute":
        labels = brute_force_clusters(data, pdq_radius=RADIUS)
    else:
        labels = faiss_clusters(data, flat=method == "faiss-flat")
    result["cluster_s"] = time.perf_counter() - started
    result["peak_mb"] = peak_mb()
    sizes = np.bincount(labels)
    result["clusters"] = int((sizes > 0).sum())
    result["items_in_shared_clusters"] = int(sizes[sizes > 1].sum())
    result["largest_cluster"] = int(sizes.max(initial=0))
    np.save(labels_path(method, size), labels)
    return result


def faiss_clusters(data: Any, *, flat: bool) -> np.ndarray:
    """Range search of every linkable PDQ against all of them, SHA-256 by np.unique,
    then scipy components (the labels contract of cluster())."""
    import faiss
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    linkable = np.flatnonzero(data.pdq_linkable)
    codes = np.ascontiguousarray(data.pdq[linkable].astype(">u8")).view(np.uint8)
    if flat:
        index = faiss.IndexBinaryFlat(256)
    else:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = RADIUS // 16
    index.add(codes)
    limits, _, found = index.range_search(codes, RADIUS + 1)  # faiss: distance < threshold
    queries = np.repeat(np.arange(len(codes)), np.diff(limits.astype(np.int64)))
    with_sha = np.flatnonzero(data.has_sha256)
    digests = np.ascontiguousarray(data.sha256[with_sha]).view(np.dtype((np.void, 32))).ravel()
    _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    left = np.concatenate([linkable[queries], with_sha])
    right = np.concatenate([linkable[found], with_sha[first[inverse.ravel()]]])
    graph = coo_array((np.ones(len(left), dtype=np.int8), (left, right)), shape=(data.size,) * 2)
    _, component = connected_components(graph.tocsr(), directed=False)
    _, first_row, by_row = np.unique(component, return_index=True, return_inverse=True)
    return first_row[by_row].astype(np.int64)


def in_subprocess(method: str, size: int, workers: int | None) -> dict[str, Any]:
    args = [sys.executable, __file__, "--run", method, str(size), str(workers or 0)]
    output = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True)
    return dict(json.loads(output.stdout.strip().splitlines()[-1]))


def identical(method: str, size: int) -> bool:
    return bool(
        np.array_equal(np.load(labels_path(method, size)), np.load(labels_path("bastion", size)))
    )


# --- sections ---------------------------------------------------------------------------


def clusters_section(options: argparse.Namespace) -> dict[str, Any]:
    """cluster() at each size against brute force (at --brute-size) and faiss."""
    figures: dict[str, Any] = {}
    sizes = sorted({*options.sizes, options.brute_size})
    for size in sizes:
        print(f"== clusters of {size:,} items (PDQ radius {RADIUS})", flush=True)
        make_case(size)
        rows = {"bastion": in_subprocess("bastion", size, options.workers)}
        skipped = []
        for method, limit, reason in (
            ("brute", options.brute_size, "quadratic, run at --brute-size only"),
            ("faiss-flat", options.faiss_flat_max, "above --faiss-flat-max"),
            ("faiss-hash", options.faiss_hash_max, "above --faiss-hash-max"),
        ):
            if size == limit or (size < limit and method != "brute"):
                rows[method] = in_subprocess(method, size, None)
                rows[method]["identical"] = identical(method, size)
            else:
                skipped.append(f"{method} ({reason})")
        print("method       read s  cluster s  peak MB  clusters  in shared  largest")
        for method, row in rows.items():
            print(
                f"{method:<11} {row['read_s']:7.1f} {row['cluster_s']:10.1f} {row['peak_mb']:8.0f}"
                f" {row['clusters']:9,} {row['items_in_shared_clusters']:10,}"
                f" {row['largest_cluster']:8,}",
                flush=True,
            )
        bastion = rows["bastion"]
        for method, row in rows.items():
            if method != "bastion":
                row["time_vs_bastion"] = row["cluster_s"] / bastion["cluster_s"]
                print(
                    f"{method} time / bastion time: {row['time_vs_bastion']:.2f}; "
                    f"identical: {'yes' if row['identical'] else 'no'}"
                )
        if skipped:
            print(f"skipped: {'; '.join(skipped)}")
        if size >= 1_000_000:
            total = bastion["read_s"] + bastion["cluster_s"]
            met = total <= REQUIRED_SECONDS and bastion["peak_mb"] <= REQUIRED_MB
            print(
                f"requirement at 1 M (<= {REQUIRED_SECONDS} s, <= {REQUIRED_MB} MB): read + "
                f"cluster {total:.0f} s, peak {bastion['peak_mb']:.0f} MB: "
                f"{'met' if met else 'NOT met'}",
                flush=True,
            )
        figures[str(size)] = rows
    return figures


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "clusters": clusters_section,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--brute-size", type=int, default=50_000)
    parser.add_argument("--faiss-flat-max", type=int, default=1_000_000)
    parser.add_argument("--faiss-hash-max", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None, help="cluster() search threads")
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.run:
        method, size, workers = options.run
        print(json.dumps(run(method, int(size), int(workers) or None)))
        return
    figures = {name: SECTIONS[name](options) for name in options.sections}
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
