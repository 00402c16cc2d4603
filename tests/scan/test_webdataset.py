"""Webdataset shards: every media member of every sample is checked, in every layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bastion.config import Settings
from bastion.matching import Index
from bastion.scan.engine import ScanPlan, local_engine, run_scan
from bastion.scan.sources import SourceOptions
from tests.scan.fixtures import banked_index, jpeg, png, write_shards, write_tar


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def scan(
    sources: list[str], out: Path, settings: Settings, index: Index | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    plan = ScanPlan(sources, SourceOptions())
    summary = run_scan(plan, out, local_engine(1), index=index, settings=settings)
    return summary, pq.read_table(out / "results.parquet").to_pylist()


def after_hash(item_id: str) -> str:
    return item_id.rsplit(".tar#", 1)[1]


def test_a_banked_png_beside_a_benign_jpg_is_found(tmp_path: Path, settings: Settings) -> None:
    banked = png(7)
    index = banked_index(settings, [banked])
    shard = write_tar(
        tmp_path / "data-000000.tar",
        [
            ("000000.jpg", jpeg(1)),
            ("000000.png", banked),
            ("000000.txt", b"placeholder caption"),
            ("000001.jpg", jpeg(2)),
        ],
    )
    pattern = str(tmp_path / "data-{000000..000000}.tar")
    summary, rows = scan([pattern], tmp_path / "out", settings, index)
    assert [after_hash(r["item_id"]) for r in rows] == ["000000.jpg", "000000.png", "000001.jpg"]
    assert [r["matched"] for r in rows] == [False, True, False]
    assert {r["sample_id"] for r in rows[:2]} == {f"{shard}#000000"}
    assert (summary["matched"], summary["removed_samples"]) == (1, 1)
    assert (tmp_path / "out" / "removal-list.txt").read_text() == f"{shard}#000000\n"


def test_every_matching_member_gives_one_removal_line(tmp_path: Path, settings: Settings) -> None:
    images = [jpeg(1), png(2)]
    index = banked_index(settings, images)
    shard = write_tar(tmp_path / "s-1.tar", [("k.jpg", images[0]), ("k.png", images[1])])
    summary, _ = scan([str(tmp_path / "s-*.tar")], tmp_path / "out", settings, index)
    assert (summary["matched"], summary["removed_samples"]) == (2, 1)
    assert (tmp_path / "out" / "removal-list.txt").read_text() == f"{shard}#k\n"


def test_multi_part_extensions_and_sniffed_media_are_images(
    tmp_path: Path, settings: Settings
) -> None:
    write_tar(
        tmp_path / "d-0.tar",
        [
            ("0002.seg.jpg", jpeg(1)),
            ("0002.json", b"{}"),
            ("0003.bin", jpeg(3)),  # an image under another name
            ("0004.txt", b"text only"),
            ("0005.jpg", b"not an image at all"),
        ],
    )
    summary, rows = scan([str(tmp_path / "d-{0..0}.tar")], tmp_path / "out", settings)
    by_id = {after_hash(r["item_id"]): r for r in rows}
    assert by_id["0002.seg.jpg"]["pdq"] is not None
    assert by_id["0003.bin"]["pdq"] is not None
    assert by_id["0004"]["error_code"] == "sample-without-image"
    assert by_id["0005.jpg"]["error_code"] == "not-an-image"
    assert summary["unchecked"] == 2


def test_non_contiguous_keys_give_one_row_per_key(tmp_path: Path, settings: Settings) -> None:
    write_tar(
        tmp_path / "d-0.tar",
        [
            ("a.jpg", jpeg(1)),
            ("b.txt", b"caption"),
            ("a.txt", b"caption"),  # a comes back: still one sample with an image
            ("c.txt", b"caption"),
            ("b.txt", b"again"),
            ("a.jpg", jpeg(2)),  # a repeated member name
        ],
    )
    summary, rows = scan([str(tmp_path / "d-{0..0}.tar")], tmp_path / "out", settings)
    ids = [after_hash(r["item_id"]) for r in rows]
    assert ids == ["a.jpg", "a.jpg#2", "b", "c"]
    assert [r["status"] for r in rows] == ["hashed", "hashed", "skipped", "skipped"]
    assert summary["seen"] == len(set(ids)) == 4


def test_img2dataset_output_folder_is_scanned_as_shards(tmp_path: Path, settings: Settings) -> None:
    folder = tmp_path / "img2dataset-out"
    folder.mkdir()
    for shard in range(2):
        stem = f"{shard:05d}"
        keys = [f"{stem}{n:04d}" for n in range(3)]
        write_tar(
            folder / f"{stem}.tar", [(f"{k}.jpg", jpeg(10 * shard + n)) for n, k in enumerate(keys)]
        )
        # The metadata img2dataset writes: urls and captions, no image bytes.
        metadata = {"key": keys, "url": ["https://example.invalid/x"] * 3, "caption": ["c"] * 3}
        pq.write_table(pa.table(metadata), folder / f"{stem}.parquet")
        (folder / f"{stem}_stats.json").write_text(json.dumps({"count": 3}))
    summary, rows = scan([str(folder)], tmp_path / "out", settings)
    assert (summary["seen"], summary["hashed"], summary["unchecked"]) == (6, 6, 0)
    assert all(".tar#" in r["item_id"] and r["pdq"] for r in rows)


def test_a_folder_and_a_glob_of_shards_are_webdataset(tmp_path: Path, settings: Settings) -> None:
    pattern = write_shards(tmp_path / "shards", samples=6, per_shard=3)
    del pattern
    for source in (str(tmp_path / "shards"), str(tmp_path / "shards" / "*.tar")):
        out = tmp_path / f"out-{len(source)}"
        summary, rows = scan([source], out, settings)
        assert summary["hashed"] == 6
        assert [r["sample_id"].rsplit("#", 1)[1] for r in rows] == [f"{n:06d}" for n in range(6)]


def test_link_and_special_members_of_a_shard_get_rows(tmp_path: Path, settings: Settings) -> None:
    """A shard's symlink, hardlink or FIFO member is a skipped row, never passed over:
    a sample whose only image is a link must not vanish from the results."""
    import tarfile

    shard = write_tar(tmp_path / "data-000000.tar", [("000000.jpg", jpeg(1))])
    with tarfile.open(shard, "a") as archive:
        for name, kind in (
            ("000001.jpg", tarfile.SYMTYPE),
            ("000002.jpg", tarfile.LNKTYPE),
            ("000003.jpg", tarfile.FIFOTYPE),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "000000.jpg" if kind != tarfile.FIFOTYPE else ""
            archive.addfile(info)
    pattern = str(tmp_path / "data-{000000..000000}.tar")
    summary, rows = scan([pattern], tmp_path / "out", settings)
    reasons = {after_hash(r["item_id"]): r["error_code"] for r in rows if r["status"] == "skipped"}
    assert reasons == {"000001.jpg": "link", "000002.jpg": "link", "000003.jpg": "special-file"}
    assert summary["skipped"] == 3
    assert summary["unchecked"] >= 3
