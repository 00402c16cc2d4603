"""Parquet datasets with the image bytes in a column (LAION-style, Hugging Face style).

Rows are read a record batch at a time.  The image column may hold bytes, or
a struct with a ``bytes`` field (what ``datasets`` writes).  Ids come from
``--id-column`` (``file#<id>``) or the row number (``file#<row>``).  A file
of several row groups is scanned as one unit per group, so workers share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.fingerprint import ItemError
from bastion.scan.items import ScanItem

BATCH_ROWS = 256


def parquet_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.parquet") if p.is_file())
    return [path]


def count_rows(path: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parquet_files(path))


def _image_bytes(value: Any) -> bytes | None:
    if isinstance(value, dict):
        value = value.get("bytes")
    return value if isinstance(value, bytes) else None


def splittable_row_groups(file: Path, image_column: str, id_column: str | None) -> int | None:
    """How many row groups to scan as separate units, or None to scan the file whole.

    Splitting lets workers share one big file.  A file that cannot be opened
    or lacks a column stays whole, so its one error row is reported once.
    """
    try:
        parquet = pq.ParquetFile(file)
        names = parquet.schema_arrow.names
    except (pa.ArrowException, OSError):
        return None
    if any(c and c not in names for c in (image_column, id_column)):
        return None
    groups = parquet.metadata.num_row_groups
    return groups if groups > 1 else None


def iter_parquet(
    file: Path,
    source: str,
    image_column: str,
    id_column: str | None,
    row_group: int | None = None,
) -> Iterator[ScanItem]:
    """The rows of one Parquet file (or of one of its row groups) as items."""
    try:
        table = pq.ParquetFile(file)
        names = table.schema_arrow.names
    except (pa.ArrowException, OSError) as exc:
        yield ScanItem(str(file), source, error=ItemError("corrupt-parquet", str(exc)))
        return
    missing = [c for c in (image_column, id_column) if c and c not in names]
    if missing:
        reason = f"no column {missing[0]!r} (columns: {', '.join(names)})"
        yield ScanItem(str(file), source, error=ItemError("missing-column", reason))
        return
    columns = [image_column] + ([id_column] if id_column else [])
    groups = None if row_group is None else [row_group]
    row = 0 if row_group is None else _rows_before(table, row_group)
    try:
        for batch in table.iter_batches(batch_size=BATCH_ROWS, row_groups=groups, columns=columns):
            images = batch.column(image_column).to_pylist()
            ids = batch.column(id_column).to_pylist() if id_column else None
            for offset, value in enumerate(images):
                label = ids[offset] if ids is not None else row
                here = ScanItem(
                    f"{file}#{label}", source, container=str(file), key=str(label), position=row
                )
                data = _image_bytes(value)
                if label is None:
                    # No id: no loader could drop this row by id, so it is not
                    # passed as checked (``bastion filter`` goes by position).
                    problem = ItemError("null-id", f"row {row} has no {id_column!r}")
                    yield replace(here, item_id=f"{file}#<row {row}>", key=None, error=problem)
                elif data is None:
                    problem = ItemError("missing-image", "the image column is empty here")
                    yield replace(here, error=problem)
                else:
                    yield replace(here, data=data, expect_image=True)
                row += 1
    except (pa.ArrowException, OSError) as exc:
        where = "" if row_group is None else f"row group {row_group}, "
        reason = f"file ends early or is damaged after row {row} ({where}{exc})"
        place = "" if row_group is None else f"group{row_group}"
        yield ScanItem(f"{file}#{place}", source, error=ItemError("corrupt-parquet", reason))


def _rows_before(table: pq.ParquetFile, row_group: int) -> int:
    return sum(table.metadata.row_group(g).num_rows for g in range(row_group))
