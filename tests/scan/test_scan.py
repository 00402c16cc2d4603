"""Scans account for every item, whatever the source and however broken it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bastion.config import Settings
from bastion.scan.engine import ScanError, ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceOptions, iter_items
from tests.scan.fixtures import jpeg, write_parquet, write_shards, write_tar, write_zip


@pytest.fixture
def scan_settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", max_archive_bytes=5_000_000)


def scan(
    sources: list[str], out: Path, settings: Settings, workers: int = 1, **options: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    plan = ScanPlan(sources, SourceOptions(**options))
    summary = run_scan(plan, out, local_engine(workers), index=None, settings=settings)
    return summary, pq.read_table(out / "results.parquet").to_pylist()


def assert_accounted(summary: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    assert summary["seen"] == summary["hashed"] + summary["errored"] + summary["skipped"]
    assert summary["seen"] == len(rows)
    ids = [row["item_id"] for row in rows]
    assert len(ids) == len(set(ids)), "an item appears twice"


def short_id(item_id: str) -> str:
    """The member part of ``archive!member`` ids, else the file name."""
    return item_id.split("!", 1)[1] if "!" in item_id else Path(item_id).name


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_hostile_collection_is_fully_accounted(tmp_path: Path, scan_settings: Settings) -> None:
    root = tmp_path / "collection"
    root.mkdir()
    (root / "a.jpg").write_bytes(jpeg(1))
    (root / "broken.jpg").write_bytes(jpeg(2)[:300])
    write_zip(
        root / "bundle.zip",
        [
            ("ok.jpg", jpeg(3)),
            ("../../etc/passwd", jpeg(4)),
            ("/absolute/name.jpg", jpeg(5)),
            ("corrupt.png", b"\x89PNG\r\n\x1a\nnot really"),
            ("bomb.bin", b"\0" * 4_000_000),
        ],
    )
    with zipfile.ZipFile(root / "bundle.zip", "a") as archive:
        archive.writestr("ok.jpg", jpeg(6))  # a duplicate member name
    inner = write_tar(tmp_path / "inner.tar", [("deep.jpg", jpeg(7))])
    write_tar(root / "nested.tar.gz", [("inner.tar", inner.read_bytes())], mode="w:gz")
    truncated = write_tar(tmp_path / "t.tar", [("one.jpg", jpeg(8)), ("two.jpg", jpeg(9))])
    (root / "truncated.tar").write_bytes(truncated.read_bytes()[:-3000])
    (root / "loop").symlink_to(root)
    summary, rows = scan([str(root)], tmp_path / "out", scan_settings)
    assert_accounted(summary, rows)
    by_id = {short_id(row["item_id"]): row for row in rows}
    assert by_id["a.jpg"]["status"] == "hashed"
    assert by_id["broken.jpg"]["status"] == "error"
    assert by_id["../../etc/passwd"]["status"] == "hashed"  # read in place, reported by name
    assert by_id["/absolute/name.jpg"]["status"] == "hashed"
    assert by_id["ok.jpg"]["pdq"] != by_id["ok.jpg#2"]["pdq"]
    assert by_id["corrupt.png"]["status"] == "error"
    assert by_id["bomb.bin"]["error_code"] == "archive-bomb"
    assert by_id["inner.tar!deep.jpg"]["status"] == "hashed"
    assert by_id["one.jpg"]["status"] == "hashed"
    assert by_id[""]["error_code"] == "truncated-archive"
    assert by_id["loop"]["error_code"] == "symlink-loop"
    assert not (tmp_path / "etc").exists()


def test_nesting_depth_is_capped(tmp_path: Path) -> None:
    inner = write_tar(tmp_path / "inner.tar", [("deep.jpg", jpeg(7))])
    outer = write_tar(tmp_path / "outer.tar", [("inner.tar", inner.read_bytes())])
    settings = Settings(home=tmp_path, max_archive_depth=0)
    [item] = iter_items([str(outer)], SourceOptions(), settings)
    assert item.path == outer  # not opened at all: hashed as a file
    settings = Settings(home=tmp_path, max_archive_depth=1)
    [item] = iter_items([str(outer)], SourceOptions(), settings)
    assert item.skipped == "nested-archive-too-deep"


def test_webdataset_samples_by_key(tmp_path: Path, scan_settings: Settings) -> None:
    pattern = write_shards(tmp_path / "shards", samples=25, per_shard=10)
    lonely = tmp_path / "shards" / "data-000002.tar"
    write_tar(lonely, [("000030.jpg", jpeg(30)), ("000031.txt", b"caption only")])
    summary, rows = scan([pattern], tmp_path / "out", scan_settings, workers=2)
    assert_accounted(summary, rows)
    assert summary["hashed"] == 21
    assert summary["skipped"] == 1
    assert rows[0]["item_id"].endswith("data-000000.tar#000000.jpg")
    assert rows[0]["sample_id"].endswith("data-000000.tar#000000")
    assert summary["skipped_by_reason"] == {"sample-without-image": 1}


def test_parquet_with_nulls_and_junk(tmp_path: Path, scan_settings: Settings) -> None:
    images: list[bytes | None] = [jpeg(i) for i in range(20)]
    images[3] = None
    images[5] = b"not an image at all"
    ids = [f"row-{i}" for i in range(20)]
    path = write_parquet(tmp_path / "set.parquet", images, ids)
    summary, rows = scan(
        [str(path)], tmp_path / "out", scan_settings, 2, image_column="jpg", id_column="key"
    )
    assert_accounted(summary, rows)
    # Three row groups of up to 7 rows, scanned as separate units, in order.
    assert [row["item_id"].split("#")[1] for row in rows] == ids
    by_id = {row["item_id"].split("#")[1]: row for row in rows}
    assert by_id["row-3"]["error_code"] == "missing-image"
    assert by_id["row-5"]["status"] == "error"
    assert summary["hashed"] == 18
    # Without an id column, ids are row numbers, counted across row groups.
    _, numbered = scan([str(path)], tmp_path / "numbered", scan_settings, 2)
    assert [row["item_id"].split("#")[1] for row in numbered] == [str(n) for n in range(20)]


def test_refuses_to_clobber_and_checks_resume_plan(tmp_path: Path, scan_settings: Settings) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(1))
    scan([str(tmp_path / "a.jpg")], tmp_path / "out", scan_settings)
    with pytest.raises(ScanError, match="already holds a finished scan"):
        scan([str(tmp_path / "a.jpg")], tmp_path / "out", scan_settings)


_SCAN_SCRIPT = """
import sys
from pathlib import Path
from bastion.config import Settings
from bastion.scan import engine
from bastion.scan.engine import ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceOptions
engine.BATCH_ROWS = 7  # many small parts: kills land between and inside them
plan = ScanPlan([sys.argv[1]], SourceOptions())
settings = Settings(home=Path(sys.argv[2]) / "home")
run_scan(plan, Path(sys.argv[2]), local_engine(2), index=None, settings=settings, resume=True)
"""


@pytest.mark.parametrize("parts_before_kill", [1, 6, 12])
def test_resume_after_sigkill_gives_the_uninterrupted_rows(
    tmp_path: Path, scan_settings: Settings, parts_before_kill: int
) -> None:
    pattern = write_shards(tmp_path / "shards", samples=120, per_shard=30)
    reference, expected = scan([pattern], tmp_path / "reference", scan_settings)
    out = tmp_path / "killed"
    command = [sys.executable, "-c", _SCAN_SCRIPT, pattern, str(out)]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list((out / "parts").glob("u*.parquet"))) < parts_before_kill:
        assert process.poll() is None, "the scan ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "summary.json").exists(), "killed mid-scan"
    subprocess.run(command, check=True, timeout=120)
    rows = pq.read_table(out / "results.parquet").to_pylist()
    assert [(r["item_id"], r["sha256"], r["pdq"]) for r in rows] == [
        (r["item_id"], r["sha256"], r["pdq"]) for r in expected
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seen"] == reference["seen"] == 120
