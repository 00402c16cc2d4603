"""``bastion filter``: the scanned dataset again, without what was removed, counted."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

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
