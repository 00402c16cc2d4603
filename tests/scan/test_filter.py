"""``bastion filter``: the scanned dataset again, without what was removed, counted."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.hashing import hash_bytes
from tests.scan.fixtures import jpeg, png, write_parquet, write_tar

runner = CliRunner()


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BASTION_DATABASE_URL", raising=False)


def bank(*images: bytes) -> None:
    assert runner.invoke(app, ["bank", "create", "known"]).exit_code == 0
    hashes = [f"md5:{hash_bytes(image).md5}" for image in images]
    assert runner.invoke(app, ["bank", "add", "known", *hashes]).exit_code == 0


def members(shard: Path) -> list[str]:
    with tarfile.open(shard) as archive:
        return archive.getnames()


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    """Two shards: a banked PNG beside a benign JPEG, a broken image, a text-only sample."""
    banked = png(1)
    bank(banked)
    folder = tmp_path / "dataset" / "shards"
    folder.mkdir(parents=True)
    write_tar(
        folder / "00000.tar",
        [
            ("a.jpg", jpeg(2)),
            ("a.txt", b"caption"),
            ("b.jpg", jpeg(3)),
            ("b.png", banked),
            ("b.txt", b"caption"),
        ],
    )
    write_tar(
        folder / "00001.tar",
        [("c.jpg", jpeg(4)[:300]), ("d.txt", b"caption"), ("e.jpg", jpeg(5)), ("e.json", b"{}")],
    )
    return folder


def scan(source: Path, out: Path, *args: str) -> None:
    result = runner.invoke(app, ["scan", str(source), "--out", str(out), *args])
    assert result.exit_code in (0, 1), result.output


def test_filter_removes_matched_and_unchecked_samples(tmp_path: Path, shards: Path) -> None:
    scan(shards, tmp_path / "scan")
    clean = tmp_path / "clean"
    result = runner.invoke(app, ["filter", str(tmp_path / "scan"), "--out", str(clean)])
    assert result.exit_code == 0, result.output
    assert members(clean / "00000.tar") == ["a.jpg", "a.txt"]
    assert members(clean / "00001.tar") == ["e.jpg", "e.json"]
    report = json.loads(result.stdout)
    assert (report["samples_read"], report["kept"], report["removed"]) == (5, 2, 3)
    assert report["removed_by_reason"] == {
        "matched": 1,
        "unchecked-error": 1,
        "unchecked-skipped": 1,
    }
    assert report == json.loads((clean / "filter-report.json").read_text())
    removed = (clean / "removed.txt").read_text().splitlines()
    assert f"matched\t{shards / '00000.tar'}#b" in removed
    assert len(removed) == 3


def test_keeping_unchecked_samples_is_said_and_exits_1(tmp_path: Path, shards: Path) -> None:
    scan(shards, tmp_path / "scan")
    clean = tmp_path / "clean"
    args = ["filter", str(tmp_path / "scan"), "--out", str(clean), "--keep-unchecked"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["kept_unchecked"] == 2
    assert members(clean / "00001.tar") == ["c.jpg", "d.txt", "e.jpg", "e.json"]


def test_a_shard_changed_since_the_scan_does_not_add_up(tmp_path: Path, shards: Path) -> None:
    scan(shards, tmp_path / "scan")
    write_tar(shards / "00000.tar", [("a.jpg", jpeg(2)), ("z.jpg", jpeg(9))])
    result = runner.invoke(app, ["filter", str(tmp_path / "scan"), "--out", str(tmp_path / "c")])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert any("1 samples the scan has no rows for" in problem for problem in problems)
    assert any("1 scanned samples not found" in problem for problem in problems)
    assert members(tmp_path / "c" / "00000.tar") == ["a.jpg"]


def test_parquet_rows_are_dropped_by_position(tmp_path: Path) -> None:
    images = [jpeg(n) for n in range(6)]
    bank(images[2], images[4])
    ids = ["r0", "r1", "same", None, "same", "r5"]
    (tmp_path / "in").mkdir()
    data = write_parquet(tmp_path / "in" / "d.parquet", list(images), ids)  # type: ignore[arg-type]
    scan(data, tmp_path / "scan", "--id-column", "key")
    clean = tmp_path / "clean"
    result = runner.invoke(app, ["filter", str(tmp_path / "scan"), "--out", str(clean)])
    assert result.exit_code == 0, result.output
    kept = pq.read_table(clean / "d.parquet")
    assert kept.column("key").to_pylist() == ["r0", "r1", "r5"]
    assert kept.schema == pq.read_table(data).schema
    report = json.loads(result.stdout)
    assert report["removed_by_reason"] == {"matched": 2, "unchecked-error": 1}


def test_filter_refuses_what_it_cannot_use(tmp_path: Path, shards: Path) -> None:
    missing = runner.invoke(app, ["filter", str(tmp_path), "--out", str(tmp_path / "c")])
    assert missing.exit_code == 2
    assert "holds no finished scan" in " ".join(missing.stderr.split())
    scan(shards, tmp_path / "scan")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    taken = runner.invoke(app, ["filter", str(tmp_path / "scan"), "--out", str(tmp_path / "full")])
    assert taken.exit_code == 2
    assert "is not empty" in " ".join(taken.stderr.split())


#: img2dataset's metadata columns (its writer's schema), a caption column included.
_META_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("caption", pa.string()),
        ("key", pa.string()),
        ("status", pa.string()),
        ("error_message", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
    ]
)


def write_img2dataset_shard(
    folder: Path, shard: int, samples: list[tuple[str, bytes | None]]
) -> None:
    """``NNNNN.tar`` + ``NNNNN.parquet`` + ``NNNNN_stats.json`` as img2dataset writes them.

    A sample without bytes failed to download: a metadata row, no member.
    """
    name = f"{shard:05d}"
    members = [
        member
        for key, image in samples
        if image is not None
        for member in ((f"{key}.jpg", image), (f"{key}.txt", b"caption"), (f"{key}.json", b"{}"))
    ]
    write_tar(folder / f"{name}.tar", members)
    ok = [image is not None for _, image in samples]
    table = pa.table(
        {
            "url": [f"http://127.0.0.1/{key}.jpg" for key, _ in samples],
            "caption": ["placeholder words"] * len(samples),
            "key": [key for key, _ in samples],
            "status": ["success" if good else "failed_to_download" for good in ok],
            "error_message": [None if good else "placeholder error" for good in ok],
            "width": [160 if good else None for good in ok],
            "height": [120 if good else None for good in ok],
        },
        schema=_META_SCHEMA,
    )
    pq.write_table(table, folder / f"{name}.parquet")
    stats = {
        "count": len(samples),
        "successes": sum(ok),
        "failed_to_download": len(samples) - sum(ok),
        "failed_to_resize": 0,
        "duration": 1.5,
        "start_time": 100.0,
        "end_time": 101.5,
        "status_dict": {"success": sum(ok), "placeholder error": len(samples) - sum(ok)},
    }
    (folder / f"{name}_stats.json").write_text(json.dumps(stats, indent=4))


@pytest.fixture
def img2dataset(tmp_path: Path) -> Path:
    """Two shards: the first holds a banked image and a failed download, the second is clean."""
    banked = jpeg(11)
    bank(banked)
    folder = tmp_path / "laion"
    folder.mkdir()
    write_img2dataset_shard(
        folder,
        0,
        [
            ("000000000", jpeg(10)),
            ("000000001", banked),
            ("000000002", None),
            ("000000003", jpeg(12)),
        ],
    )
    write_img2dataset_shard(folder, 1, [("000010000", jpeg(13)), ("000010001", jpeg(14))])
    return folder


def filter_img2dataset(tmp_path: Path, folder: Path) -> tuple[int, dict[str, Any]]:
    scan(folder, tmp_path / "scan")
    clean = tmp_path / "clean"
    result = runner.invoke(app, ["filter", str(tmp_path / "scan"), "--out", str(clean)])
    report = json.loads(result.stdout)
    assert report == json.loads((clean / "filter-report.json").read_text())
    metadata = report["metadata"]
    said = (
        f"{metadata['files']} Parquet files, {metadata['rows_dropped']} of "
        f"{metadata['rows_read']} rows dropped; {metadata['stats_files']} stats files"
    )
    assert said in " ".join(result.stderr.split())
    return result.exit_code, report


def test_img2dataset_metadata_loses_the_removed_samples_rows(
    tmp_path: Path, img2dataset: Path
) -> None:
    code, report = filter_img2dataset(tmp_path, img2dataset)
    assert code == 0, report
    clean = tmp_path / "clean"
    assert members(clean / "00000.tar") == [
        f"{key}.{ext}" for key in ("000000000", "000000003") for ext in ("jpg", "txt", "json")
    ]
    metadata = pq.read_table(clean / "00000.parquet")
    assert metadata.schema == pq.read_table(img2dataset / "00000.parquet").schema
    assert metadata.column("key").to_pylist() == ["000000000", "000000002", "000000003"]
    assert metadata.column("status").to_pylist() == ["success", "failed_to_download", "success"]
    assert pq.read_table(clean / "00001.parquet").equals(
        pq.read_table(img2dataset / "00001.parquet")
    )
    stats = json.loads((clean / "00000_stats.json").read_text())
    original = json.loads((img2dataset / "00000_stats.json").read_text())
    assert (stats["count"], stats["successes"], stats["status_dict"]["success"]) == (3, 2, 2)
    unchanged = ("failed_to_download", "failed_to_resize", "duration", "start_time", "end_time")
    assert all(stats[name] == original[name] for name in unchanged)
    assert stats["status_dict"]["placeholder error"] == 1
    assert json.loads((clean / "00001_stats.json").read_text()) == json.loads(
        (img2dataset / "00001_stats.json").read_text()
    )
    assert report["metadata"] == {
        "files": 2,
        "rows_read": 6,
        "rows_kept": 5,
        "rows_dropped": 1,
        "stats_files": 2,
    }
    assert report["removed_by_reason"] == {"matched": 1}


def _rewrite_metadata(folder: Path, keys: list[str]) -> None:
    """The first shard's metadata with these rows (by key, repeats allowed), schema kept."""
    table = pq.read_table(folder / "00000.parquet")
    rows = {row["key"]: row for row in table.to_pylist()}
    pq.write_table(
        pa.Table.from_pylist([rows[key] for key in keys], schema=table.schema),
        folder / "00000.parquet",
    )


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (["000000000", "000000002", "000000003"], "1 removed samples have no metadata row"),
        (
            ["000000000", "000000001", "000000001", "000000002", "000000003"],
            "2 metadata rows dropped for 1 removed samples",
        ),
    ],
    ids=["row-missing", "row-repeated"],
)
def test_metadata_that_does_not_match_the_removals_is_a_problem(
    tmp_path: Path, img2dataset: Path, keys: list[str], problem: str
) -> None:
    _rewrite_metadata(img2dataset, keys)
    code, report = filter_img2dataset(tmp_path, img2dataset)
    assert code == 1
    assert any(problem in line for line in report["problems"]), report["problems"]
    kept = pq.read_table(tmp_path / "clean" / "00000.parquet").column("key").to_pylist()
    assert "000000001" not in kept


def test_metadata_naming_samples_the_shard_lacks_is_a_problem(
    tmp_path: Path, img2dataset: Path
) -> None:
    table = pq.read_table(img2dataset / "00001.parquet")
    extra = {**table.to_pylist()[0], "key": "000010002"}
    pq.write_table(
        pa.Table.from_pylist([*table.to_pylist(), extra], schema=table.schema),
        img2dataset / "00001.parquet",
    )
    code, report = filter_img2dataset(tmp_path, img2dataset)
    assert code == 1
    assert any(
        "1 metadata rows say success but the shard has no such sample" in line
        for line in report["problems"]
    ), report["problems"]


def test_metadata_that_cannot_be_filtered_is_not_copied(tmp_path: Path, img2dataset: Path) -> None:
    table = pq.read_table(img2dataset / "00000.parquet").drop_columns(["key"])
    pq.write_table(table, img2dataset / "00000.parquet")
    (img2dataset / "00001_stats.json").write_text("{not json")
    code, report = filter_img2dataset(tmp_path, img2dataset)
    assert code == 1
    clean = tmp_path / "clean"
    assert not (clean / "00000.parquet").exists()
    assert not (clean / "00001_stats.json").exists()
    assert (clean / "00001.parquet").exists()
    problems = " ".join(report["problems"])
    assert "has no 'key' column" in problems
    assert "00001_stats.json" in problems
