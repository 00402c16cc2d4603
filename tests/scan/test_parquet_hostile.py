"""Hostile Parquet: a few kilobytes standing for gigabytes of cells stay bounded, row by row."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bastion.config import Settings
from bastion.scan.parquet import iter_parquet
from tests.scan.fixtures import jpeg
from tests.scan.measure import scan_in_fresh_process


def shared_cells(path: Path, rows: int, cell_bytes: int) -> Path:
    """``rows`` cells of one ``cell_bytes`` value, dictionary-encoded, with no Arrow schema kept
    (so a reader sees a plain binary column)."""
    cells = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), [bytes(cell_bytes)])
    pq.write_table(pa.table({"jpg": cells}), path, compression="zstd", store_schema=False)
    return path


def one_huge_cell(path: Path, cell_bytes: int) -> Path:
    """A row of a small image, then one whose cell is ``cell_bytes`` zeros, zstd-compressed."""
    schema = pa.schema([("jpg", pa.large_binary())])
    zeros = pa.py_buffer(bytes(cell_bytes))  # calloc'd: untouched pages cost no memory
    offsets = pa.array([0, cell_bytes], pa.int64()).buffers()[1]
    huge = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, offsets, zeros])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        writer.write_table(pa.table({"jpg": pa.array([jpeg(1)], pa.large_binary())}))
        writer.write_table(pa.table({"jpg": huge}))
    return path


@pytest.mark.slow  # hashes 2 GiB
def test_dictionary_encoded_cells_are_read_without_expanding(tmp_path: Path) -> None:
    path = shared_cells(tmp_path / "d.parquet", rows=256, cell_bytes=8 << 20)
    assert path.stat().st_size < 2000
    result = scan_in_fresh_process(path, tmp_path / "out")
    rows = result["rows"]
    assert len(rows) == 256
    assert {row["error_code"] for row in rows} == {"not-an-image"}  # zeros: each checked
    assert result["peak_mb"] < 500, result["peak_mb"]


@pytest.mark.slow  # compresses 1.5 GiB
def test_a_page_over_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    path = one_huge_cell(tmp_path / "h.parquet", cell_bytes=3 << 29)  # 1.5 GiB
    assert path.stat().st_size < 200_000
    result = scan_in_fresh_process(path, tmp_path / "out")
    codes = {row["item_id"].rsplit("#", 1)[1]: row["error_code"] for row in result["rows"]}
    assert codes == {"0": None, "1": "file-too-large"}
    assert result["peak_mb"] < 500, result["peak_mb"]


def test_row_group_with_a_page_over_the_limit_gives_every_row_an_error(tmp_path: Path) -> None:
    table = pa.table({"key": ["a", "b", "c"], "jpg": pa.array([jpeg(4), jpeg(5), jpeg(6)])})
    pq.write_table(table, tmp_path / "g.parquet", row_group_size=2)
    settings = Settings(home=tmp_path, max_file_bytes=len(jpeg(6)) + 100)
    items = list(iter_parquet(tmp_path / "g.parquet", "s", "jpg", "key", settings=settings))
    assert [item.item_id.rsplit("#", 1)[1] for item in items] == ["a", "b", "c"]
    assert [item.error.code if item.error else None for item in items] == [
        "file-too-large",
        "file-too-large",
        None,
    ]


def test_struct_image_column_keeps_working(tmp_path: Path) -> None:
    images = [{"bytes": jpeg(7), "path": "x.jpg"}, {"bytes": None, "path": "y.jpg"}]
    pq.write_table(pa.table({"image": images}), tmp_path / "s.parquet")
    items = list(iter_parquet(tmp_path / "s.parquet", "s", "image", None))
    assert items[0].data == jpeg(7)
    assert items[1].error is not None
    assert items[1].error.code == "missing-image"
